package portal

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// Reasons of ticket.rejected events.
const (
	RejectForged      = "forged"       // not sealed by this portal, or altered
	RejectExpired     = "expired"      // past its expiry
	RejectUsed        = "used"         // exchanged before
	RejectWrongApp    = "wrong_app"    // the app is gone, or a renewal names another app
	RejectWrongTenant = "wrong_tenant" // a renewal names another tenant
	RejectWrongUser   = "wrong_user"   // a renewal names another user
	RejectWrongOrigin = "wrong_origin" // the origin is no longer allowed, or a renewal names another
	RejectCrossTenant = "cross_tenant" // the app belongs to another tenant now
	RejectAppInactive = "app_inactive" // the app is disabled or deleted
)

// exchangeRequest is the body of POST …/exchange. PreviousSession, sent on a
// renewal in place, binds the new ticket to the session it continues: same
// app, tenant, user and origin, or the exchange is refused.
type exchangeRequest struct {
	Ticket          string `json:"ticket"`
	PreviousSession string `json:"previous_session,omitempty"`
}

// exchangeResponse is a page session.
type exchangeResponse struct {
	// Session is the bearer token for the JSON API. The page keeps it in
	// memory only.
	Session string `json:"session"`
	// ExpiresAt is the session's end in unix seconds; ExpiresIn the same in
	// seconds from now (the page schedules on it, immune to clock skew).
	ExpiresAt int64 `json:"expires_at"`
	ExpiresIn int64 `json:"expires_in"`
	// Origin is the embedder origin bound in the ticket: the page's only
	// postMessage target and the only origin it accepts messages from.
	Origin string  `json:"origin"`
	User   string  `json:"user"`
	Tenant string  `json:"tenant"`
	App    appView `json:"app"`
}

// appView is what the page shows of its app.
type appView struct {
	Slug      string `json:"slug"`
	Name      string `json:"name"`
	KeyPrefix string `json:"key_prefix"`
}

// rejection is why an exchange failed: the audit reason, the code the page
// maps to a session_expired reason, and the HTTP status.
type rejection struct {
	reason, code string
	status       int
	message      string
}

var (
	rejForged  = rejection{RejectForged, ticket.ReasonTicketInvalid, http.StatusUnauthorized, "the ticket is not valid"}
	rejExpired = rejection{RejectExpired, ticket.ReasonTicketExpired, http.StatusUnauthorized, "the ticket has expired"}
	rejUsed    = rejection{RejectUsed, ticket.ReasonTicketUsed, http.StatusConflict, "the ticket was already used"}
	rejInact   = rejection{RejectAppInactive, ticket.ReasonRevoked, http.StatusForbidden, "the app is disabled"}
)

func rejectBinding(reason string) rejection {
	return rejection{reason, ticket.ReasonTicketInvalid, http.StatusUnauthorized, "the ticket is not valid for this page"}
}

