package portal

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// DefaultKeyPrefix is the key prefix of a provisioned app when
// Config.NewApp gives none: the tenant lower-cased, every character other
// than a-z, 0-9 and _ replaced by _, cut to 32 characters; "key" when
// nothing is left.
func DefaultKeyPrefix(tenant string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(tenant) {
		if b.Len() == 32 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if s := strings.Trim(b.String(), "_"); s != "" {
		return s
	}
	return "key"
}

// provisions reports whether req may create its app: provisioning is on,
// and req carries the decision of the ticket route (a caller that decided
// nothing, such as the backend API, never creates an app).
func (i *localIssuer) provisions(req ticket.Request) bool {
	return i.p.provision && req.Object != "" && req.Action != ""
}

// provision creates req's app for req.Tenant, embeddable from origin, and
// returns it; when another request or instance created it first, it
// returns that app, which Issue then checks like any other.
func (i *localIssuer) provision(ctx context.Context, req ticket.Request, origin string) (keystore.App, error) {
	p := i.p
	var app keystore.App
	if p.newApp != nil {
		app = p.newApp(req)
	}
	app.Slug, app.DeploymentID, app.Tenant, app.AllowedOrigins = req.AppSlug, req.Resource, req.Tenant, []string{origin}
	if app.Name == "" {
		app.Name = "API keys for " + req.Object
	}
	if app.KeyPrefix == "" {
		app.KeyPrefix = DefaultKeyPrefix(req.Tenant)
	}
	created, err := p.store.CreateApp(ctx, app, keystore.Actor{Name: req.Subject})
	switch {
	case err == nil:
		p.log.Info().Str("event", "app.provisioned").Str("app_slug", created.Slug).Str("tenant", created.Tenant).
			Str("user", req.Subject).Str("origin", origin).Msg("app created on its first authorized ticket")
		return created, nil
	case errors.Is(err, keystore.ErrConflict):
		return p.store.GetApp(ctx, req.AppSlug)
	case errors.Is(err, keystore.ErrInvalid):
		return keystore.App{}, fmt.Errorf("%w: portal: provision app %q: %v", ticket.ErrRejected, req.AppSlug, err)
	default:
		return keystore.App{}, fmt.Errorf("%w: portal: provision app %q: %v", ticket.ErrUnavailable, req.AppSlug, err)
	}
}
