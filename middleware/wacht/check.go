package wacht

import (
	"context"
	"encoding/json"
	"net/http"
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

// Check asks the gateway whether req's credential may make the request
// (POST /v1/authz/check). A denial is a CheckResponse with Allowed false, not
// an error; an error means there is no verdict, and the caller should fail
// closed.
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
	})
	if err != nil {
		return CheckResponse{}, err
	}
	return out.CheckResponse, nil
}
