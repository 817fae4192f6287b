package wacht

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// RateLimit is one rate-limit rule of an app.
type RateLimit struct {
	// Unit is "millisecond", "second", "minute", "hour", "day", "month",
	// "calendar_day" or "calendar_month".
	Unit string `json:"unit"`
	// Duration is how many Units the window spans.
	Duration int `json:"duration"`
	// MaxRequests is how many requests the window allows.
	MaxRequests int `json:"max_requests"`
	// Mode is "per_app", "per_key", "per_ip", "per_key_and_ip" or
	// "per_app_and_ip".
	Mode string `json:"mode,omitempty"`
	// Endpoints are the paths the rule applies to (a trailing "*" makes a
	// prefix); empty means every path.
	Endpoints []string `json:"endpoints,omitempty"`
	// Priority orders evaluation, higher first.
	Priority int `json:"priority,omitempty"`
}

// App is an API auth app, with the wire fields of Wacht's backend API. Times
// are zero when absent.
type App struct {
	ID                  string      `json:"id,omitempty"`
	DeploymentID        string      `json:"deployment_id"`
	AppSlug             string      `json:"app_slug"`
	Name                string      `json:"name"`
	KeyPrefix           string      `json:"key_prefix"`
	Description         string      `json:"description,omitempty"`
	IsActive            bool        `json:"is_active"`
	Permissions         []string    `json:"permissions,omitempty"`
	Resources           []string    `json:"resources,omitempty"`
	RateLimits          []RateLimit `json:"rate_limits,omitempty"`
	RateLimitSchemeSlug string      `json:"rate_limit_scheme_slug,omitempty"`
	UserID              string      `json:"user_id,omitempty"`
	OrganizationID      string      `json:"organization_id,omitempty"`
	WorkspaceID         string      `json:"workspace_id,omitempty"`
	// AllowedOrigins (keyportal's extension) are the origins that may embed
	// the app's portal page; nil when the server does not answer the field,
	// as Wacht does not.
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	// Messages (keyportal's extension) are the app's own texts of its portal
	// page, by key; nil when it has none or the server does not answer the
	// field, as Wacht does not.
	Messages  map[string]string `json:"messages,omitempty"`
	CreatedAt time.Time         `json:"created_at,omitzero"`
	UpdatedAt time.Time         `json:"updated_at,omitzero"`
	// DeletedAt is set once the app is (soft) deleted.
	DeletedAt time.Time `json:"deleted_at,omitzero"`
}

