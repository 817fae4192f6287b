// Package audit defines the audit trail shared by the ticket route, the portal
// and the key store: one Event per ticket attempt and per key lifecycle action.
//
// It imports the standard library only, so every package can record events
// without importing another.
package audit

import (
	"context"
	"time"
)

// Actions recorded in the trail.
const (
	ActionTicketIssue     = "ticket.issue"     // an attempt at the ticket route
	ActionTicketExchanged = "ticket.exchanged" // the portal accepted a ticket
	ActionTicketRejected  = "ticket.rejected"  // the portal refused a ticket
	ActionSessionExpired  = "session.expired"  // a portal page session ended
	ActionKeyCreated      = "key.created"
	ActionKeyRotated      = "key.rotated"
	ActionKeyRevoked      = "key.revoked"
	ActionAppCreated      = "app.created"
	ActionAppUpdated      = "app.updated"
	ActionAppDeleted      = "app.deleted"
)

// Outcomes of an event.
const (
	OutcomeIssued  = "issued"  // a ticket was issued
	OutcomeDenied  = "denied"  // the request was refused by a check
	OutcomeError   = "error"   // the request failed for a reason not the caller's
	OutcomeSuccess = "success" // any other action that took effect
)

// Event is one entry of the audit trail. It never holds a secret or a ticket:
// TicketFingerprint is a short hash that lets support correlate log lines.
type Event struct {
	// ID is assigned by the store when the event is recorded.
	ID string `json:"id,omitempty"`
	// Time is when the action happened.
	Time time.Time `json:"time"`
	// Action is one of the Action* constants.
	Action string `json:"action"`
	// Outcome is one of the Outcome* constants.
	Outcome string `json:"outcome"`
	// Reason says why: the check that refused the request, or the error class.
	Reason string `json:"reason,omitempty"`
	// Actor is the user (or "backend-api", "cli:<user>") who acted.
	Actor string `json:"actor,omitempty"`
	// Tenant is the tenant the action concerns.
	Tenant string `json:"tenant,omitempty"`
	// Resource is the resource id the request named (the deployment id).
	Resource string `json:"resource,omitempty"`
	// AppSlug is the API auth app concerned.
	AppSlug string `json:"app_slug,omitempty"`
	// KeyID is the key concerned, for key actions.
	KeyID string `json:"key_id,omitempty"`
	// TicketFingerprint identifies the ticket without revealing it.
	TicketFingerprint string `json:"ticket_fp,omitempty"`
	// RequestID correlates the event with the HTTP request.
	RequestID string `json:"request_id,omitempty"`
	// ClientIP is the client's address as the server saw it: the address a
	// trusted proxy forwarded, else the connection's (package middleware:
	// "Client IP behind proxies").
	ClientIP string `json:"client_ip,omitempty"`
	// Latency is how long the request took to decide.
	Latency time.Duration `json:"latency_ns,omitempty"`
	// Detail is free text for support (never a secret).
	Detail string `json:"detail,omitempty"`
}

// Auditor records events. Record must not return before the event is durable
// (or has failed to become so): callers fail closed on its error.
type Auditor interface {
	Record(ctx context.Context, e Event) error
}

// AuditorFunc adapts a function to the Auditor interface.
type AuditorFunc func(ctx context.Context, e Event) error

// Record calls f.
func (f AuditorFunc) Record(ctx context.Context, e Event) error { return f(ctx, e) }

// Query selects events from the trail; zero fields do not filter.
type Query struct {
	// Tenant restricts to one tenant.
	Tenant string
	// AppSlug restricts to one app.
	AppSlug string
	// Action restricts to one action (or, ending in ".", a family: "key.").
	Action string
	// Actor restricts to one actor.
	Actor string
	// KeyID restricts to one key.
	KeyID string
	// Since and Until bound Time (Since inclusive, Until exclusive).
	Since, Until time.Time
	// Cursor continues a previous page (Page.NextCursor).
	Cursor string
	// Limit is the page size; 0 means 50, at most 1000.
	Limit int
}

// Page is one page of events, newest first.
type Page struct {
	// Events are the events of this page, newest first.
	Events []Event `json:"events"`
	// NextCursor continues with older events; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Reader queries the trail.
type Reader interface {
	QueryAudit(ctx context.Context, q Query) (Page, error)
}
