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
	"github.com/keyportal/keyportal/internal/ginroute"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/clientip"
	"github.com/keyportal/keyportal/internal/logthrottle"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/ratelimit"
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
	cfg      Config
	origins  originCheck
	limiter  *ratelimit.Buckets // nil when the rate limit is lifted
	metrics  routeMetrics
	auditLog zerolog.Logger
	refusals *logthrottle.Throttle // log lines of refusals before identify

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
		refusals:    logthrottle.New(0, 0, 0, 0),
		bodyFields:  errorBody(fmt.Sprintf("Request body must hold %s only", cfg.Field)),
		bodyMissing: errorBody(cfg.Field + " is required"),
		bodyInvalid: errorBody(fmt.Sprintf("%s must be 1 to %d letters, digits, '_' or '-'", cfg.Field, MaxIDLen)),
	}
	if cfg.RateLimit > 0 {
		t.limiter = ratelimit.NewBuckets(cfg.RateLimit, cfg.RateBurst)
	}
	return t, nil
}

// Mount registers the route as POST Config.Path on r. A route r already
// has there comes back as an error wrapping ticket.ErrMount.
func (t *TicketRoute) Mount(r gin.IRoutes) error {
	return ginroute.Register(r, "ticket route", ginroute.Route{Method: http.MethodPost, Path: t.cfg.Path, Handlers: []gin.HandlerFunc{t.Handler()}})
}

// Path returns the path the route mounts on.
func (t *TicketRoute) Path() string { return t.cfg.Path }

// Handler returns the route's handler, for mounting it by hand (on another
// method or path, or behind other middleware).
func (t *TicketRoute) Handler() gin.HandlerFunc { return t.serve }

// Mount builds a TicketRoute from cfg and registers it on r: a bad cfg
// is NewTicketRoute's error, a route r already has one wrapping
// ticket.ErrMount.
func Mount(r gin.IRoutes, cfg Config) error {
	t, err := NewTicketRoute(cfg)
	if err != nil {
		return err
	}
	return t.Mount(r)
}

// serve answers one ticket request. Its steps are the checks of
// docs/design.md "The ticket route's checks, in order", in that order; each
// refuses the request by answering it and then reports false, which ends
// the flow. A refusal from the steps before identify is counted and logged
// (refuse); from identify on, every attempt is recorded (fail, answer).
func (t *TicketRoute) serve(c *gin.Context) {
	f := t.begin(c)
	if t.readBody(&f) && t.checkOrigin(&f, t.origins.verify) && t.identify(&f) && t.checkID(&f) &&
		t.authorize(&f) && t.checkRateLimit(&f) && t.issue(&f) {
		t.answer(&f)
	}
}

// flow is one request on its way through serve's steps: the attempt the
// audit event records, and what a step hands on to a later one.
type flow struct {
	attempt
	c      *gin.Context
	rawID  json.RawMessage // the body's field, checked by checkID
	p      Principal
	object string // the policy object authorize decided, for the issuer
	resp   ticket.Response
	// page, when set, takes the answer instead of c's response writer: the
	// flow runs for a page that renders it (PageTicket).
	page *ticket.Answer
}

// begin starts the attempt and sets the headers every answer carries.
func (t *TicketRoute) begin(c *gin.Context) flow {
	f := flow{c: c, attempt: attempt{start: t.cfg.Now(), requestID: t.cfg.RequestID(c), clientIP: clientip.Of(c, &t.cfg.Logger)}}
	h := c.Writer.Header()
	h["Cache-Control"] = noStoreValue
	h["X-Request-Id"] = []string{f.requestID}
	return f
}

// readBody checks the content type and size and reads one strict JSON
// object holding the configured field only.
func (t *TicketRoute) readBody(f *flow) bool {
	r := f.c.Request
	if !isJSONContentType(r.Header.Get("Content-Type")) {
		return t.refuse(f, http.StatusUnsupportedMediaType, ReasonUnsupportedMediaType, bodyUnsupportedMediaType)
	}
	if r.ContentLength > MaxBodyBytes {
		return t.refuse(f, http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, bodyTooLarge)
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(f.c.Writer, r.Body, MaxBodyBytes))
		if err != nil {
			if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
				return t.refuse(f, http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, bodyTooLarge)
			}
			f.err = err
			return t.refuse(f, http.StatusBadRequest, ReasonMalformedJSON, bodyMalformed)
		}
	}
	rawID, reason := parseBody(body, t.cfg.Field)
	switch reason {
	case "":
		f.rawID = rawID
		return true
	case ReasonUnknownField, ReasonDuplicateField:
		return t.refuse(f, http.StatusBadRequest, reason, t.bodyFields)
	default:
		return t.refuse(f, http.StatusBadRequest, reason, bodyMalformed)
	}
}

