package middleware

import (
	"net/http"
	"strings"
)

// originCheck is the ticket route's CSRF defence: a ticket is issued only to
// a page of an allowed origin, as the browser itself reports it.
type originCheck struct {
	// allowed holds normalized origins; empty means the request's own.
	allowed map[string]struct{}
}

func newOriginCheck(normalized []string) originCheck {
	oc := originCheck{}
	if len(normalized) > 0 {
		oc.allowed = make(map[string]struct{}, len(normalized))
		for _, o := range normalized {
			oc.allowed[o] = struct{}{}
		}
	}
	return oc
}

// verify returns the request's origin, normalized, when the request comes
// from a page of an allowed origin, and false otherwise: when Sec-Fetch-Site
// names another origin or site, when Origin is missing, repeated, "null"
// (sandboxed frames, file: pages, some redirects) or not an allowed origin.
func (oc originCheck) verify(r *http.Request) (string, bool) {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default: // same-site, cross-site, or anything unknown
		return "", false
	}
	values := r.Header.Values("Origin")
	if len(values) != 1 {
		return "", false
	}
	origin, err := normalizeOrigin(values[0])
	if err != nil {
		return "", false
	}
	if oc.allowed != nil {
		_, ok := oc.allowed[origin]
		return origin, ok
	}
	return origin, origin == requestOrigin(r)
}

// requestOrigin is the origin the request was sent to: its Host, with https
// when the connection is TLS or a proxy says so in X-Forwarded-Proto. (A page
// cannot set X-Forwarded-Proto on a cross-origin request without a CORS
// preflight, so trusting it here does not help an attacker.)
func requestOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		if first, _, _ := strings.Cut(p, ","); strings.EqualFold(strings.TrimSpace(first), "https") {
			scheme = "https"
		}
	}
	return originString(scheme, strings.ToLower(r.Host))
}
