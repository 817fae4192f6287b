package middleware

import (
	"encoding/json"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// PageTicket runs the route for a settings page that shows the portal in
// its first HTML (middleware/shell's Config.Tickets): the ticket for
// resourceID is issued while the page renders, with no request of its own.
// It takes the route's steps after the body (the page has none): the origin
// check, Identify, the id's shape, the policy, the per-user rate limit, the
// Issuer and the audit record, the same code as a POST to the route, so
// every check, limit, metric and audit event applies as it does there. It
// writes nothing to c's response but the route's Cache-Control: no-store and
// X-Request-Id headers, and returns the answer the route would have sent.
//
// The origin check is the page's: the navigation's Sec-Fetch-Site must be
// same-origin, none or absent (ticket.SameOriginFetch; a link from another
// site is refused, 403 cross_site, and so spends nothing), and the page's own
// origin must be one of Config.AllowedOrigins (when set). That origin is the
// ticket's embedder origin.
func (t *TicketRoute) PageTicket(c *gin.Context, resourceID string) ticket.Answer {
	var a ticket.Answer
	f := t.begin(c)
	f.page = &a
	f.rawID, _ = json.Marshal(resourceID) // a string always marshals
	if t.checkOrigin(&f, t.origins.verifyPage) && t.identify(&f) && t.checkID(&f) &&
		t.authorize(&f) && t.checkRateLimit(&f) && t.issue(&f) {
		t.answer(&f)
	}
	return a
}