// checkOrigin refuses a page of another site, which must not get a ticket
// with the user's cookies (CSRF). verify is the origin rule of the request:
// origins.verify for the ticket route's fetch, origins.verifyPage for a page
// navigation (PageTicket).
func (t *TicketRoute) checkOrigin(f *flow, verify func(*http.Request) (string, bool)) bool {
	origin, ok := verify(f.c.Request)
	if !ok {
		return t.refuse(f, http.StatusForbidden, ReasonCrossSite, bodyForbidden)
	}
	f.origin = origin
	return true
}

// identify asks Config.Identify who is asking.
func (t *TicketRoute) identify(f *flow) bool {
	p, err := t.cfg.Identify(f.c)
	if err != nil || p.Subject == "" {
		f.err = err
		return t.refuse(f, http.StatusUnauthorized, ReasonUnauthenticated, bodyUnauthorized)
	}
	f.p, f.user, f.tenant = p, p.Subject, p.Tenant
	return true
}

// checkID checks the shape of the requested resource id.
func (t *TicketRoute) checkID(f *flow) bool {
	id, reason := parseID(f.rawID)
	switch reason {
	case "":
		f.resource, f.appSlug = id, t.cfg.AppSlug(id)
		return true
	case ReasonMissingID:
		return t.fail(f, http.StatusBadRequest, audit.OutcomeDenied, reason, t.bodyMissing)
	default:
		return t.fail(f, http.StatusBadRequest, audit.OutcomeDenied, reason, t.bodyInvalid)
	}
}

// authorize checks tenant status, role and ownership: the decider checks
// all three and says which failed; the client gets the same 403 for each.
func (t *TicketRoute) authorize(f *flow) bool {
	if f.p.Tenant == "" {
		return t.fail(f, http.StatusForbidden, audit.OutcomeDenied, ReasonNoTenant, bodyForbidden)
	}
	r := f.c.Request
	f.object = t.cfg.Object(f.resource)
	d, err := t.cfg.Decider.Decide(r.Context(), policy.Request{
		Subject: f.p.Subject, Tenant: f.p.Tenant, Object: f.object, Action: t.cfg.Action,
	})
	if err != nil {
		f.err = err
		return t.fail(f, http.StatusServiceUnavailable, audit.OutcomeError, canceledOr(r, ReasonDeciderError), bodyServiceUnavailable)
	}
	if !d.Allowed {
		reason := string(d.Reason)
		if reason == "" || d.Reason == policy.ReasonAllowed {
			reason = string(policy.ReasonDeniedByRule)
		}
		return t.fail(f, http.StatusForbidden, audit.OutcomeDenied, reason, bodyForbidden)
	}
	return true
}

// checkRateLimit takes one of the user's tokens, refusing with 429 and
// Retry-After when there is none.
func (t *TicketRoute) checkRateLimit(f *flow) bool {
	if t.limiter == nil {
		return true
	}
	ok, wait := t.limiter.Allow(f.p.Subject, t.cfg.Now())
	if ok {
		return true
	}
	f.status, f.outcome, f.reason = http.StatusTooManyRequests, audit.OutcomeDenied, ReasonRateLimited
	if !t.record(&f.attempt) {
		t.write(f, http.StatusServiceUnavailable, bodyServiceUnavailable)
		return false
	}
	retry := strconv.FormatInt(ratelimit.CeilSeconds(wait), 10)
	if f.page != nil {
		f.page.RetryAfter = retry
	} else {
		f.c.Header("Retry-After", retry)
	}
	t.write(f, http.StatusTooManyRequests, bodyTooManyRequests)
	return false
}

