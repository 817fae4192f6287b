package middleware

import (
	"net/http"
	"time"

	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// accessCloseTimeout bounds how long Close waits for the verification
// recorder to write what it buffered.
const accessCloseTimeout = 10 * time.Second

// The headers an event records, as http.Header keys them: read from the map
// directly, a request does not pay http.Header.Get's canonicalization.
var (
	requestIDKey = http.CanonicalHeaderKey(ticket.RequestIDHeader)
	userAgentKey = http.CanonicalHeaderKey("User-Agent")
)

// firstValue is h's first value for key, a canonical key: what
// http.Header.Get answers.
func firstValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// recordAccess hands the guard's decision on g to APIKeyConfig.AccessLog:
// err is the refusal (nil when allowed), limitedBy the rate-limit rule that
// blocked the request. id is the key's identity when the verifier knew it.
// g.start is the event's time unless apikey.Config.Now gives the clock.
func (a *APIKeyAuth) recordAccess(g *guarded, id *apikey.Identity, err error, limitedBy string) {
	if a.access == nil {
		return
	}
	r := g.c.Request
	e := audit.Access{
		Time: g.start, Latency: time.Since(g.start),
		Outcome: audit.AccessAllowed,
		Method:  r.Method, Path: r.URL.Path,
		ClientIP: g.clientIP(&a.log), UserAgent: firstValue(r.Header, userAgentKey),
	}
	// The caller's request id when it sent one; else the store makes one, off
	// the request path.
	if h := firstValue(r.Header, requestIDKey); h != "" {
		e.RequestID = ticket.RequestID(h)
	}
	if a.clock != nil {
		e.Time = a.clock()
	}
	if id != nil {
		e.AppSlug, e.Tenant, e.KeyID, e.KeyName = id.AppSlug, id.Tenant, id.KeyID, id.KeyName
	}
	switch {
	case limitedBy != "":
		e.Outcome, e.BlockedRule, e.RateLimited = audit.AccessBlocked, limitedBy, true
	case err != nil:
		e.Outcome, e.BlockedRule = audit.AccessBlocked, string(apikey.ReasonOf(err))
		if e.BlockedRule == "" {
			e.BlockedRule = "unavailable"
		}
	}
	a.access.RecordAccess(e)
}
