package wachtapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/internal/clientip"
	"github.com/keyportal/keyportal/internal/safetext"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

// TicketTypeAPIAuthAccess is the only ticket type keyportal issues.
const TicketTypeAPIAuthAccess = "api_auth_access"

// maxUserIDLen bounds a ticket's user_id, in characters: the user is sealed
// into the ticket and the portal's session, which stay short enough to
// travel in a URL (a ticket with a much longer user could not be opened).
const maxUserIDLen = 128

// Ticket types Wacht knows but keyportal does not issue.
var otherTicketTypes = []string{"impersonation", "agent_access", "webhook_app_access"}

type ticketRequest struct {
	TicketType     string `json:"ticket_type"`
	APIAuthAppSlug string `json:"api_auth_app_slug"`
	ExpiresIn      *int64 `json:"expires_in"`
	UserID         string `json:"user_id"`
	// EmbedderOrigin (extension) is the origin of the page that frames the
	// portal; default the app's first allowed origin.
	EmbedderOrigin string `json:"embedder_origin"`
}

func (a *API) createTicket(c *gin.Context) {
	var req ticketRequest
	if !decodeBody(c, &req, false) || !required(c, member{"ticket_type", req.TicketType}) {
		return
	}
	switch {
	case slices.Contains(otherTicketTypes, req.TicketType):
		writeError(c, http.StatusBadRequest, "ticket_type "+req.TicketType+" is not supported by keyportal; use api_auth_access")
		return
	case req.TicketType != TicketTypeAPIAuthAccess:
		writeError(c, http.StatusBadRequest, "unknown ticket_type")
		return
	case req.APIAuthAppSlug == "":
		writeError(c, http.StatusBadRequest, "api_auth_app_slug is required for api_auth_access tickets")
		return
	case req.ExpiresIn != nil && *req.ExpiresIn < 0:
		writeError(c, http.StatusBadRequest, "expires_in must not be negative")
		return
	case utf8.RuneCountInString(req.UserID) > maxUserIDLen:
		writeError(c, http.StatusBadRequest, fmt.Sprintf("user_id must be at most %d characters", maxUserIDLen))
		return
	case safetext.Contains(req.UserID):
		writeError(c, http.StatusBadRequest, "user_id must be one line without control characters, bidi controls or invisible format characters")
		return
	}
	app, ok := a.usableApp(c, req.APIAuthAppSlug)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	origin := ""
	if req.EmbedderOrigin != "" {
		o, err := ticket.ParseOrigin(req.EmbedderOrigin)
		if err != nil {
			writeError(c, http.StatusBadRequest, "embedder_origin: "+err.Error())
			return
		}
		origin = o
	}
	switch {
	case origin == "" && len(app.AllowedOrigins) == 0:
		writeError(c, http.StatusBadRequest, "the API auth app has no allowed_origins: set them (PATCH) before issuing tickets")
		return
	case origin == "":
		origin = app.AllowedOrigins[0]
	case !ticket.ContainsOrigin(app.AllowedOrigins, origin):
		writeError(c, http.StatusBadRequest, "embedder_origin is not one of the app's allowed_origins")
		return
	}
	user := req.UserID
	if user == "" {
		user = ActorName
	}
	var ttl time.Duration
	if req.ExpiresIn != nil {
		// Clamp before converting: the portal clamps again to its maximum.
		ttl = time.Duration(min(*req.ExpiresIn, int64(24*time.Hour/time.Second))) * time.Second
	}
	status, err := a.tenantStatus(ctx, app.Tenant)
	var resp ticket.Response
	if err == nil && status == policy.TenantActive {
		resp, err = a.issuer.Issue(ctx, ticket.Request{
			AppSlug: app.Slug, Tenant: app.Tenant, Subject: user, Resource: app.DeploymentID,
			EmbedderOrigin: origin, TTL: ttl,
		})
	}
	ev := audit.Event{
		Time: a.now(), Action: audit.ActionTicketIssue, Outcome: audit.OutcomeIssued, Actor: ActorName,
		Tenant: app.Tenant, Resource: app.DeploymentID, AppSlug: app.Slug,
		TicketFingerprint: ticket.Fingerprint(resp.Ticket), RequestID: a.actor(c).RequestID,
		ClientIP: clientip.Of(c, &a.log), Detail: "backend API ticket for user " + user + ", embedder " + origin,
	}
	switch {
	case err == nil && status != policy.TenantActive:
		ev.Outcome, ev.Reason = audit.OutcomeDenied, "tenant_"+string(status)
	case errors.Is(err, ticket.ErrRejected):
		ev.Outcome, ev.Reason = audit.OutcomeDenied, "issuer_rejected"
	case err != nil:
		ev.Outcome, ev.Reason = audit.OutcomeError, "issuer_failed"
	}
	if aerr := a.store.Record(ctx, ev); aerr != nil {
		// Fail closed: an issuance that leaves no trace is not handed out.
		a.log.Error().Err(aerr).Str("app_slug", app.Slug).Msg("backend: recording the ticket attempt failed")
		writeError(c, http.StatusServiceUnavailable, "ticket issuance is unavailable, try again")
		return
	}
	switch {
	case err == nil && status != policy.TenantActive:
		writeError(c, http.StatusForbidden, "the app's organization is "+string(status)+": no tickets are issued for it")
	case err == nil:
		c.JSON(http.StatusOK, resp)
	case errors.Is(err, ticket.ErrRejected):
		a.log.Info().Err(err).Str("app_slug", app.Slug).Msg("backend: ticket refused")
		writeError(c, http.StatusBadRequest, "the ticket was refused for this app")
	case errors.Is(err, ticket.ErrUnavailable):
		a.log.Error().Err(err).Str("app_slug", app.Slug).Msg("backend: ticket issuer unavailable")
		writeError(c, http.StatusServiceUnavailable, "ticket issuance is unavailable, try again")
	default:
		a.log.Error().Err(err).Str("app_slug", app.Slug).Msg("backend: ticket issuance failed")
		writeError(c, http.StatusInternalServerError, "ticket issuance failed")
	}
}

// tenantStatus is the status of the app's tenant by Config.Tenants, active
// without one. A failing TenantStatuser is ticket.ErrUnavailable (503).
func (a *API) tenantStatus(ctx context.Context, tenant string) (policy.TenantStatus, error) {
	if a.tenants == nil {
		return policy.TenantActive, nil
	}
	st, err := a.tenants.TenantStatus(ctx, tenant)
	if err != nil {
		return "", fmt.Errorf("%w: tenant status of %q: %v", ticket.ErrUnavailable, tenant, err)
	}
	return st, nil
}
