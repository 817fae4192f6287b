package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

const jsonContentType = "application/json; charset=utf-8"

// jsonContentTypeValue is shared by every answer; net/http only reads it.
var (
	jsonContentTypeValue = []string{jsonContentType}
	noStoreValue         = []string{"no-store"}
)

// Bodies of the ticket route's answers. They say what the client may know
// and nothing more: policy reasons and upstream errors stay in the log.
var (
	bodyUnsupportedMediaType = errorBody("Content-Type must be application/json")
	bodyTooLarge             = errorBody("Request body too large")
	bodyMalformed            = errorBody("Request body must be one JSON object")
	bodyUnauthorized         = errorBody("Unauthorized")
	bodyForbidden            = errorBody("Forbidden")
	bodyTooManyRequests      = errorBody("Too many requests")
	bodyTicketUnavailable    = errorBody("Ticket service unavailable")
	bodyTicketFailed         = errorBody("Ticket issuance failed")
	bodyServiceUnavailable   = errorBody("Service unavailable")
)

func errorBody(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}

// TicketRoute is the guarded ticket route: it checks a browser's request for
// a portal ticket and, when every check passes, issues one. Build it with
// NewTicketRoute; it is safe for concurrent use.
type TicketRoute struct {
	cfg     Config
	origins originCheck
	limiter *userLimiter // nil when the rate limit is lifted
	// issuerBound is set when the Issuer is a ticket.ContextBound, which
	// may run on the request's goroutine.
	issuerBound bool
	metrics     routeMetrics
	auditLog    zerolog.Logger

	bodyFields  []byte // unknown or repeated field
	bodyMissing []byte // "<field> is required"
	bodyInvalid []byte // bad charset or length
}

// NewTicketRoute checks cfg and builds the route. A missing required field,
// a negative duration or burst, a malformed allowed origin or a metrics
// registry that refuses the collectors is an error prefixed "middleware: ".
func NewTicketRoute(cfg Config) (*TicketRoute, error) {
	cfg, origins, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	metrics, err := newRouteMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	auditLog := cfg.Logger.Sample(nil)
	if lvl := auditLog.GetLevel(); lvl != zerolog.Disabled && lvl > zerolog.InfoLevel {
		auditLog = auditLog.Level(zerolog.InfoLevel)
	}
	t := &TicketRoute{
		cfg:         cfg,
		origins:     newOriginCheck(origins),
		metrics:     metrics,
		auditLog:    auditLog,
		bodyFields:  errorBody(fmt.Sprintf("Request body must hold %s only", cfg.Field)),
		bodyMissing: errorBody(cfg.Field + " is required"),
		bodyInvalid: errorBody(fmt.Sprintf("%s must be 1 to %d letters, digits, '_' or '-'", cfg.Field, MaxIDLen)),
	}
	_, t.issuerBound = cfg.Issuer.(ticket.ContextBound)
	if cfg.RateLimit > 0 {
		t.limiter = newUserLimiter(cfg.RateLimit, cfg.RateBurst)
	}
	return t, nil
}

// Mount registers the route as POST Config.Path on r.
func (t *TicketRoute) Mount(r gin.IRoutes) {
	r.POST(t.cfg.Path, t.Handler())
}

// Path returns the path the route mounts on.
func (t *TicketRoute) Path() string { return t.cfg.Path }

// Handler returns the route's handler, for mounting it by hand (on another
// method or path, or behind other middleware).
func (t *TicketRoute) Handler() gin.HandlerFunc { return t.serve }

// Mount builds a TicketRoute from cfg and registers it on r.
func Mount(r gin.IRoutes, cfg Config) error {
	t, err := NewTicketRoute(cfg)
	if err != nil {
		return err
	}
	t.Mount(r)
	return nil
}

