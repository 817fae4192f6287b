package apikey

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// schemeGetter is the part of keystore.Store that reads rate-limit
// schemes; a Verifier whose Keys has it applies apps' schemes.
type schemeGetter interface {
	GetScheme(ctx context.Context, slug string) (keystore.Scheme, error)
}

// appLimits compiles the rules of app: those of the scheme it names
// (counted in the scheme's namespace, named "<scheme>[i]") and its own
// rate_limits (in the app's, named "rate_limits[i]"); nil when it has
// none. A scheme the store cannot read makes the key's verification
// unavailable, as a failed key lookup does. A scheme that does not exist
// (an app that named it before schemes were checked) or rules that no
// longer compile are logged and not applied: limits guard capacity, not
// access.
func (v *Verifier) appLimits(ctx context.Context, app keystore.App) (*ratelimit.Limits, error) {
	var sets []ratelimit.RuleSet
	if slug := app.RateLimitSchemeSlug; slug != "" && v.schemes != nil {
		x, err := v.schemes.GetScheme(ctx, slug)
		switch {
		case errors.Is(err, keystore.ErrNotFound):
			v.log.Warn().Str("app_slug", app.Slug).Str("scheme", slug).
				Msg("apikey: the app names a rate-limit scheme that does not exist; its rules are not applied")
		case err != nil:
			v.log.Error().Err(err).Str("scheme", slug).Msg("apikey: reading the app's rate-limit scheme failed")
			return nil, fmt.Errorf("%w: rate-limit scheme: %v", ErrUnavailable, err)
		default:
			sets = append(sets, ratelimit.RuleSet{Name: slug, Namespace: "scheme:" + slug, Rules: x.Rules})
		}
	}
	if len(app.RateLimits) > 0 {
		sets = append(sets, ratelimit.RuleSet{Name: "rate_limits", Namespace: "app:" + app.Slug, Rules: app.RateLimits})
	}
	if len(sets) == 0 {
		return nil, nil
	}
	l, err := ratelimit.Compile(sets...)
	if err != nil {
		v.log.Error().Err(err).Str("app_slug", app.Slug).Msg("apikey: the app's stored rate limits do not compile; not applied")
		return nil, nil
	}
	return l, nil
}
