package portal

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/internal/clientip"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// Reasons of ticket.rejected events.
const (
	RejectForged        = "forged"         // not sealed by this portal, or altered
	RejectExpired       = "expired"        // past its expiry
	RejectUsed          = "used"           // exchanged before
	RejectWrongApp      = "wrong_app"      // the app is gone, or a renewal names another app
	RejectWrongTenant   = "wrong_tenant"   // a renewal names another tenant
	RejectWrongUser     = "wrong_user"     // a renewal names another user
	RejectWrongOrigin   = "wrong_origin"   // the origin is no longer allowed, or a renewal names another
	RejectCrossTenant   = "cross_tenant"   // the app belongs to another tenant now
	RejectAppInactive   = "app_inactive"   // the app is disabled or deleted
	RejectForeignOrigin = "foreign_origin" // sent by a page of another origin than the portal's
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

// rejection is why an exchange was refused: the audit reason, the code the
// page maps to a session_expired reason, the HTTP status and the message.
// The checks return it as their error; any other error they return is a
// failure of the store or the sealer.
type rejection struct {
	reason, code string
	status       int
	message      string
}

func (r rejection) Error() string { return "portal: exchange refused: " + r.reason }

var (
	rejForged  = rejection{RejectForged, ticket.ReasonTicketInvalid, http.StatusUnauthorized, "the ticket is not valid"}
	rejExpired = rejection{RejectExpired, ticket.ReasonTicketExpired, http.StatusUnauthorized, "the ticket has expired"}
	rejUsed    = rejection{RejectUsed, ticket.ReasonTicketUsed, http.StatusConflict, "the ticket was already used"}
	rejInact   = rejection{RejectAppInactive, ticket.ReasonRevoked, http.StatusForbidden, "the app is disabled"}
	rejOrigin  = rejection{RejectForeignOrigin, "cross_site", http.StatusForbidden, "tickets are exchanged by the portal page only, and this request comes from another origin"}
)

func rejectBinding(reason string) rejection {
	return rejection{reason, ticket.ReasonTicketInvalid, http.StatusUnauthorized, "the ticket is not valid for this page"}
}

// exchange trades a ticket for a page session, once: it reads the request,
// runs the checks in order (the first that fails answers) and opens the
// session.
func (p *Portal) exchange(c *gin.Context) {
	req, ok := p.readExchangeRequest(c)
	if !ok {
		return
	}
	x := p.newExchangeAttempt(c, req.Ticket)
	cl, app, err := x.check(req)
	if err != nil {
		x.refuse(err)
		return
	}
	x.openSession(cl, app)
}

// readExchangeRequest refuses a cross-site call and reads the body. When it
// returns false it has answered the client.
func (p *Portal) readExchangeRequest(c *gin.Context) (exchangeRequest, bool) {
	var req exchangeRequest
	if crossSite(c) {
		p.refuseAnonymous(c, rejCrossSite)
		return req, false
	}
	if !decodeJSON(c, &req) {
		return req, false
	}
	if req.Ticket == "" {
		fail(c, http.StatusBadRequest, "bad_request", "ticket is required")
		return req, false
	}
	return req, true
}

// exchangeAttempt is one exchange under way: its request, the time it
// started and the audit event that records how it ends.
type exchangeAttempt struct {
	p   *Portal
	c   *gin.Context
	ctx context.Context
	now time.Time
	ev  audit.Event
}

func (p *Portal) newExchangeAttempt(c *gin.Context, tk string) *exchangeAttempt {
	now := p.now()
	return &exchangeAttempt{p: p, c: c, ctx: c.Request.Context(), now: now, ev: audit.Event{
		Time:              now,
		Action:            audit.ActionTicketRejected,
		Outcome:           audit.OutcomeDenied,
		TicketFingerprint: ticket.Fingerprint(tk),
		RequestID:         requestID(c),
		ClientIP:          clientip.Of(c, &p.log),
	}}
}

// check runs the checks in order: the request's origin, the ticket, a
// renewal's binding to the session it continues, the app, the policy; then it consumes
// the ticket. Its error is a rejection or a failure of the store or the
// sealer.
func (x *exchangeAttempt) check(req exchangeRequest) (claims, keystore.App, error) {
	if !x.p.fromOwnOrigin(x.c.Request.Header) {
		return claims{}, keystore.App{}, anonymously(rejOrigin) // before the ticket is opened: it stays unspent
	}
	cl, err := x.openTicket(req.Ticket)
	if err != nil {
		return claims{}, keystore.App{}, err
	}
	if req.PreviousSession != "" {
		if err := x.checkRenewal(cl, req.PreviousSession); err != nil {
			return claims{}, keystore.App{}, err
		}
	}
	app, err := x.checkApp(cl)
	if err != nil {
		return claims{}, keystore.App{}, err
	}
	if err := x.checkPolicy(cl); err != nil {
		return claims{}, keystore.App{}, err
	}
	if err := x.consumeTicket(cl); err != nil {
		return claims{}, keystore.App{}, err
	}
	return cl, app, nil
}

// openTicket unseals the ticket and refuses it past its expiry. From here
// on the audit event names the ticket's user, tenant, app and resource. A
// forged or expired ticket is refused anonymously: anyone can send one.
func (x *exchangeAttempt) openTicket(tk string) (claims, error) {
	cl, err := x.p.tickets.open(x.ctx, tk)
	if errors.Is(err, errUnopenable) {
		return claims{}, anonymously(rejForged)
	} else if err != nil {
		return claims{}, err
	}
	x.ev.Actor, x.ev.Tenant, x.ev.AppSlug, x.ev.Resource = cl.User, cl.Tenant, cl.App, cl.Resource
	if x.now.Unix() >= cl.Exp {
		return claims{}, anonymously(rejExpired)
	}
	return cl, nil
}

// checkRenewal binds a renewal in place to the session it continues: same
// app, tenant, user and origin. A previous session past its end is recorded
// as expired, and the renewal goes on.
func (x *exchangeAttempt) checkRenewal(cl claims, previous string) error {
	prev, err := x.p.sessions.open(x.ctx, previous)
	switch {
	case errors.Is(err, errUnopenable):
		return rejForged
	case err != nil:
		return err
	case prev.App != cl.App:
		return rejectBinding(RejectWrongApp)
	case prev.Tenant != cl.Tenant:
		return rejectBinding(RejectWrongTenant)
	case prev.User != cl.User:
		return rejectBinding(RejectWrongUser)
	case prev.Origin != cl.Origin:
		return rejectBinding(RejectWrongOrigin)
	}
	if x.now.Unix() >= prev.Exp {
		x.p.recordSessionExpired(x.c, prev, "ttl")
	}
	return nil
}

// checkApp checks the ticket against its app as it is now: present and
// usable, still the tenant's, and still allowing the origin.
func (x *exchangeAttempt) checkApp(cl claims) (keystore.App, error) {
	app, err := x.p.store.GetApp(x.ctx, cl.App)
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return app, rejectBinding(RejectWrongApp)
	case err != nil:
		return app, err
	case !app.Usable():
		return app, rejInact
	case app.Tenant != cl.Tenant:
		return app, rejectBinding(RejectCrossTenant)
	case !originAllowed(app, cl.Origin):
		return app, rejectBinding(RejectWrongOrigin)
	}
	return app, nil
}

