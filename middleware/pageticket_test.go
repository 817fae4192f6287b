package middleware

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

// page runs PageTicket for a GET navigation to a settings page with the
// given Sec-Fetch-Site and X-User ("-" for none).
func (e *routeEnv) page(t *testing.T, fetchSite, user, id string) (ticket.Answer, http.Header) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/settings/api-keys/"+url.PathEscape(id), nil)
	if fetchSite != "-" {
		r.Header.Set("Sec-Fetch-Site", fetchSite)
	}
	if user != "-" {
		r.Header.Set("X-User", user)
	}
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = r
	a := e.route.PageTicket(c, id)
	if w.Body.Len() != 0 {
		t.Fatalf("PageTicket wrote a body to the page: %q", w.Body)
	}
	return a, w.Header()
}

// The page's ticket goes through the route's own steps: the same answers,
// the same audit events, the same rate limit as a POST.
func TestPageTicketIsTheRoutesPipeline(t *testing.T) {
	e := newRouteEnv(t, Config{})
	a, h := e.page(t, "same-origin", "alice@acme", "42")
	if a.Status != 200 {
		t.Fatalf("status %d body %s, want 200", a.Status, a.Body)
	}
	var resp ticket.Response
	if err := json.Unmarshal(a.Body, &resp); err != nil || resp.Ticket == "" || resp.URL == "" {
		t.Fatalf("body %s is not a ticket response: %v", a.Body, err)
	}
	if got := h.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store on a page that carries a ticket", got)
	}
	call := e.issuer.lastCall(t)
	if call.EmbedderOrigin != testOrigin || call.Resource != "42" || call.Subject != "alice" || call.Tenant != "acme" {
		t.Errorf("issuer got %+v, want alice@acme, 42, embedder %s", call, testOrigin)
	}
	ev := e.log.onlyAudit(t)
	if ev["outcome"] != "issued" || ev["deployment"] != "42" {
		t.Errorf("audit event %v, want issued for 42", ev)
	}
}

func TestPageTicketRefusals(t *testing.T) {
	cases := []struct {
		name      string
		cfg       Config
		fetchSite string
		user      string
		id        string
		status    int
		reason    string
	}{
		{"cross-site navigation", Config{}, "cross-site", "alice@acme", "42", 403, ReasonCrossSite},
		{"same-site navigation", Config{}, "same-site", "alice@acme", "42", 403, ReasonCrossSite},
		{"signed out", Config{}, "none", "-", "42", 401, ReasonUnauthenticated},
		{"bad id", Config{}, "same-origin", "alice@acme", "4 2", 400, ReasonInvalidID},
		{"no role", Config{Decider: denyWith(policy.ReasonNoRole)}, "same-origin", "alice@acme", "42", 403, string(policy.ReasonNoRole)},
		{"origin not allowed", Config{AllowedOrigins: []string{"https://app.example"}}, "same-origin", "alice@acme", "42", 403, ReasonCrossSite},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newRouteEnv(t, tc.cfg)
			a, _ := e.page(t, tc.fetchSite, tc.user, tc.id)
			if a.Status != tc.status {
				t.Fatalf("status %d body %s, want %d", a.Status, a.Body, tc.status)
			}
			if e.issuer.callCount() != 0 {
				t.Errorf("the issuer was called %d times for a refused page", e.issuer.callCount())
			}
			if got := e.log.onlyAudit(t)["reason"]; got != tc.reason {
				t.Errorf("logged reason %v, want %s", got, tc.reason)
			}
		})
	}
}

// The page and the route draw on one bucket per user: reloading the page
// cannot get more tickets than asking the route.
func TestPageTicketSharesTheRateLimit(t *testing.T) {
	clock := newFakeClock()
	e := newRouteEnv(t, Config{RateLimit: 10, RateBurst: 2, Now: clock.Now})
	if a, _ := e.page(t, "none", "alice@acme", "42"); a.Status != 200 {
		t.Fatalf("first page: %d", a.Status)
	}
	if w := e.do(req{}); w.Code != 200 {
		t.Fatalf("route after one page: %d", w.Code)
	}
	a, _ := e.page(t, "same-origin", "alice@acme", "42")
	if a.Status != 429 || a.RetryAfter == "" {
		t.Fatalf("third ticket of a burst of 2: status %d Retry-After %q, want 429 with Retry-After", a.Status, a.RetryAfter)
	}
	if string(a.Body) != string(bodyTooManyRequests) {
		t.Errorf("body %s, want the route's %s", a.Body, bodyTooManyRequests)
	}
}
