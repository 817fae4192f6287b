package wachtapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/portal"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// rateLimits are an app's own rules (Wacht's rate_limits).
type rateLimits = []ratelimit.SchemeRule

// appJSON is an app on the wire: Wacht's fields, organization_id = tenant,
// and the allowed_origins extension.
type appJSON struct {
	DeploymentID        string     `json:"deployment_id"`
	AppSlug             string     `json:"app_slug"`
	Name                string     `json:"name"`
	KeyPrefix           string     `json:"key_prefix"`
	Description         string     `json:"description"`
	IsActive            bool       `json:"is_active"`
	Permissions         []string   `json:"permissions"`
	Resources           []string   `json:"resources"`
	RateLimits          rateLimits `json:"rate_limits"`
	RateLimitSchemeSlug string     `json:"rate_limit_scheme_slug,omitempty"`
	OrganizationID      string     `json:"organization_id"`
	AllowedOrigins      []string   `json:"allowed_origins"`
	// Messages is the messages extension: the app's portal texts by key
	// (portal.Messages).
	Messages  map[string]string `json:"messages,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	DeletedAt *time.Time        `json:"deleted_at"`
}

func toAppJSON(a keystore.App) appJSON {
	return appJSON{
		DeploymentID: a.DeploymentID, AppSlug: a.Slug, Name: a.Name, KeyPrefix: a.KeyPrefix,
		Description: a.Description, IsActive: a.IsActive, Permissions: nonNil(a.Permissions),
		Resources: nonNil(a.Resources), RateLimits: nonNil(a.RateLimits), RateLimitSchemeSlug: a.RateLimitSchemeSlug,
		OrganizationID: a.Tenant, AllowedOrigins: nonNil(a.AllowedOrigins), Messages: a.Messages,
		CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC(), DeletedAt: utcPtr(a.DeletedAt),
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

type createAppRequest struct {
	AppSlug             string     `json:"app_slug"`
	Name                string     `json:"name"`
	KeyPrefix           string     `json:"key_prefix"`
	Description         string     `json:"description"`
	Permissions         []string   `json:"permissions"`
	Resources           []string   `json:"resources"`
	RateLimits          rateLimits `json:"rate_limits"`
	RateLimitSchemeSlug string     `json:"rate_limit_scheme_slug"`
	UserID              string     `json:"user_id"`
	OrganizationID      string     `json:"organization_id"`
	WorkspaceID         string     `json:"workspace_id"`
	// Extensions.
	DeploymentID   string   `json:"deployment_id"`
	AllowedOrigins []string `json:"allowed_origins"`
	// IsActive may only be true: an app is created active.
	IsActive *bool             `json:"is_active"`
	Messages map[string]string `json:"messages"`
}

func (a *API) createApp(c *gin.Context) {
	var req createAppRequest
	if !decodeBody(c, &req, false) ||
		!required(c, member{"app_slug", req.AppSlug}, member{"name", req.Name}, member{"key_prefix", req.KeyPrefix}) ||
		!validMessages(c, req.Messages) {
		return
	}
	tenant := req.OrganizationID
	if tenant == "" {
		tenant = a.defaultTenant
	}
	if tenant == "" {
		writeError(c, http.StatusBadRequest, "organization_id is required: it names the keyportal tenant that owns the app")
		return
	}
	deployment := req.DeploymentID
	if deployment == "" {
		if id, ok := strings.CutPrefix(req.AppSlug, "aa_"); ok {
			deployment = id
		}
	}
	if req.IsActive != nil && !*req.IsActive {
		writeError(c, http.StatusBadRequest, "is_active: an app is created active; disable it afterwards with PATCH is_active false")
		return
	}
	app, err := a.store.CreateApp(c.Request.Context(), keystore.App{
		DeploymentID: deployment, Slug: req.AppSlug, Name: req.Name, KeyPrefix: req.KeyPrefix,
		Description: req.Description, Permissions: req.Permissions,
		Resources: req.Resources, RateLimitSchemeSlug: req.RateLimitSchemeSlug, RateLimits: req.RateLimits, Tenant: tenant,
		AllowedOrigins: req.AllowedOrigins, Messages: req.Messages,
	}, a.actor(c))
	a.reply(c, toAppJSON(app), err, appErrText)
}

func (a *API) listApps(c *gin.Context) {
	all, ok := boolQuery(c, "include_inactive")
	if !ok {
		return
	}
	apps, err := a.store.ListApps(c.Request.Context(), keystore.AppFilter{
		Tenant: c.Query("organization_id"), IncludeInactive: all,
	})
	if err != nil {
		a.storeError(c, err, appErrText)
		return
	}
	out := make([]appJSON, 0, len(apps))
	for _, app := range apps {
		out = append(out, toAppJSON(app))
	}
	c.JSON(http.StatusOK, gin.H{"apps": out})
}

func (a *API) getApp(c *gin.Context) {
	app, ok := a.loadApp(c, c.Param("slug"))
	if !ok {
		return
	}
	c.JSON(http.StatusOK, toAppJSON(app))
}

// appUnusable is the 400 message for a request that needs an active app.
const appUnusable = "the API auth app is disabled or deleted"

// loadApp reads the app named slug; when there is none, or the store fails,
// it has answered (404 "API auth app not found", or the error's class) and
// returns false.
func (a *API) loadApp(c *gin.Context, slug string) (keystore.App, bool) {
	app, err := a.store.GetApp(c.Request.Context(), slug)
	if err != nil {
		a.storeError(c, err, appErrText)
		return keystore.App{}, false
	}
	return app, true
}

// usableApp is loadApp for requests that need an active, undeleted app: a
// disabled or deleted one is answered 400 and gives false.
func (a *API) usableApp(c *gin.Context, slug string) (keystore.App, bool) {
	app, ok := a.loadApp(c, slug)
	if ok && !app.Usable() {
		writeError(c, http.StatusBadRequest, appUnusable)
		return keystore.App{}, false
	}
	return app, ok
}

type updateAppRequest struct {
	Name                *string            `json:"name"`
	KeyPrefix           *string            `json:"key_prefix"`
	Description         *string            `json:"description"`
	IsActive            *bool              `json:"is_active"`
	Permissions         *[]string          `json:"permissions"`
	Resources           *[]string          `json:"resources"`
	RateLimits          *rateLimits        `json:"rate_limits"`
	RateLimitSchemeSlug *string            `json:"rate_limit_scheme_slug"`
	OrganizationID      *string            `json:"organization_id"`
	AllowedOrigins      *[]string          `json:"allowed_origins"`
	DeploymentID        *string            `json:"deployment_id"`
	Messages            *map[string]string `json:"messages"`
}

// validMessages checks an app's portal texts with the portal's own rule
// (portal.ParseMessages): an unknown key or a text the page may not show
// is answered 400 with what is wrong, and gives false.
func validMessages(c *gin.Context, texts map[string]string) bool {
	if _, err := portal.ParseMessages(texts); err != nil {
		writeError(c, http.StatusBadRequest, err.Error())
		return false
	}
	return true
}

func (a *API) updateApp(c *gin.Context) {
	var req updateAppRequest
	if !decodeBody(c, &req, false) {
		return
	}
	cur, ok := a.loadApp(c, c.Param("slug"))
	if !ok {
		return
	}
	if cur.DeletedAt != nil {
		writeError(c, http.StatusNotFound, "API auth app not found (deleted)")
		return
	}
	// Fields an app keeps for life: a PATCH may repeat them, not change them.
	for _, f := range []struct {
		name     string
		sent     *string
		cur, why string
	}{
		{"key_prefix", req.KeyPrefix, cur.KeyPrefix, "existing keys carry it"},
		{"organization_id", req.OrganizationID, cur.Tenant, "an app stays with its tenant"},
		{"deployment_id", req.DeploymentID, cur.DeploymentID, "an app's keys protect the one deployment it was created for"},
	} {
		if f.sent != nil && *f.sent != f.cur {
			writeError(c, http.StatusBadRequest, f.name+" cannot be changed: "+f.why)
			return
		}
	}
	if req.Messages != nil && !validMessages(c, *req.Messages) {
		return
	}
	app, err := a.store.UpdateApp(c.Request.Context(), cur.Slug, keystore.AppPatch{
		Name: req.Name, Description: req.Description, IsActive: req.IsActive,
		Permissions: req.Permissions, Resources: req.Resources, AllowedOrigins: req.AllowedOrigins,
		Messages:            req.Messages,
		RateLimitSchemeSlug: req.RateLimitSchemeSlug, RateLimits: req.RateLimits,
	}, a.actor(c))
	a.reply(c, toAppJSON(app), err, errText{notFound: appErrText.notFound, inactive: "API auth app not found (deleted)"})
}

func (a *API) deleteApp(c *gin.Context) {
	err := a.store.DeleteApp(c.Request.Context(), c.Param("slug"), a.actor(c))
	a.reply(c, gin.H{}, err, errText{notFound: appErrText.notFound, inactive: "API auth app not found (deleted already)"})
}
