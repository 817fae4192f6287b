package wacht

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// RateLimitScheme is a named set of rate-limit rules that apps apply by
// naming it in their RateLimitSchemeSlug, with the wire fields of Wacht's
// backend API. Times are zero when absent.
type RateLimitScheme struct {
	ID           string      `json:"id,omitempty"`
	DeploymentID string      `json:"deployment_id,omitempty"`
	Slug         string      `json:"slug"`
	Name         string      `json:"name"`
	Description  string      `json:"description,omitempty"`
	Rules        []RateLimit `json:"rules"`
	CreatedAt    time.Time   `json:"created_at,omitzero"`
	UpdatedAt    time.Time   `json:"updated_at,omitzero"`
}

// UnmarshalJSON decodes a scheme, reading its times leniently.
func (s *RateLimitScheme) UnmarshalJSON(b []byte) error {
	type plain RateLimitScheme
	aux := struct {
		*plain
		CreatedAt wireTime `json:"created_at"`
		UpdatedAt wireTime `json:"updated_at"`
	}{plain: (*plain)(s)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	s.CreatedAt, s.UpdatedAt = time.Time(aux.CreatedAt), time.Time(aux.UpdatedAt)
	return nil
}

func (s *RateLimitScheme) validate() string {
	if s.Slug == "" {
		return "no slug in the rate limit scheme"
	}
	return ""
}

// CreateRateLimitSchemeRequest creates a scheme. Slug and Name are
// required.
type CreateRateLimitSchemeRequest struct {
	Slug        string      `json:"slug"`
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Rules       []RateLimit `json:"rules"`
}

// UpdateRateLimitSchemeRequest changes some fields of a scheme; nil fields
// are not sent and stay as they are.
type UpdateRateLimitSchemeRequest struct {
	Name        *string      `json:"name,omitempty"`
	Description *string      `json:"description,omitempty"`
	Rules       *[]RateLimit `json:"rules,omitempty"`
}

// schemeList reads {"schemes": [...]} and a bare array.
func schemeList() list[RateLimitScheme, *RateLimitScheme] {
	return list[RateLimitScheme, *RateLimitScheme]{field: "schemes"}
}

const schemesPath = "/api-auth/rate-limit-schemes"

func schemePath(slug string) (string, error) {
	s, err := pathSegment("scheme slug", slug)
	if err != nil {
		return "", err
	}
	return schemesPath + "/" + s, nil
}

// ListRateLimitSchemes lists the schemes (GET
// /api-auth/rate-limit-schemes).
func (c *Client) ListRateLimitSchemes(ctx context.Context) ([]RateLimitScheme, error) {
	l := schemeList()
	err := c.exec(ctx, call{method: http.MethodGet, path: schemesPath, out: &l})
	return l.items, err
}

// GetRateLimitScheme returns a scheme by slug (GET
// /api-auth/rate-limit-schemes/{slug}).
func (c *Client) GetRateLimitScheme(ctx context.Context, slug string) (RateLimitScheme, error) {
	return fetch[RateLimitScheme](ctx, c, call{method: http.MethodGet}.at(schemePath(slug)))
}

// CreateRateLimitScheme creates a scheme (POST
// /api-auth/rate-limit-schemes).
func (c *Client) CreateRateLimitScheme(ctx context.Context, req CreateRateLimitSchemeRequest) (RateLimitScheme, error) {
	if req.Rules == nil {
		req.Rules = []RateLimit{}
	}
	k := call{method: http.MethodPost, path: schemesPath, in: req}
	return fetch[RateLimitScheme](ctx, c, k.refuse(required("CreateRateLimitScheme", field{"Slug", req.Slug}, field{"Name", req.Name})))
}

// UpdateRateLimitScheme changes a scheme (PATCH
// /api-auth/rate-limit-schemes/{slug}) and returns it.
func (c *Client) UpdateRateLimitScheme(ctx context.Context, slug string, req UpdateRateLimitSchemeRequest) (RateLimitScheme, error) {
	return fetch[RateLimitScheme](ctx, c, call{method: http.MethodPatch, in: req}.at(schemePath(slug)))
}

// DeleteRateLimitScheme deletes a scheme (DELETE
// /api-auth/rate-limit-schemes/{slug}). keyportal refuses (409, a
// *APIError) while an app names it.
func (c *Client) DeleteRateLimitScheme(ctx context.Context, slug string) error {
	return c.exec(ctx, call{method: http.MethodDelete}.at(schemePath(slug)))
}
