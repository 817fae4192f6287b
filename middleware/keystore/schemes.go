package keystore

import (
	"context"
	"errors"
	"time"

	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// ErrInUse means a rate-limit scheme cannot be deleted because an app
// (active or disabled, not deleted) still names it.
var ErrInUse = errors.New("keystore: in use")

// Scheme is a rate-limit scheme, in Wacht's shape: named rules that an app
// applies by naming the scheme in its RateLimitSchemeSlug. RequireAPIKey
// and /v1/authz/check count an app's keys against its scheme's rules (see
// ratelimit.SchemeRule for their meaning).
type Scheme struct {
	// ID is the store's id of the scheme ("rls_..."); Slug names it.
	ID string `json:"id"`
	// DeploymentID is Wacht's field; keyportal keeps it empty.
	DeploymentID string `json:"deployment_id"`
	// Slug is what apps name the scheme by: 1-64 characters of a-z, 0-9,
	// _ and -. It cannot be changed.
	Slug string `json:"slug"`
	// Name is shown to people. Required.
	Name string `json:"name"`
	// Description is optional.
	Description string `json:"description,omitempty"`
	// Rules are the scheme's rules (at most ratelimit.MaxSchemeRules).
	Rules     []ratelimit.SchemeRule `json:"rules"`
	CreatedAt time.Time              `json:"created_at"`
	UpdatedAt time.Time              `json:"updated_at"`
}

// SchemePatch changes some fields of a scheme; nil fields stay as they
// are.
type SchemePatch struct {
	Name        *string
	Description *string
	Rules       *[]ratelimit.SchemeRule
}

// Schemes manages rate-limit schemes. Every change reaches subscribers as
// Change{} (anything may have changed): caches of verified keys, which hold
// their app's rules, drop everything, on this instance at once and on
// others through the change feed.
type Schemes interface {
	// CreateScheme stores a new scheme (its ID and timestamps are
	// ignored); ErrConflict if the slug is taken, ErrInvalid if a field or
	// rule breaks a rule.
	CreateScheme(ctx context.Context, s Scheme) (Scheme, error)
	// GetScheme returns the scheme; ErrNotFound if there is none.
	GetScheme(ctx context.Context, slug string) (Scheme, error)
	// ListSchemes returns every scheme, oldest first.
	ListSchemes(ctx context.Context) ([]Scheme, error)
	// UpdateScheme applies the patch; ErrNotFound for an unknown scheme.
	UpdateScheme(ctx context.Context, slug string, p SchemePatch) (Scheme, error)
	// DeleteScheme deletes the scheme; ErrInUse (a *SchemeInUseError) when
	// an app that is not deleted names it.
	DeleteScheme(ctx context.Context, slug string) error
}

// SchemeInUseError is DeleteScheme's refusal: errors.Is(err, ErrInUse).
type SchemeInUseError struct {
	// Slug is the scheme; Apps the slugs of (some of) the apps naming it.
	Slug string
	Apps []string
}

func (e *SchemeInUseError) Error() string {
	msg := "rate-limit scheme " + quote(e.Slug) + " is used by app"
	if len(e.Apps) > 1 {
		msg += "s"
	}
	for i, a := range e.Apps {
		if i > 0 {
			msg += ","
		}
		msg += " " + quote(a)
	}
	return msg + ": change their rate_limit_scheme_slug first"
}

// Is reports whether target is ErrInUse.
func (e *SchemeInUseError) Is(target error) bool { return target == ErrInUse }

func quote(s string) string { return `"` + s + `"` }
