package wacht

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/keyportal/keyportal/internal/jsonx"
)

// PrincipalAPIKey is the principal type of an API key secret.
const PrincipalAPIKey = "api_key"

// Principal is what a gateway check verifies.
type Principal struct {
	// Type is the principal type; default PrincipalAPIKey.
	Type string `json:"type"`
	// Value is the credential itself (the key's secret). It never appears
	// in an error message.
	Value string `json:"value"`
}

// CheckRequest asks whether a credential may make a request
// (POST /v1/authz/check).
type CheckRequest struct {
	// Principal is the credential presented by the caller.
	Principal Principal `json:"principal"`
	// Resource is the path requested.
	Resource string `json:"resource"`
	// Method is the HTTP method requested.
	Method string `json:"method"`
	// ClientIP and UserAgent describe the caller, for rate limits and audit.
	ClientIP  string `json:"client_ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	// RequiredPermissions must all be held by the key.
	RequiredPermissions []string `json:"required_permissions,omitempty"`
}

// Identity is who a verified credential belongs to.
type Identity struct {
	KeyID                    string `json:"key_id"`
	DeploymentID             string `json:"deployment_id"`
	AppSlug                  string `json:"app_slug"`
	KeyName                  string `json:"key_name"`
	PrincipalType            string `json:"principal_type,omitempty"`
	OwnerUserID              string `json:"owner_user_id,omitempty"`
	OrganizationID           string `json:"organization_id,omitempty"`
	WorkspaceID              string `json:"workspace_id,omitempty"`
	OrganizationMembershipID string `json:"organization_membership_id,omitempty"`
	WorkspaceMembershipID    string `json:"workspace_membership_id,omitempty"`
}

// RateLimitState is the state of one rate-limit rule after a check.
type RateLimitState struct {
	Rule      string `json:"rule"`
	Remaining int64  `json:"remaining"`
	Limit     int64  `json:"limit"`
}

// Deny reasons of a CheckResponse.
const (
	ReasonPermissionDenied = "permission_denied"
	ReasonRateLimited      = "rate_limited"
	// ReasonInvalidKey is the reason of a key the gateway does not accept
	// at all (unknown, revoked, expired; Detail may say which), answered
	// with 401 and a verdict when the body names no reason of its own.
	ReasonInvalidKey = "invalid_key"
)

// CheckResponse is the gateway's verdict.
type CheckResponse struct {
	RequestID string `json:"request_id"`
	// Allowed is the verdict; the other fields say why and who.
	Allowed bool `json:"allowed"`
	// Reason is empty when allowed, else e.g. ReasonPermissionDenied or
	// ReasonRateLimited.
	Reason      string `json:"reason,omitempty"`
	BlockedRule string `json:"blocked_rule,omitempty"`
	// Identity is nil when the credential is unknown.
	Identity    *Identity        `json:"identity,omitempty"`
	Permissions []string         `json:"permissions"`
	Metadata    map[string]any   `json:"metadata,omitempty"`
	RateLimits  []RateLimitState `json:"rate_limits"`
	// RetryAfter is in seconds, when rate limited.
	RetryAfter int64 `json:"retry_after,omitempty"`
	// Headers are response headers the gateway suggests (rate-limit state).
	Headers map[string]string `json:"headers,omitempty"`
	// Detail is keyportal's extension naming why a key was refused
	// ("unknown", "revoked", "expired", "app_inactive", "tenant_inactive",
	// "malformed"...); empty from a gateway that does not send it.
	Detail string `json:"detail,omitempty"`
}

// checkReply requires "allowed" to be present: a body without a verdict is
// not a denial but a broken answer.
type checkReply struct {
	CheckResponse
	hasVerdict bool
}

func (r *checkReply) UnmarshalJSON(b []byte) error {
	var probe struct {
		Allowed *bool `json:"allowed"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return err
	}
	r.hasVerdict = probe.Allowed != nil
	return json.Unmarshal(b, &r.CheckResponse)
}

func (r *checkReply) validate() string {
	if !r.hasVerdict {
		return `no "allowed" verdict in the response`
	}
	return ""
}

// denial reads the body of an error status as the gateway's verdict on the
// key. Wacht's gateway (and keyportal's, middleware/portal/wachtapi) answers
// a key it does not accept — unknown, revoked, expired — with 401 and a body
// carrying "allowed": false; a refused backend API key gets 401 with Wacht's
// error list only. So a 401, 403 or 429 whose body holds a false verdict is
// a denial, and anything else stays an error. A denial without a reason
// gets the status's: ReasonInvalidKey, ReasonPermissionDenied,
// ReasonRateLimited.
func (r *checkReply) denial(status int, header http.Header, data []byte) bool {
	var fallback string
	switch status {
	case http.StatusUnauthorized:
		fallback = ReasonInvalidKey
	case http.StatusForbidden:
		fallback = ReasonPermissionDenied
	case http.StatusTooManyRequests:
		fallback = ReasonRateLimited
	default:
		return false
	}
	if err := jsonx.Decode(data, r, true); err != nil || !r.hasVerdict || r.Allowed {
		*r = checkReply{}
		return false
	}
	if r.Reason == "" {
		r.Reason = fallback
	}
	if r.RetryAfter == 0 && status == http.StatusTooManyRequests {
		r.RetryAfter = int64((parseRetryAfter(header.Get("Retry-After"), time.Now()) + time.Second - 1) / time.Second)
	}
	return true
}

// Check asks the gateway whether req's credential may make the request
// (POST /v1/authz/check). A denial is a CheckResponse with Allowed false and
// its Reason (ReasonInvalidKey for a key the gateway does not accept, with
// Detail naming why when the gateway says; ReasonPermissionDenied;
// ReasonRateLimited with RetryAfter), not an error, whatever status carried
// it. An error means there is no verdict, and the caller should fail closed:
// ErrUnauthorized when the backend API key was refused, ErrUnavailable when
// no answer came, and so on.
func (c *Client) Check(ctx context.Context, req CheckRequest) (CheckResponse, error) {
	if req.Principal.Type == "" {
		req.Principal.Type = PrincipalAPIKey
	}
	if req.Principal.Value == "" {
		return CheckResponse{}, &inputError{msg: "Check: Principal.Value is required"}
	}
	var out checkReply
	err := c.do(ctx, call{
		method:  http.MethodPost,
		path:    "/v1/authz/check",
		in:      req,
		out:     &out,
		secrets: []string{req.Principal.Value},
		answer:  out.denial,
	})
	if err != nil {
		return CheckResponse{}, err
	}
	return out.CheckResponse, nil
}
