package ticket

import (
	"net/http"
	"strings"
)

// RequestScheme is the scheme a request was sent with: https when the
// connection is TLS or a proxy says so in X-Forwarded-Proto, else http. The
// ticket route's origin check and the settings page (its own origin, for
// the portal's postMessage target) both derive the request's origin with
// it. (A page cannot set X-Forwarded-Proto on a cross-origin request
// without a CORS preflight, so trusting it does not help an attacker.)
func RequestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		if first, _, _ := strings.Cut(p, ","); strings.EqualFold(strings.TrimSpace(first), "https") {
			return "https"
		}
	}
	return "http"
}
