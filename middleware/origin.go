package middleware

import (
	"net/http"
	"strings"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// originCheck is the ticket route's CSRF defence: a ticket is issued only to
// a page of an allowed origin, as the browser itself reports it.
type originCheck struct {
	// allowed holds serialized origins (ticket.ParseOrigin); empty means the
	// request's own.
	allowed map[string]struct{}
}

func newOriginCheck(serialized []string) originCheck {
	oc := originCheck{}
	if len(serialized) > 0 {
		oc.allowed = make(map[string]struct{}, len(serialized))
		for _, o := range serialized {
			oc.allowed[o] = struct{}{}
		}
	}
	return oc
}

// verify returns the request's origin, serialized, when the request comes
// from a page of an allowed origin, and false otherwise: when Sec-Fetch-Site
// names another origin or site, when Origin is missing, repeated, "null"
// (sandboxed frames, file: pages, some redirects) or not an allowed origin.
func (oc originCheck) verify(r *http.Request) (string, bool) {
	if !ticket.SameOriginFetch(r.Header.Get("Sec-Fetch-Site")) {
		return "", false
	}
	values := r.Header.Values("Origin")
	if len(values) != 1 {
		return "", false
	}
	// Browsers send origins already serialized: try the exact string first.
	if oc.allowed != nil {
		if _, ok := oc.allowed[values[0]]; ok {
			return values[0], true
		}
	} else if isOwnOrigin(r, values[0]) {
		return values[0], true
	}
	origin, err := ticket.ParseOrigin(values[0])
	if err != nil {
		return "", false
	}
	if oc.allowed != nil {
		_, ok := oc.allowed[origin]
		return origin, ok
	}
	own, err := ticket.ParseOrigin(ticket.RequestScheme(r) + "://" + r.Host)
	return origin, err == nil && origin == own
}

// isOwnOrigin reports whether origin is, byte for byte, the request's own
// origin serialized, without building that string.
func isOwnOrigin(r *http.Request, origin string) bool {
	rest, ok := strings.CutPrefix(origin, ticket.RequestScheme(r))
	if !ok {
		return false
	}
	rest, ok = strings.CutPrefix(rest, "://")
	return ok && rest == r.Host && ticket.IsOrigin(origin)
}

// verifyPage is verify for a page navigation (a GET, which carries no
// Origin): the page is the request's own origin, served to a navigation
// that Sec-Fetch-Site says is the app's own or the user's
// (ticket.SameOriginFetch), and must be an allowed origin. It returns that
// origin, serialized, the embedder origin of the page's ticket.
func (oc originCheck) verifyPage(r *http.Request) (string, bool) {
	if !ticket.SameOriginFetch(r.Header.Get("Sec-Fetch-Site")) {
		return "", false
	}
	own, err := ticket.ParseOrigin(ticket.RequestScheme(r) + "://" + r.Host)
	if err != nil {
		return "", false
	}
	if oc.allowed != nil {
		_, ok := oc.allowed[own]
		return own, ok
	}
	return own, true
}
