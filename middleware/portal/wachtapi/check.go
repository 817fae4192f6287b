package wachtapi

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/internal/clientip"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/ratelimit"
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

// checkRateLimit is one rule's count in a check answer, as Wacht's.
type checkRateLimit struct {
	Rule      string `json:"rule"`
	Remaining int    `json:"remaining"`
	Limit     int    `json:"limit"`
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
	RateLimits  []checkRateLimit  `json:"rate_limits"`
	RetryAfter  *int64            `json:"retry_after"`
	Headers     map[string]string `json:"headers"`
	Detail      string            `json:"detail,omitempty"`
	Errors      []errorItem       `json:"errors,omitempty"`
}

func (a *API) check(c *gin.Context) {
	start := time.Now()
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
		RateLimits:  []checkRateLimit{},
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
		if a.limits.Len() > 0 || id.RateLimits().Len() > 0 {
			a.rateLimit(c, id, req.Resource, req.ClientIP, &resp)
		}
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
	a.recordCheck(c, start, &req, &resp, err)
}

// rateLimit counts an allowed key's check against every rule that applies
// to resource (Config.RateLimits, then the key's app's scheme and
// rate_limits), as RequireAPIKey counts a request (ratelimit.Decide), and
// fills in rate_limits and the RateLimit headers; over a rule it turns the
// answer into a refusal (reason "rate_limited", blocked_rule the rule's
// name, retry_after in seconds). clientIP is the end user's address the
// gateway reports; when absent, the caller's.
func (a *API) rateLimit(c *gin.Context, id *apikey.Identity, resource, clientIP string, resp *checkResponse) {
	if clientIP = strings.TrimSpace(clientIP); clientIP == "" {
		clientIP = clientip.Of(c, &a.log)
	}
	d, err := ratelimit.Decide(c.Request.Context(), a.limiter, ratelimit.Subject{KeyID: id.KeyID,
		DeploymentID: id.DeploymentID, AppSlug: id.AppSlug, ClientIP: clientIP, Path: strings.TrimSpace(resource)},
		a.limits, id.RateLimits())
	if err != nil {
		// Fail open, as RequireAPIKey: limits guard capacity, not access.
		if a.limiterLogged.Allow() {
			a.log.Warn().Err(err).Msg("backend: rate limiter unavailable; checks allowed without limits")
		}
		return
	}
	if len(d.Counted) == 0 {
		return // no rule applies to this resource
	}
	for _, r := range d.Counted {
		resp.RateLimits = append(resp.RateLimits, checkRateLimit{Rule: r.Rule, Remaining: r.Result.Remaining, Limit: r.Result.Limit})
	}
	resp.Headers["RateLimit-Limit"] = strconv.Itoa(d.Shown.Limit)
	resp.Headers["RateLimit-Remaining"] = strconv.Itoa(d.Shown.Remaining)
	resp.Headers["RateLimit-Reset"] = strconv.FormatInt(ratelimit.CeilSeconds(d.Shown.Reset), 10)
	if d.Allowed {
		return
	}
	retry := ratelimit.CeilSeconds(d.Shown.RetryAfter)
	reason, rule := "rate_limited", d.Rule
	resp.Allowed = false
	resp.Reason, resp.BlockedRule, resp.RetryAfter, resp.Detail = &reason, &rule, &retry, reason
	resp.Headers["Retry-After"] = strconv.FormatInt(retry, 10)
}