// UnmarshalJSON decodes an app, reading its times leniently.
func (a *App) UnmarshalJSON(b []byte) error {
	type plain App
	aux := struct {
		*plain
		CreatedAt wireTime `json:"created_at"`
		UpdatedAt wireTime `json:"updated_at"`
		DeletedAt wireTime `json:"deleted_at"`
	}{plain: (*plain)(a)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	a.CreatedAt, a.UpdatedAt, a.DeletedAt = time.Time(aux.CreatedAt), time.Time(aux.UpdatedAt), time.Time(aux.DeletedAt)
	return nil
}

func (a *App) validate() string {
	if a.AppSlug == "" {
		return "no app_slug in the app"
	}
	return ""
}

// CreateAppRequest creates an API auth app. AppSlug, Name and KeyPrefix are
// required. keyportal's extension fields are not sent when empty, so that a
// request to Wacht has only Wacht's fields.
type CreateAppRequest struct {
	AppSlug             string      `json:"app_slug"`
	Name                string      `json:"name"`
	KeyPrefix           string      `json:"key_prefix"`
	Description         string      `json:"description,omitempty"`
	Permissions         []string    `json:"permissions,omitempty"`
	Resources           []string    `json:"resources,omitempty"`
	RateLimits          []RateLimit `json:"rate_limits,omitempty"`
	RateLimitSchemeSlug string      `json:"rate_limit_scheme_slug,omitempty"`
	UserID              string      `json:"user_id,omitempty"`
	OrganizationID      string      `json:"organization_id,omitempty"`
	WorkspaceID         string      `json:"workspace_id,omitempty"`
	// DeploymentID (keyportal's extension) is the deployment the app's keys
	// protect; keyportal derives it from an aa_<id> slug when empty.
	DeploymentID string `json:"deployment_id,omitempty"`
	// AllowedOrigins (keyportal's extension) are the origins that may embed
	// the app's portal page, scheme://host[:port].
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	// Messages (keyportal's extension) are the app's own texts of its portal
	// page, by key (the keys of portal.Messages, such as "lang" and
	// "title"); keyportal refuses an unknown key with a 400.
	Messages map[string]string `json:"messages,omitempty"`
}

// UpdateAppRequest changes some fields of an app; nil fields are not sent and
// stay as they are.
type UpdateAppRequest struct {
	Name                *string      `json:"name,omitempty"`
	KeyPrefix           *string      `json:"key_prefix,omitempty"`
	Description         *string      `json:"description,omitempty"`
	IsActive            *bool        `json:"is_active,omitempty"`
	Permissions         *[]string    `json:"permissions,omitempty"`
	Resources           *[]string    `json:"resources,omitempty"`
	RateLimits          *[]RateLimit `json:"rate_limits,omitempty"`
	RateLimitSchemeSlug *string      `json:"rate_limit_scheme_slug,omitempty"`
	// AllowedOrigins (keyportal's extension) replaces the origins that may
	// embed the app's portal page.
	AllowedOrigins *[]string `json:"allowed_origins,omitempty"`
	// Messages (keyportal's extension) replaces the app's own texts of its
	// portal page; an empty map removes them.
	Messages *map[string]string `json:"messages,omitempty"`
}

// appList reads {"apps": [...]} and, as the npm SDK expects, a bare array.
func appList() list[App, *App] { return list[App, *App]{field: "apps"} }

// appPath is the path of the app slug, followed by rest ("" or "/keys"...).
func appPath(slug, rest string) (string, error) {
	s, err := pathSegment("app slug", slug)
	if err != nil {
		return "", err
	}
	return "/api-auth/apps/" + s + rest, nil
}

// CreateApp creates an API auth app (POST /api-auth/apps).
func (c *Client) CreateApp(ctx context.Context, req CreateAppRequest) (App, error) {
	k := call{method: http.MethodPost, path: "/api-auth/apps", in: req}
	return fetch[App](ctx, c, k.refuse(required("CreateApp", field{"AppSlug", req.AppSlug}, field{"Name", req.Name}, field{"KeyPrefix", req.KeyPrefix})))
}

// GetApp returns an app by slug (GET /api-auth/apps/{slug}).
func (c *Client) GetApp(ctx context.Context, slug string) (App, error) {
	return fetch[App](ctx, c, call{method: http.MethodGet}.at(appPath(slug, "")))
}

// ListApps lists the apps (GET /api-auth/apps); includeInactive adds the
// disabled and deleted ones.
func (c *Client) ListApps(ctx context.Context, includeInactive bool) ([]App, error) {
	var q url.Values
	if includeInactive {
		q = url.Values{"include_inactive": {"true"}}
	}
	l := appList()
	err := c.exec(ctx, call{method: http.MethodGet, path: "/api-auth/apps", query: q, out: &l})
	return l.items, err
}

// UpdateApp changes an app (PATCH /api-auth/apps/{slug}) and returns it.
func (c *Client) UpdateApp(ctx context.Context, slug string, req UpdateAppRequest) (App, error) {
	return fetch[App](ctx, c, call{method: http.MethodPatch, in: req}.at(appPath(slug, "")))
}

// DeleteApp soft-deletes an app (DELETE /api-auth/apps/{slug}).
func (c *Client) DeleteApp(ctx context.Context, slug string) error {
	return c.exec(ctx, call{method: http.MethodDelete}.at(appPath(slug, "")))
}
