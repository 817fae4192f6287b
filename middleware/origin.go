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
	// Browsers send origins already normalized: try the exact string first.
	if oc.allowed != nil {
		if _, ok := oc.allowed[values[0]]; ok {
			return values[0], true
		}
	} else if isOwnOrigin(r, values[0]) {
		return values[0], true
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

// isOwnOrigin reports whether origin is, byte for byte, the request's own
// origin as requestOrigin would write it, without building that string.
func isOwnOrigin(r *http.Request, origin string) bool {
	scheme := requestScheme(r)
	rest, ok := strings.CutPrefix(origin, scheme)
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(rest, "://")
	return ok && rest == r.Host && isNormalHost(scheme, rest)
}

// isNormalHost reports whether host is in the form normalizeOrigin gives:
// lower case, without the scheme's default port.
func isNormalHost(scheme, host string) bool {
	for i := 0; i < len(host); i++ {
		if 'A' <= host[i] && host[i] <= 'Z' {
			return false
		}
	}
	return !(scheme == "http" && strings.HasSuffix(host, ":80")) && !(scheme == "https" && strings.HasSuffix(host, ":443"))
}

// requestOrigin is the origin the request was sent to: its Host, with https
// when the connection is TLS or a proxy says so in X-Forwarded-Proto. (A page
// cannot set X-Forwarded-Proto on a cross-origin request without a CORS
// preflight, so trusting it here does not help an attacker.)
func requestOrigin(r *http.Request) string {
	return originString(requestScheme(r), strings.ToLower(r.Host))
}

func requestScheme(r *http.Request) string {
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