// serve runs the checks of DESIGN.md "Flow" step 2, in order.
func (t *TicketRoute) serve(c *gin.Context) {
	r := c.Request
	a := attempt{start: t.cfg.Now(), requestID: t.cfg.RequestID(c), clientIP: c.ClientIP()}
	h := c.Writer.Header()
	h["Cache-Control"] = noStoreValue
	h["X-Request-Id"] = []string{a.requestID}

	// 1. Content type, size, one strict JSON object.
	if !isJSONContentType(r.Header.Get("Content-Type")) {
		t.fail(c, &a, http.StatusUnsupportedMediaType, audit.OutcomeDenied, ReasonUnsupportedMediaType, bodyUnsupportedMediaType)
		return
	}
	if r.ContentLength > MaxBodyBytes {
		t.fail(c, &a, http.StatusRequestEntityTooLarge, audit.OutcomeDenied, ReasonBodyTooLarge, bodyTooLarge)
		return
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(c.Writer, r.Body, MaxBodyBytes))
		if err != nil {
			if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
				t.fail(c, &a, http.StatusRequestEntityTooLarge, audit.OutcomeDenied, ReasonBodyTooLarge, bodyTooLarge)
				return
			}
			a.err = err
			t.fail(c, &a, http.StatusBadRequest, audit.OutcomeDenied, ReasonMalformedJSON, bodyMalformed)
			return
		}
	}
	rawID, reason := parseBody(body, t.cfg.Field)
	switch reason {
	case "":
	case ReasonUnknownField, ReasonDuplicateField:
		t.fail(c, &a, http.StatusBadRequest, audit.OutcomeDenied, reason, t.bodyFields)
		return
	default:
		t.fail(c, &a, http.StatusBadRequest, audit.OutcomeDenied, reason, bodyMalformed)
		return
	}

	// 2. Same-origin check: a page of another site must not get a ticket
	// with the user's cookies (CSRF).
	origin, ok := t.origins.verify(r)
	if !ok {
		t.fail(c, &a, http.StatusForbidden, audit.OutcomeDenied, ReasonCrossSite, bodyForbidden)
		return
	}
	a.origin = origin

	// 3. Who is asking.
	p, err := t.cfg.Identify(c)
	if err != nil || p.Subject == "" {
		a.err = err
		t.fail(c, &a, http.StatusUnauthorized, audit.OutcomeDenied, ReasonUnauthenticated, bodyUnauthorized)
		return
	}
	a.user, a.tenant = p.Subject, p.Tenant

	// 4. Input shape.
	id, reason := parseID(rawID)
	switch reason {
	case "":
	case ReasonMissingID:
		t.fail(c, &a, http.StatusBadRequest, audit.OutcomeDenied, reason, t.bodyMissing)
		return
	default:
		t.fail(c, &a, http.StatusBadRequest, audit.OutcomeDenied, reason, t.bodyInvalid)
		return
	}
	a.resource, a.appSlug = id, t.cfg.AppSlug(id)

	// 5. Tenant status, role and ownership: the decider checks all three
	// and says which failed; the client gets the same 403 for each.
	if p.Tenant == "" {
		t.fail(c, &a, http.StatusForbidden, audit.OutcomeDenied, ReasonNoTenant, bodyForbidden)
		return
	}
	d, err := t.cfg.Decider.Decide(r.Context(), policy.Request{
		Subject: p.Subject, Tenant: p.Tenant, Object: t.cfg.Object(id), Action: t.cfg.Action,
	})
	if err != nil {
		a.err = err
		t.fail(c, &a, http.StatusServiceUnavailable, audit.OutcomeError, canceledOr(r, ReasonDeciderError), bodyServiceUnavailable)
		return
	}
	if !d.Allowed {
		reason := string(d.Reason)
		if reason == "" || d.Reason == policy.ReasonAllowed {
			reason = string(policy.ReasonDeniedByRule)
		}
		t.fail(c, &a, http.StatusForbidden, audit.OutcomeDenied, reason, bodyForbidden)
		return
	}

	// 6. Per-user rate limit.
	if t.limiter != nil {
		if ok, wait := t.limiter.allow(p.Subject, t.cfg.Now()); !ok {
			a.status, a.outcome, a.reason = http.StatusTooManyRequests, audit.OutcomeDenied, ReasonRateLimited
			if !t.record(&a) {
				t.write(c, http.StatusServiceUnavailable, bodyServiceUnavailable)
				return
			}
			c.Header("Retry-After", strconv.FormatInt(retryAfterSeconds(wait), 10))
			t.write(c, http.StatusTooManyRequests, bodyTooManyRequests)
			return
		}
	}

	// 7. Issue, within the deadline.
	resp, err := t.issue(r.Context(), ticket.Request{
		AppSlug:        a.appSlug,
		Tenant:         p.Tenant,
		Subject:        p.Subject,
		Resource:       id,
		EmbedderOrigin: origin,
		TTL:            t.cfg.TTL,
	})
	if err != nil {
		a.err = err
		switch {
		case errors.Is(err, ticket.ErrRejected):
			t.fail(c, &a, http.StatusForbidden, audit.OutcomeDenied, ReasonIssuerRejected, bodyForbidden)
		case errors.Is(err, context.DeadlineExceeded):
			t.fail(c, &a, http.StatusServiceUnavailable, audit.OutcomeError, ReasonIssuerTimeout, bodyTicketUnavailable)
		case errors.Is(err, ticket.ErrUnavailable), errors.Is(err, context.Canceled):
			t.fail(c, &a, http.StatusServiceUnavailable, audit.OutcomeError, canceledOr(r, ReasonIssuerUnavailable), bodyTicketUnavailable)
		default:
			t.fail(c, &a, http.StatusBadGateway, audit.OutcomeError, ReasonIssuerFailed, bodyTicketFailed)
		}
		return
	}
	out, err := json.Marshal(resp)
	if err != nil { // a ticket.Response always marshals; kept for safety
		a.err = err
		t.fail(c, &a, http.StatusBadGateway, audit.OutcomeError, ReasonIssuerFailed, bodyTicketFailed)
		return
	}
	a.ticketFP = ticket.Fingerprint(resp.Ticket)
	a.status, a.outcome, a.reason = http.StatusOK, audit.OutcomeIssued, ReasonIssued
	if !t.record(&a) {
		t.write(c, http.StatusServiceUnavailable, bodyServiceUnavailable)
		return
	}
	t.write(c, http.StatusOK, out)
}