// checkPolicy asks the policy again (Config.Decider): a user who lost the
// permission, or whose tenant was suspended, gets no session from a ticket
// issued before, and the ticket stays unspent.
func (x *exchangeAttempt) checkPolicy(cl claims) error {
	why, err := x.p.recheck(x.ctx, cl)
	if err != nil {
		return err
	}
	if why != "" {
		return rejection{why, ticket.ReasonRevoked, http.StatusForbidden, "access to these keys has been withdrawn"}
	}
	return nil
}

// consumeTicket is the single atomic step: of any number of concurrent
// exchanges of one ticket, exactly one gets past it.
func (x *exchangeAttempt) consumeTicket(cl claims) error {
	err := x.p.store.ConsumeTicket(x.ctx, cl.idHash(), time.Unix(cl.Exp, 0))
	if errors.Is(err, keystore.ErrTicketUsed) {
		return rejUsed
	}
	return err
}

// openSession seals the page session, records the exchange and answers
// with the session. It fails closed: no session without its audit event.
func (x *exchangeAttempt) openSession(cl claims, app keystore.App) {
	exp := x.now.Add(x.p.sessionTTL).Unix()
	sess := claims{ID: newRandomID(), App: cl.App, Tenant: cl.Tenant, User: cl.User, Origin: cl.Origin, Resource: cl.Resource, Object: cl.Object, Action: cl.Action, Exp: exp}
	token, err := x.p.sessions.seal(x.ctx, sess)
	if err != nil {
		x.refuse(err)
		return
	}
	x.ev.Action, x.ev.Outcome, x.ev.Reason = audit.ActionTicketExchanged, audit.OutcomeSuccess, ""
	x.ev.Detail = "session " + ticket.Fingerprint(token)
	if err := x.p.record(x.ctx, x.ev); err != nil {
		fail(x.c, http.StatusServiceUnavailable, "unavailable", "the portal cannot record this exchange; try again with a new ticket")
		return
	}
	writeJSON(x.c, http.StatusOK, exchangeResponse{
		Session:   token,
		ExpiresAt: exp,
		ExpiresIn: exp - x.now.Unix(),
		Origin:    cl.Origin,
		User:      cl.User,
		Tenant:    cl.Tenant,
		App:       appView{Slug: app.Slug, Name: app.Name, KeyPrefix: app.KeyPrefix},
	})
}

// refuse records why the exchange failed and answers the client: a
// rejection with its own status and code, any other error with 503 (its
// text goes to the audit detail only).
func (x *exchangeAttempt) refuse(err error) {
	if a, ok := errors.AsType[anonymousRefusal](err); ok {
		x.p.refuseAnonymous(x.c, a.rejection)
		return
	}
	var r rejection
	if errors.As(err, &r) {
		x.ev.Reason = r.reason
		_ = x.p.record(x.ctx, x.ev) // refused either way; the error is logged
		fail(x.c, r.status, r.code, r.message)
		return
	}
	x.ev.Action, x.ev.Outcome, x.ev.Reason, x.ev.Detail = audit.ActionTicketRejected, audit.OutcomeError, "unavailable", err.Error()
	_ = x.p.record(x.ctx, x.ev)
	fail(x.c, http.StatusServiceUnavailable, "unavailable", "the portal cannot serve this right now; try again")
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
		ClientIP:  clientip.Of(c, &p.log),
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