// exchange trades a ticket for a page session, once.
func (p *Portal) exchange(c *gin.Context) {
	if crossSite(c) {
		fail(c, http.StatusForbidden, "cross_site", "tickets are exchanged by the portal page only")
		return
	}
	var req exchangeRequest
	if !decodeJSON(c, &req) {
		return
	}
	if req.Ticket == "" {
		fail(c, http.StatusBadRequest, "bad_request", "ticket is required")
		return
	}
	ctx := c.Request.Context()
	now := p.now()
	ev := audit.Event{
		Time:              now,
		Action:            audit.ActionTicketRejected,
		Outcome:           audit.OutcomeDenied,
		TicketFingerprint: ticket.Fingerprint(req.Ticket),
		RequestID:         requestID(c),
		ClientIP:          c.ClientIP(),
	}
	reject := func(r rejection) {
		ev.Reason = r.reason
		_ = p.record(ctx, ev) // refused either way; the error is logged
		fail(c, r.status, r.code, r.message)
	}
	unavailable := func(err error) {
		ev.Action, ev.Outcome, ev.Reason, ev.Detail = audit.ActionTicketRejected, audit.OutcomeError, "unavailable", err.Error()
		_ = p.record(ctx, ev)
		fail(c, http.StatusServiceUnavailable, "unavailable", "the portal cannot serve this right now; try again")
	}

	cl, err := p.tickets.open(ctx, req.Ticket)
	if errors.Is(err, errUnopenable) {
		reject(rejForged)
		return
	} else if err != nil {
		unavailable(err)
		return
	}
	ev.Actor, ev.Tenant, ev.AppSlug, ev.Resource = cl.User, cl.Tenant, cl.App, cl.Resource
	if now.Unix() >= cl.Exp {
		reject(rejExpired)
		return
	}

	if req.PreviousSession != "" {
		prev, err := p.sessions.open(ctx, req.PreviousSession)
		switch {
		case errors.Is(err, errUnopenable):
			reject(rejForged)
			return
		case err != nil:
			unavailable(err)
			return
		case prev.App != cl.App:
			reject(rejectBinding(RejectWrongApp))
			return
		case prev.Tenant != cl.Tenant:
			reject(rejectBinding(RejectWrongTenant))
			return
		case prev.User != cl.User:
			reject(rejectBinding(RejectWrongUser))
			return
		case prev.Origin != cl.Origin:
			reject(rejectBinding(RejectWrongOrigin))
			return
		}
		if now.Unix() >= prev.Exp {
			p.recordSessionExpired(c, prev, "ttl")
		}
	}

	app, err := p.store.GetApp(ctx, cl.App)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		reject(rejectBinding(RejectWrongApp))
		return
	case err != nil:
		unavailable(err)
		return
	case !app.Usable():
		reject(rejInact)
		return
	case app.Tenant != cl.Tenant:
		reject(rejectBinding(RejectCrossTenant))
		return
	case !originAllowed(app, cl.Origin):
		reject(rejectBinding(RejectWrongOrigin))
		return
	}

	// The single atomic step: of any number of concurrent exchanges of one
	// ticket, exactly one gets past here.
	if err := p.store.ConsumeTicket(ctx, cl.idHash(), time.Unix(cl.Exp, 0)); errors.Is(err, keystore.ErrTicketUsed) {
		reject(rejUsed)
		return
	} else if err != nil {
		unavailable(err)
		return
	}

	exp := now.Add(p.sessionTTL).Unix()
	sess := claims{ID: newRandomID(), App: cl.App, Tenant: cl.Tenant, User: cl.User, Origin: cl.Origin, Resource: cl.Resource, Exp: exp}
	token, err := p.sessions.seal(ctx, sess)
	if err != nil {
		unavailable(err)
		return
	}
	ev.Action, ev.Outcome, ev.Reason = audit.ActionTicketExchanged, audit.OutcomeSuccess, ""
	ev.Detail = "session " + ticket.Fingerprint(token)
	if err := p.record(ctx, ev); err != nil {
		// Fail closed: no session without its audit event.
		fail(c, http.StatusServiceUnavailable, "unavailable", "the portal cannot record this exchange; try again with a new ticket")
		return
	}
	writeJSON(c, http.StatusOK, exchangeResponse{
		Session:   token,
		ExpiresAt: exp,
		ExpiresIn: exp - now.Unix(),
		Origin:    cl.Origin,
		User:      cl.User,
		Tenant:    cl.Tenant,
		App:       appView{Slug: app.Slug, Name: app.Name, KeyPrefix: app.KeyPrefix},
	})
}

// recordSessionExpired writes session.expired for a page session.
func (p *Portal) recordSessionExpired(c *gin.Context, s claims, reason string) {
	_ = p.record(c.Request.Context(), audit.Event{
		Action:    audit.ActionSessionExpired,
		Outcome:   audit.OutcomeSuccess,
		Reason:    reason,
		Actor:     s.User,
		Tenant:    s.Tenant,
		AppSlug:   s.App,
		Resource:  s.Resource,
		RequestID: requestID(c),
		ClientIP:  c.ClientIP(),
	})
}

// requestID returns the request's id (ticket.RequestID: its X-Request-Id
// when plain, else a new random one), the same for every call on one
// request, so that audit events and logs correlate.
func requestID(c *gin.Context) string {
	if id, ok := c.Get(requestIDKey); ok {
		return id.(string)
	}
	id := ticket.RequestID(c.GetHeader(ticket.RequestIDHeader))
	c.Set(requestIDKey, id)
	return id
}

// ctxKey is the type of this package's gin context keys.
type ctxKey int

const (
	requestIDKey ctxKey = iota
	sessionKey
)
