package wacht

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// Ticket types Wacht knows.
const (
	TicketAPIAuthAccess    = "api_auth_access"
	TicketImpersonation    = "impersonation"
	TicketAgentAccess      = "agent_access"
	TicketWebhookAppAccess = "webhook_app_access"
)

// TicketRequest asks for one session ticket.
type TicketRequest struct {
	// Type is the ticket type; default TicketAPIAuthAccess.
	Type string
	// AppSlug is the API auth app the portal page manages; required for
	// TicketAPIAuthAccess.
	AppSlug string
	// ExpiresIn is the ticket's lifetime, sent in whole seconds (rounded up).
	// Zero leaves it to the server (Wacht: 12 hours).
	ExpiresIn time.Duration
	// UserID is the user the ticket is issued to; optional.
	UserID string
	// EmbedderOrigin (keyportal's extension, which Wacht ignores) is the
	// origin of the page that will frame the portal, one of the app's
	// allowed_origins; empty leaves the choice to the server (keyportal:
	// the app's first allowed origin).
	EmbedderOrigin string
}

type ticketBody struct {
	TicketType     string `json:"ticket_type"`
	APIAuthAppSlug string `json:"api_auth_app_slug,omitempty"`
	ExpiresIn      int64  `json:"expires_in,omitempty"`
	UserID         string `json:"user_id,omitempty"`
	EmbedderOrigin string `json:"embedder_origin,omitempty"`
}

// ticketReply checks that a 2xx ticket body is usable before it is handed on.
type ticketReply ticket.Response

func (t *ticketReply) validate() string {
	switch {
	case t.Ticket == "":
		return "no ticket in the response"
	case t.ExpiresAt <= 0:
		return "no expires_at in the response"
	case t.URL == "":
		return "no url in the response"
	}
	// The URL goes into an iframe's src: only http(s) pages, never
	// javascript: or data: (and never quote it, it holds the ticket).
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "url is not an absolute http(s) URL"
	}
	return ""
}

// CreateTicket asks for a session ticket (POST /session/tickets). The ticket
// in the response is a secret: do not log it.
func (c *Client) CreateTicket(ctx context.Context, req TicketRequest) (ticket.Response, error) {
	body := ticketBody{TicketType: req.Type, APIAuthAppSlug: req.AppSlug, UserID: req.UserID, EmbedderOrigin: req.EmbedderOrigin}
	if body.TicketType == "" {
		body.TicketType = TicketAPIAuthAccess
	}
	if body.TicketType == TicketAPIAuthAccess && req.AppSlug == "" {
		return ticket.Response{}, &inputError{msg: "CreateTicket: AppSlug is required for " + TicketAPIAuthAccess}
	}
	if req.ExpiresIn < 0 {
		return ticket.Response{}, &inputError{msg: fmt.Sprintf("CreateTicket: ExpiresIn %s is negative", req.ExpiresIn)}
	}
	if req.ExpiresIn > 0 {
		body.ExpiresIn = int64((req.ExpiresIn + time.Second - 1) / time.Second)
	}
	var out ticketReply
	err := c.do(ctx, call{method: http.MethodPost, path: "/session/tickets", in: body, out: &out})
	if err != nil {
		return ticket.Response{}, err
	}
	return ticket.Response(out), nil
}

// Issue implements ticket.Issuer: it asks Wacht for an api_auth_access ticket
// for req.AppSlug and req.Subject, living req.TTL (ticket.DefaultTTL if zero: Wacht's own
// default, 12 hours, is far too long for an embed ticket).
//
// Errors wrap the ticket package's classes as well as this package's:
// ticket.ErrUnavailable when no answer came, Wacht answered 503 or rate
// limited us; ticket.ErrRejected for 400, 403 and 404 (bad input, unknown
// app); ticket.ErrUpstream for anything else, including a 401 (the backend
// API key is wrong: a configuration error, not the user's) and a success
// without a usable ticket.
func (c *Client) Issue(ctx context.Context, req ticket.Request) (ticket.Response, error) {
	ttl := req.TTL
	if ttl <= 0 {
		ttl = ticket.DefaultTTL
	}
	resp, err := c.CreateTicket(ctx, TicketRequest{
		Type:      TicketAPIAuthAccess,
		AppSlug:   req.AppSlug,
		ExpiresIn: ttl,
		UserID:    req.Subject,
		// keyportal binds the ticket to the page's origin; Wacht ignores it.
		EmbedderOrigin: req.EmbedderOrigin,
	})
	if err != nil {
		return ticket.Response{}, fmt.Errorf("%w: %w", issuerClass(err), err)
	}
	return resp, nil
}

// issuerClass maps an error of this package to the ticket package's classes.
func issuerClass(err error) error {
	var ae *APIError
	switch {
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrRateLimited):
		return ticket.ErrUnavailable
	case errors.Is(err, ErrBadRequest), errors.Is(err, ErrNotFound):
		return ticket.ErrRejected
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
		return ticket.ErrRejected
	default:
		return ticket.ErrUpstream
	}
}

var _ ticket.Issuer = (*Client)(nil)
