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
		if len(a.limits) > 0 {
			a.rateLimit(c, id, req.ClientIP, &resp)
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

// rateLimit counts an allowed key's check against every rule, as
// RequireAPIKey counts a request, and fills in rate_limits and the
// RateLimit headers; over a rule it turns the answer into a refusal
// (reason and blocked_rule "rate_limited"/the rule, retry_after in
// seconds). clientIP is the end user's address the gateway reports; when
// absent, the caller's.
func (a *API) rateLimit(c *gin.Context, id *apikey.Identity, clientIP string, resp *checkResponse) {
	if clientIP = strings.TrimSpace(clientIP); clientIP == "" {
		clientIP = clientip.Of(c, &a.log)
	}
	checks := make([]ratelimit.Check, len(a.limits))
	for i, rule := range a.limits {
		checks[i] = ratelimit.Check{Rule: rule,
			Key: ratelimit.CounterKey(rule.Scope, id.KeyID, id.DeploymentID, id.AppSlug, clientIP)}
	}
	results := make([]ratelimit.Result, len(checks))
	if err := ratelimit.AllowAll(c.Request.Context(), a.limiter, checks, results); err != nil {
		// Fail open, as RequireAPIKey: limits guard capacity, not access.
		now, last := time.Now().UnixNano(), a.limiterLogged.Load()
		if now-last >= int64(time.Second) && a.limiterLogged.CompareAndSwap(last, now) {
			a.log.Warn().Err(err).Msg("backend: rate limiter unavailable; checks allowed without limits")
		}
		return
	}
	for i, r := range results {
		resp.RateLimits = append(resp.RateLimits, checkRateLimit{Rule: checks[i].Rule.String(), Remaining: r.Remaining, Limit: r.Limit})
	}
	shown, refused := ratelimit.Pick(results)
	resp.Headers["RateLimit-Limit"] = strconv.Itoa(shown.Limit)
	resp.Headers["RateLimit-Remaining"] = strconv.Itoa(shown.Remaining)
	resp.Headers["RateLimit-Reset"] = strconv.FormatInt(ratelimit.CeilSeconds(shown.Reset), 10)
	if refused < 0 {
		return
	}
	retry := ratelimit.CeilSeconds(shown.RetryAfter)
	reason, rule := "rate_limited", checks[refused].Rule.String()
	resp.Allowed = false
	resp.Reason, resp.BlockedRule, resp.RetryAfter, resp.Detail = &reason, &rule, &retry, reason
	resp.Headers["Retry-After"] = strconv.FormatInt(retry, 10)
}
