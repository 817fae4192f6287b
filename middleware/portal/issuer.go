package portal

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// localIssuer issues sealed, single-use tickets for this portal.
//
// Issue needs every field a ticket is bound to: AppSlug, Tenant, Subject and
// EmbedderOrigin. A caller that only knows the app (Wacht's POST
// /session/tickets names a slug and an optional user) looks the app up and
// passes its Tenant and one of its AllowedOrigins.
type localIssuer struct{ p *Portal }

// Issue checks that the app exists (or provisions it: see Portal.Issuer), is
// usable, belongs to req.Tenant and allows req.EmbedderOrigin, and that the
// ticket fits the exchange's bound on its length (ticket.ErrRejected
// otherwise), then seals a
// ticket that expires after req.TTL (ticket.DefaultTTL when zero, at most
// Config.MaxTicketTTL). A store failure is ticket.ErrUnavailable.
func (i *localIssuer) Issue(ctx context.Context, req ticket.Request) (ticket.Response, error) {
	p := i.p
	switch {
	case req.AppSlug == "":
		return ticket.Response{}, fmt.Errorf("%w: portal: no app slug", ticket.ErrRejected)
	case req.Tenant == "":
		return ticket.Response{}, fmt.Errorf("%w: portal: no tenant", ticket.ErrRejected)
	case req.Subject == "":
		return ticket.Response{}, fmt.Errorf("%w: portal: no subject", ticket.ErrRejected)
	}
	origin, err := ticket.ParseOrigin(req.EmbedderOrigin)
	if err != nil {
		return ticket.Response{}, fmt.Errorf("%w: portal: embedder origin: %v", ticket.ErrRejected, err)
	}
	app, err := p.apps.get(ctx, req.AppSlug)
	if errors.Is(err, keystore.ErrNotFound) && i.provisions(req) {
		app, err = i.provision(ctx, req, origin)
	}
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return ticket.Response{}, fmt.Errorf("%w: portal: app %q does not exist", ticket.ErrRejected, req.AppSlug)
	case errors.Is(err, ticket.ErrRejected), errors.Is(err, ticket.ErrUnavailable):
		return ticket.Response{}, err
	case err != nil:
		return ticket.Response{}, fmt.Errorf("%w: portal: look up app %q: %v", ticket.ErrUnavailable, req.AppSlug, err)
	case !app.Usable():
		return ticket.Response{}, fmt.Errorf("%w: portal: app %q is disabled or deleted", ticket.ErrRejected, req.AppSlug)
	case app.Tenant != req.Tenant:
		return ticket.Response{}, fmt.Errorf("%w: portal: app %q does not belong to tenant %q", ticket.ErrRejected, req.AppSlug, req.Tenant)
	case !originAllowed(app, origin):
		return ticket.Response{}, fmt.Errorf("%w: portal: origin %s may not embed app %q", ticket.ErrRejected, origin, req.AppSlug)
	}

	ttl := req.TTL
	if ttl <= 0 {
		ttl = ticket.DefaultTTL
	}
	ttl = min(ttl, p.maxTTL)
	// Round up to whole seconds: expires_at is in unix seconds.
	exp := p.now().Add(ttl).Add(time.Second - 1).Unix()

	tk, err := p.tickets.seal(ctx, claims{
		ID:       newRandomID(),
		App:      app.Slug,
		Tenant:   app.Tenant,
		User:     req.Subject,
		Origin:   origin,
		Resource: req.Resource,
		Object:   req.Object,
		Action:   req.Action,
		Exp:      exp,
	})
	if errors.Is(err, errTooLong) {
		return ticket.Response{}, fmt.Errorf("%w: portal: the subject, tenant, origin, resource and policy question are too long for a ticket", ticket.ErrRejected)
	}
	if err != nil {
		return ticket.Response{}, fmt.Errorf("%w: %v", ticket.ErrUnavailable, err)
	}
	return ticket.Response{
		Ticket:    tk,
		ExpiresAt: exp,
		URL:       p.TicketURL(tk),
	}, nil
}

// TicketURL returns the page URL that exchanges tk:
// BaseURL + "/vanity/api-auth?ticket=" + tk.
func (p *Portal) TicketURL(tk string) string {
	return p.baseURL + PagePath + "?ticket=" + url.QueryEscape(tk)
}

var _ ticket.Issuer = (*localIssuer)(nil)
