package middleware

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/policy"
)

// Reasons the ticket route gives in audit events and metrics, besides the
// policy's own (policy.Reason: no_role, not_owner, tenant_suspended,
// tenant_deleted, denied_by_rule, unknown_tenant), which it passes through.
const (
	ReasonIssued               = string(policy.ReasonAllowed) // a ticket was issued
	ReasonUnsupportedMediaType = "unsupported_media_type"     // 415: not application/json
	ReasonBodyTooLarge         = "body_too_large"             // 413: over MaxBodyBytes
	ReasonMalformedJSON        = "malformed_json"             // 400: not one JSON object
	ReasonTrailingData         = "trailing_data"              // 400: bytes after the object
	ReasonUnknownField         = "unknown_field"              // 400: a field other than Config.Field
	ReasonDuplicateField       = "duplicate_field"            // 400: Config.Field twice
	ReasonCrossSite            = "cross_site"                 // 403: Origin / Sec-Fetch-Site check failed
	ReasonUnauthenticated      = "unauthenticated"            // 401: Identify failed
	ReasonMissingID            = "missing_id"                 // 400: no id, null or ""
	ReasonInvalidID            = "invalid_id"                 // 400: not [A-Za-z0-9_-]{1,64}
	ReasonNoTenant             = "no_tenant"                  // 403: Identify gave no tenant
	ReasonDeciderError         = "decider_error"              // 503: the Decider failed
	ReasonRateLimited          = "rate_limited"               // 429: per-user limit
	ReasonIssuerUnavailable    = "issuer_unavailable"         // 503: ticket.ErrUnavailable
	ReasonIssuerTimeout        = "issuer_timeout"             // 503: IssueTimeout passed
	ReasonIssuerFailed         = "issuer_failed"              // 502: ticket.ErrUpstream or another error
	ReasonIssuerRejected       = "issuer_rejected"            // 403: ticket.ErrRejected
	ReasonAuditFailed          = "audit_failed"               // 503: the Auditor failed
	ReasonCanceled             = "canceled"                   // 503: the client went away mid-request
)

// attempt is what the route learned about one request, for its audit event.
type attempt struct {
	start     time.Time
	status    int
	outcome   string
	reason    string
	user      string
	tenant    string
	resource  string
	appSlug   string
	ticketFP  string
	requestID string
	clientIP  string
	origin    string
	err       error // the detail behind a 5xx, logged, never sent
}

func (a *attempt) event(latency time.Duration) audit.Event {
	e := audit.Event{
		Time:              a.start,
		Action:            audit.ActionTicketIssue,
		Outcome:           a.outcome,
		Reason:            a.reason,
		Actor:             a.user,
		Tenant:            a.tenant,
		Resource:          a.resource,
		AppSlug:           a.appSlug,
		TicketFingerprint: a.ticketFP,
		RequestID:         a.requestID,
		ClientIP:          a.clientIP,
		Latency:           latency,
	}
	if a.err != nil {
		e.Detail = a.err.Error()
	}
	return e
}

// record sends the attempt's event to the Auditor (when set) and then to the
// log, once, with its final outcome. It returns false when the Auditor
// failed: the caller must then answer 503 instead of what it decided.
func (t *TicketRoute) record(a *attempt) bool {
	latency := t.cfg.Now().Sub(a.start)
	ok := true
	var auditErr error
	var decided string
	if t.cfg.Auditor != nil {
		ctx, cancel := context.WithTimeout(context.Background(), t.cfg.IssueTimeout)
		auditErr = t.cfg.Auditor.Record(ctx, a.event(latency))
		cancel()
		if auditErr != nil {
			ok = false
			decided = a.outcome + "/" + a.reason
			a.outcome, a.reason, a.status = audit.OutcomeError, ReasonAuditFailed, 503
		}
	}
	t.log(a, latency, auditErr, decided)
	t.metrics.observe(a.outcome, a.reason, latency)
	return ok
}

func (t *TicketRoute) log(a *attempt, latency time.Duration, auditErr error, decided string) {
	level := zerolog.InfoLevel
	if a.outcome == audit.OutcomeError {
		level = zerolog.ErrorLevel
	}
	e := t.auditLog.WithLevel(level)
	if e == nil {
		return
	}
	e = e.Str("event", audit.ActionTicketIssue).
		Str("outcome", a.outcome).
		Str("reason", a.reason).
		Int("status", a.status).
		Str("user", a.user).
		Str("tenant", a.tenant).
		Str("deployment", a.resource).
		Str("app_slug", a.appSlug).
		Str("ticket_fp", a.ticketFP).
		Str("origin", a.origin).
		Dur("latency", latency).
		Str("request_id", a.requestID).
		Str("client_ip", a.clientIP)
	if a.err != nil {
		e = e.AnErr("error", a.err)
	}
	if auditErr != nil {
		e = e.AnErr("audit_error", auditErr).Str("decided", decided)
	}
	e.Send()
}
