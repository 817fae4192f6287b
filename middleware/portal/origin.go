package portal

import (
	"net/http"
	"net/url"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// allowedOrigins returns the app's allowed embedder origins, serialized
// (ticket.ParseOrigin, safe inside a CSP header); entries the rule refuses
// (stored before the store checked with it) are dropped.
func allowedOrigins(app keystore.App) []string {
	out := make([]string, 0, len(app.AllowedOrigins))
	for _, o := range app.AllowedOrigins {
		if n, err := ticket.ParseOrigin(o); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// originAllowed reports whether origin, serialized, is one of the app's
// (without allocating: the store keeps them serialized).
func originAllowed(app keystore.App, origin string) bool {
	return ticket.ContainsOrigin(app.AllowedOrigins, origin)
}

// fromOwnOrigin reports whether h, a request's headers, carries no Origin
// (a client that is not a browser) or exactly one: the portal's own. A
// browser sends Origin with every POST, so a page of another origin, an
// opaque one ("null") included, is told apart from the portal's page.
func (p *Portal) fromOwnOrigin(h http.Header) bool {
	o := h.Values("Origin")
	return len(o) == 0 || len(o) == 1 && o[0] == p.origin
}

// baseOrigin is the origin of BaseURL (already checked by parseBaseURL), as
// browsers serialize it in the Origin header.
func baseOrigin(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	o := u.Scheme + "://" + u.Host
	if n, err := ticket.ParseOrigin(o); err == nil {
		return n
	}
	return o
}
