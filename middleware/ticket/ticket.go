// Package ticket holds what the ticket route, the issuers, the portal and the
// browser shell share: the ticket response, the Issuer contract, the
// postMessage protocol, the defaults of the route (path, body field, ticket
// lifetime), the one rule for origins (ParseOrigin) and for request ids
// (RequestID).
//
// It imports the standard library only, so the WebAssembly shell can use it
// without linking any server code.
package ticket

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Response is the body of a successful ticket request, the same fields Wacht's
// POST /session/tickets answers with.
type Response struct {
	// Ticket is the opaque, single-use ticket. Never log or store it.
	Ticket string `json:"ticket"`
	// ExpiresAt is when the ticket stops being exchangeable, in unix seconds.
	ExpiresAt int64 `json:"expires_at"`
	// URL is the portal page that exchanges the ticket.
	URL string `json:"url"`
}

// Request is what an Issuer needs to issue one ticket.
type Request struct {
	// AppSlug names the API auth app whose keys the portal will manage
	// (by default "aa_<deploymentId>").
	AppSlug string
	// Tenant is the tenant the user acts in; the issuer may check that the
	// app belongs to it.
	Tenant string
	// Subject is the user the ticket is issued to.
	Subject string
	// Resource is the id of the resource the app belongs to (the deployment id).
	Resource string
	// Object and Action are the policy object and action the ticket route
	// decided for Subject in Tenant (e.g. "deployment:42",
	// "api_keys:manage"). The self-hosted portal seals them into the ticket
	// and its sessions, so that it can ask the same question of the policy
	// again on every exchange and key change (portal.Config.Decider). Empty
	// when the caller decided nothing (the backend API); Wacht's client does
	// not send them.
	Object, Action string
	// EmbedderOrigin is the origin of the page that will frame the portal
	// (scheme://host[:port]); the portal posts messages to it and nowhere else.
	EmbedderOrigin string
	// TTL is how long the ticket may wait before being exchanged.
	TTL time.Duration
}

// Issuer issues tickets for the key portal. The local portal and Wacht's
// hosted portal both implement it.
//
// Issue must return once ctx is done (its deadline passed or it was
// cancelled), as net/http handlers and oauth2 TokenSources do: pass ctx to
// every call that may wait (network, database, locks) and give up when it
// ends, returning an error that wraps ErrUnavailable and ctx.Err(). The
// ticket route calls Issue on the request's goroutine with a context that
// ends after its IssueTimeout; it answers when Issue returns, so an Issuer
// that ignores its context holds the request for as long as it takes.
type Issuer interface {
	Issue(ctx context.Context, req Request) (Response, error)
}

// IssuerFunc adapts a function to the Issuer interface.
type IssuerFunc func(ctx context.Context, req Request) (Response, error)

// Issue calls f.
func (f IssuerFunc) Issue(ctx context.Context, req Request) (Response, error) { return f(ctx, req) }

// Errors an Issuer returns, wrapped with detail, so that callers can map them
// to HTTP statuses with errors.Is without parsing messages.
var (
	// ErrUnavailable means the issuer could not be reached or did not answer
	// in time (the route answers 503).
	ErrUnavailable = errors.New("ticket: issuer unavailable")
	// ErrUpstream means the issuer answered, but not with a ticket: a server
	// error or a body that is not the contract (the route answers 502).
	ErrUpstream = errors.New("ticket: issuer failed")
	// ErrRejected means the issuer refused this request: the app does not
	// exist, is inactive, or belongs to another tenant (the route answers 403).
	ErrRejected = errors.New("ticket: issuer rejected the request")
)

// Fingerprint returns a short, non-reversible identifier of a ticket or secret
// for logs and audit events: the first 12 hex digits of its SHA-256.
func Fingerprint(secret string) string {
	if secret == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:6])
}
