package backend

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware/apikey"
)

// checkMethods are the methods the gateway check accepts (as Wacht's).
var checkMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

type checkRequest struct {
	Principal struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"principal"`
	Resource            string   `json:"resource"`
	Method              string   `json:"method"`
	ClientIP            string   `json:"client_ip"`
	UserAgent           string   `json:"user_agent"`
	RequiredPermissions []string `json:"required_permissions"`
}

type checkIdentity struct {
	KeyID          string `json:"key_id"`
	DeploymentID   string `json:"deployment_id"`
	AppSlug        string `json:"app_slug"`
	KeyName        string `json:"key_name"`
	OrganizationID string `json:"organization_id"`
}

// checkResponse is Wacht's gateway verdict, plus the extension detail (the
// keyportal reason of a refusal) and, on 401, Wacht's error list.
type checkResponse struct {
	RequestID   string            `json:"request_id"`
	Allowed     bool              `json:"allowed"`
	Reason      *string           `json:"reason"`
	BlockedRule *string           `json:"blocked_rule"`
	Identity    *checkIdentity    `json:"identity"`
	Permissions []string          `json:"permissions"`
	Metadata    map[string]any    `json:"metadata"`
	RateLimits  []struct{}        `json:"rate_limits"`
	RetryAfter  *int64            `json:"retry_after"`
	Headers     map[string]string `json:"headers"`
	Detail      string            `json:"detail,omitempty"`
	Errors      []errorItem       `json:"errors,omitempty"`
}

func (a *API) check(c *gin.Context) {
	var req checkRequest
	if !decodeBody(c, &req, false) {
		return
	}
	method := strings.ToUpper(strings.TrimSpace(req.Method))
	switch {
	case req.Principal.Type != "api_key":
		writeError(c, http.StatusBadRequest, `principal.type must be "api_key"`)
		return
	case !slices.Contains(checkMethods, method):
		writeError(c, http.StatusBadRequest, "method must be one of "+strings.Join(checkMethods, ", "))
		return
	case strings.TrimSpace(req.Resource) == "":
		writeError(c, http.StatusBadRequest, "resource is required")
		return
	}
	required := make([]string, 0, len(req.RequiredPermissions))
	for _, p := range req.RequiredPermissions {
		if p = strings.TrimSpace(p); p != "" {
			required = append(required, p)
		}
	}
	resp := checkResponse{
		RequestID:   newRequestID(),
		Permissions: []string{},
		RateLimits:  []struct{}{},
		Headers:     map[string]string{},
	}
	id, err := a.verifier.Verify(c.Request.Context(), strings.TrimSpace(req.Principal.Value), required)
	if id != nil {
		resp.Identity = &checkIdentity{
			KeyID: id.KeyID, DeploymentID: id.DeploymentID, AppSlug: id.AppSlug,
			KeyName: id.KeyName, OrganizationID: id.Tenant,
		}
		resp.Permissions = nonNil(id.Permissions)
		resp.Metadata = id.Metadata
	}
	switch {
	case err == nil:
		resp.Allowed = true
		c.JSON(http.StatusOK, resp)
	case errors.Is(err, apikey.ErrForbidden):
		reason := string(apikey.ReasonPermissionDenied)
		resp.Reason, resp.BlockedRule, resp.Detail = &reason, &reason, reason
		c.JSON(http.StatusOK, resp)
	case errors.Is(err, apikey.ErrInvalid):
		resp.Detail = string(apikey.ReasonOf(err))
		resp.Errors = []errorItem{{Message: err.Error(), Code: http.StatusUnauthorized}}
		c.JSON(http.StatusUnauthorized, resp)
	default:
		a.log.Error().Err(err).Msg("backend: key verification unavailable")
		writeError(c, http.StatusServiceUnavailable, "key verification is unavailable, try again")
	}
}
