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
	CreatedAt           time.Time   `json:"created_at,omitzero"`
	UpdatedAt           time.Time   `json:"updated_at,omitzero"`
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
// required.
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
}

// appList reads {"apps": [...]} and, as the npm SDK expects, a bare array.
type appList struct {
	Apps    []App
	present bool
}

func (l *appList) UnmarshalJSON(b []byte) error {
	return decodeList(b, "apps", &l.Apps, &l.present)
}

func (l *appList) validate() string {
	if !l.present {
		return `no "apps" list in the response`
	}
	for i := range l.Apps {
		if p := l.Apps[i].validate(); p != "" {
			return p
		}
	}
	return ""
}

// decodeList decodes either a bare JSON array or an object whose field named
// field holds the array; present reports whether the array was there.
func decodeList[T any](b []byte, field string, dst *[]T, present *bool) error {
	for _, c := range b {
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		if c == '[' {
			*present = true
			return json.Unmarshal(b, dst)
		}
		break
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	raw, ok := obj[field]
	if !ok {
		return nil
	}
	*present = true
	return json.Unmarshal(raw, dst)
}

func appPath(slug string) (string, error) {
	s, err := pathSegment("app slug", slug)
	if err != nil {
		return "", err
	}
	return "/api-auth/apps/" + s, nil
}

// CreateApp creates an API auth app (POST /api-auth/apps).
func (c *Client) CreateApp(ctx context.Context, req CreateAppRequest) (App, error) {
	switch {
	case req.AppSlug == "":
		return App{}, &inputError{msg: "CreateApp: AppSlug is required"}
	case req.Name == "":
		return App{}, &inputError{msg: "CreateApp: Name is required"}
	case req.KeyPrefix == "":
		return App{}, &inputError{msg: "CreateApp: KeyPrefix is required"}
	}
	var app App
	err := c.do(ctx, call{method: http.MethodPost, path: "/api-auth/apps", in: req, out: &app})
	return app, err
}

// GetApp returns an app by slug (GET /api-auth/apps/{slug}).
func (c *Client) GetApp(ctx context.Context, slug string) (App, error) {
	p, err := appPath(slug)
	if err != nil {
		return App{}, err
	}
	var app App
	err = c.do(ctx, call{method: http.MethodGet, path: p, out: &app})
	return app, err
}

// ListApps lists the apps (GET /api-auth/apps); includeInactive adds the
// disabled and deleted ones.
func (c *Client) ListApps(ctx context.Context, includeInactive bool) ([]App, error) {
	var q url.Values
	if includeInactive {
		q = url.Values{"include_inactive": {"true"}}
	}
	var l appList
	err := c.do(ctx, call{method: http.MethodGet, path: "/api-auth/apps", query: q, out: &l})
	return l.Apps, err
}

// UpdateApp changes an app (PATCH /api-auth/apps/{slug}) and returns it.
func (c *Client) UpdateApp(ctx context.Context, slug string, req UpdateAppRequest) (App, error) {
	p, err := appPath(slug)
	if err != nil {
		return App{}, err
	}
	var app App
	err = c.do(ctx, call{method: http.MethodPatch, path: p, in: req, out: &app})
	return app, err
}

// DeleteApp soft-deletes an app (DELETE /api-auth/apps/{slug}).
func (c *Client) DeleteApp(ctx context.Context, slug string) error {
	p, err := appPath(slug)
	if err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodDelete, path: p})
}