// issue calls the Issuer under IssueTimeout and checks its answer.
func (t *TicketRoute) issue(ctx context.Context, req ticket.Request) (ticket.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.IssueTimeout)
	defer cancel()
	var resp ticket.Response
	var err error
	if t.issuerBound {
		resp, err = t.callIssuer(ctx, req)
	} else {
		resp, err = t.callIssuerAside(ctx, req)
	}
	if err != nil {
		return ticket.Response{}, err
	}
	if resp.Ticket == "" || resp.URL == "" || resp.ExpiresAt <= 0 {
		return ticket.Response{}, fmt.Errorf("%w: issuer answered without a ticket, url or expiry", ticket.ErrUpstream)
	}
	return resp, nil
}

// callIssuer calls the Issuer and turns its panic into an error: a broken
// issuer fails one request with 502 instead of the whole route.
func (t *TicketRoute) callIssuer(ctx context.Context, req ticket.Request) (resp ticket.Response, err error) {
	defer func() {
		if v := recover(); v != nil {
			resp, err = ticket.Response{}, fmt.Errorf("%w: issuer panicked: %v", ticket.ErrUpstream, v)
		}
	}()
	return t.cfg.Issuer.Issue(ctx, req)
}

// callIssuerAside runs an Issuer that did not promise to honour its context
// (see ticket.ContextBound) on a goroutine of its own, and returns by the
// deadline even if that Issuer never does (its late answer is dropped).
func (t *TicketRoute) callIssuerAside(ctx context.Context, req ticket.Request) (ticket.Response, error) {
	type result struct {
		resp ticket.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := t.callIssuer(ctx, req)
		done <- result{resp, err}
	}()
	select {
	case res := <-done:
		return res.resp, res.err
	case <-ctx.Done():
		return ticket.Response{}, fmt.Errorf("issuer did not answer in %v: %w", t.cfg.IssueTimeout, ctx.Err())
	}
}

// canceledOr returns ReasonCanceled when the client went away (its request
// context ended), so that dropped connections are not counted as failures
// of the decider or the issuer; else reason.
func canceledOr(r *http.Request, reason string) string {
	if r.Context().Err() != nil {
		return ReasonCanceled
	}
	return reason
}

// fail records a refused or failed attempt and answers it (503 instead when
// the Auditor fails).
func (t *TicketRoute) fail(c *gin.Context, a *attempt, status int, outcome, reason string, body []byte) {
	a.status, a.outcome, a.reason = status, outcome, reason
	if !t.record(a) {
		status, body = http.StatusServiceUnavailable, bodyServiceUnavailable
	}
	t.write(c, status, body)
}

func (t *TicketRoute) write(c *gin.Context, status int, body []byte) {
	h := c.Writer.Header()
	h["Content-Type"] = jsonContentTypeValue
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	c.Writer.WriteHeader(status)
	_, _ = c.Writer.Write(body)
	c.Abort()
}
