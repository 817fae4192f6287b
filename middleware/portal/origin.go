package portal

import (
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