// issue asks the Issuer for the ticket within IssueTimeout.
func (t *TicketRoute) issue(f *flow) bool {
	r := f.c.Request
	resp, err := t.callIssuer(r.Context(), ticket.Request{
		AppSlug:        f.appSlug,
		Tenant:         f.p.Tenant,
		Subject:        f.p.Subject,
		Resource:       f.resource,
		Object:         f.object,
		Action:         t.cfg.Action,
		EmbedderOrigin: f.origin,
		TTL:            t.cfg.TTL,
	})
	if err != nil {
		f.err = err
		switch {
		case errors.Is(err, ticket.ErrRejected):
			return t.fail(f, http.StatusForbidden, audit.OutcomeDenied, ReasonIssuerRejected, bodyForbidden)
		case errors.Is(err, context.DeadlineExceeded):
			return t.fail(f, http.StatusServiceUnavailable, audit.OutcomeError, ReasonIssuerTimeout, bodyTicketUnavailable)
		case errors.Is(err, ticket.ErrUnavailable), errors.Is(err, context.Canceled):
			return t.fail(f, http.StatusServiceUnavailable, audit.OutcomeError, canceledOr(r, ReasonIssuerUnavailable), bodyTicketUnavailable)
		default:
			return t.fail(f, http.StatusBadGateway, audit.OutcomeError, ReasonIssuerFailed, bodyTicketFailed)
		}
	}
	f.resp = resp
	return true
}

// answer records the issued ticket (by its fingerprint) and sends it.
func (t *TicketRoute) answer(f *flow) {
	out, err := json.Marshal(f.resp)
	if err != nil { // a ticket.Response always marshals; kept for safety
		f.err = err
		t.fail(f, http.StatusBadGateway, audit.OutcomeError, ReasonIssuerFailed, bodyTicketFailed)
		return
	}
	f.ticketFP = ticket.Fingerprint(f.resp.Ticket)
	f.status, f.outcome, f.reason = http.StatusOK, audit.OutcomeIssued, ReasonIssued
	if !t.record(&f.attempt) {
		t.write(f, http.StatusServiceUnavailable, bodyServiceUnavailable)
		return
	}
	t.write(f, http.StatusOK, out)
}

// callIssuer calls the Issuer on this goroutine with a context that ends
// after IssueTimeout (an Issuer returns once its context is done: see
// ticket.Issuer), turns its panic into an error, so that a broken issuer
// fails one request with 502 instead of the whole route, and checks its
// answer.
func (t *TicketRoute) callIssuer(ctx context.Context, req ticket.Request) (resp ticket.Response, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.IssueTimeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			resp, err = ticket.Response{}, fmt.Errorf("%w: issuer panicked: %v", ticket.ErrUpstream, v)
		}
	}()
	resp, err = t.cfg.Issuer.Issue(ctx, req)
	if err != nil {
		return ticket.Response{}, err
	}
	if resp.Ticket == "" || resp.URL == "" || resp.ExpiresAt <= 0 {
		return ticket.Response{}, fmt.Errorf("%w: issuer answered without a ticket, url or expiry", ticket.ErrUpstream)
	}
	return resp, nil
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

// refuse answers a request refused before the route knows who is asking
// (readBody, checkOrigin, identify). Such a refusal is counted in the
// metrics and logged at most a few times a minute per client IP, but not
// given to the Auditor: anyone can send these, and a row for each would let
// an anonymous flood fill the audit store, and a full store stop issuance
// for everyone (docs/design.md "Invariants"). It returns false.
func (t *TicketRoute) refuse(f *flow, status int, reason string, body []byte) bool {
	f.status, f.outcome, f.reason = status, audit.OutcomeDenied, reason
	latency := t.cfg.Now().Sub(f.start)
	if t.refusals.Allow(f.clientIP, f.start) {
		t.log(&f.attempt, latency, nil, "")
	}
	t.metrics.observe(f.outcome, f.reason, latency)
	t.write(f, status, body)
	return false
}

// fail records a refused or failed attempt and answers it (503 instead when
// the Auditor fails). It returns false, for the step that ends the flow.
func (t *TicketRoute) fail(f *flow, status int, outcome, reason string, body []byte) bool {
	f.status, f.outcome, f.reason = status, outcome, reason
	if !t.record(&f.attempt) {
		status, body = http.StatusServiceUnavailable, bodyServiceUnavailable
	}
	t.write(f, status, body)
	return false
}

// write sends the answer, or hands it to the page that runs the flow.
func (t *TicketRoute) write(f *flow, status int, body []byte) {
	if f.page != nil {
		f.page.Status, f.page.Body = status, body
		return
	}
	c := f.c
	h := c.Writer.Header()
	h["Content-Type"] = jsonContentTypeValue
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	c.Writer.WriteHeader(status)
	_, _ = c.Writer.Write(body)
	c.Abort()
}
