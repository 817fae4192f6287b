package wachtapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/internal/jsonx"
	"github.com/keyportal/keyportal/middleware/keystore"
)

// MaxRotationGrace is the longest grace_period_seconds a rotation may ask.
const MaxRotationGrace = 30 * 24 * time.Hour

// keyJSON is a key on the wire: Wacht's fields (organization_id = tenant)
// plus created_by, rotated_from, grace_until and status.
type keyJSON struct {
	ID                       string         `json:"id"`
	DeploymentID             string         `json:"deployment_id"`
	AppSlug                  string         `json:"app_slug"`
	Name                     string         `json:"name"`
	KeyPrefix                string         `json:"key_prefix"`
	KeySuffix                string         `json:"key_suffix"`
	Permissions              []string       `json:"permissions"`
	OrgRolePermissions       []string       `json:"org_role_permissions"`
	WorkspaceRolePermissions []string       `json:"workspace_role_permissions"`
	Metadata                 map[string]any `json:"metadata"`
	OrganizationID           string         `json:"organization_id"`
	ExpiresAt                *time.Time     `json:"expires_at"`
	LastUsedAt               *time.Time     `json:"last_used_at"`
	IsActive                 bool           `json:"is_active"`
	CreatedAt                time.Time      `json:"created_at"`
	UpdatedAt                time.Time      `json:"updated_at"`
	RevokedAt                *time.Time     `json:"revoked_at"`
	RevokedReason            *string        `json:"revoked_reason"`
	// Extensions.
	CreatedBy   string     `json:"created_by"`
	RotatedFrom string     `json:"rotated_from,omitempty"`
	GraceUntil  *time.Time `json:"grace_until,omitempty"`
	Status      string     `json:"status"`
}

func toKeyJSON(k keystore.Key, now time.Time) keyJSON {
	var reason *string
	if k.RevokedReason != "" {
		reason = &k.RevokedReason
	}
	meta := k.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	return keyJSON{
		ID: k.ID, DeploymentID: k.DeploymentID, AppSlug: k.AppSlug, Name: k.Name,
		KeyPrefix: k.KeyPrefix, KeySuffix: k.KeySuffix, Permissions: nonNil(k.Permissions),
		OrgRolePermissions: []string{}, WorkspaceRolePermissions: []string{}, Metadata: meta,
		OrganizationID: k.Tenant, ExpiresAt: utcPtr(k.ExpiresAt), LastUsedAt: utcPtr(k.LastUsedAt),
		IsActive: k.IsActive, CreatedAt: k.CreatedAt.UTC(), UpdatedAt: k.UpdatedAt.UTC(),
		RevokedAt: utcPtr(k.RevokedAt), RevokedReason: reason, CreatedBy: k.CreatedBy,
		RotatedFrom: k.RotatedFrom, GraceUntil: utcPtr(k.GraceUntil), Status: string(k.StatusAt(now)),
	}
}

// keyWithSecret answers both shapes Wacht's clients read: the key's fields
// and the secret flat, and the key again under "key".
type keyWithSecret struct {
	keyJSON
	Secret string  `json:"secret"`
	Key    keyJSON `json:"key"`
}

// withSecret is k and its secret on the wire (create, rotate).
func (a *API) withSecret(k keystore.Key, secret string) keyWithSecret {
	kj := toKeyJSON(k, a.now())
	return keyWithSecret{keyJSON: kj, Secret: secret, Key: kj}
}

// keyListJSON is a page of keys: Wacht's {"keys": [...]}, plus the paging
// members of Wacht's paginated lists (limit, has_more) and of the audit logs
// (next_cursor).
type keyListJSON struct {
	Keys       []keyJSON `json:"keys"`
	Limit      int       `json:"limit"`
	HasMore    bool      `json:"has_more"`
	NextCursor *string   `json:"next_cursor"`
}

func (a *API) listKeys(c *gin.Context) {
	all, ok := boolQuery(c, "include_inactive")
	if !ok {
		return
	}
	limit, ok := limitQuery(c, keystore.DefaultKeyLimit, keystore.MaxKeyLimit)
	if !ok || !noOffset(c) {
		return
	}
	app, ok := a.loadApp(c, c.Param("slug"))
	if !ok {
		return
	}
	f := keystore.KeyFilter{AppSlug: app.Slug, Status: keystore.KeyActive, Limit: limit, Cursor: c.Query("cursor")}
	if all {
		f.Status = keystore.KeyAll
	}
	page, err := a.store.ListKeys(c.Request.Context(), f)
	if err != nil {
		a.storeError(c, err, errText{notFound: appErrText.notFound, invalid: "invalid cursor: pass the next_cursor of a previous page, or none"})
		return
	}
	now := a.now()
	out := keyListJSON{Keys: make([]keyJSON, 0, len(page.Keys)), Limit: limit, HasMore: page.NextCursor != ""}
	for _, k := range page.Keys {
		out.Keys = append(out.Keys, toKeyJSON(k, now))
	}
	if out.HasMore {
		out.NextCursor = &page.NextCursor
	}
	c.JSON(http.StatusOK, out)
}

// rfc3339 is an optional RFC 3339 time in a request; null and "" mean none.
type rfc3339 struct{ t *time.Time }

func (r *rfc3339) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" || s == `""` {
		r.t = nil
		return nil
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return jsonx.Message("expires_at must be an RFC 3339 string")
	}
	t, err := time.Parse(time.RFC3339Nano, str)
	if err != nil {
		return jsonx.Message("expires_at must be an RFC 3339 time, e.g. 2027-01-31T00:00:00Z")
	}
	r.t = &t
	return nil
}

type createKeyRequest struct {
	Name                     string         `json:"name"`
	Permissions              []string       `json:"permissions"`
	Metadata                 map[string]any `json:"metadata"`
	ExpiresAt                rfc3339        `json:"expires_at"`
	OrganizationMembershipID string         `json:"organization_membership_id"`
	WorkspaceMembershipID    string         `json:"workspace_membership_id"`
}

func (a *API) createKey(c *gin.Context) {
	var req createKeyRequest
	if !decodeBody(c, &req, false) {
		return
	}
	switch {
	case strings.TrimSpace(req.Name) == "":
		writeError(c, http.StatusBadRequest, "name is required")
		return
	case req.OrganizationMembershipID != "" || req.WorkspaceMembershipID != "":
		writeError(c, http.StatusBadRequest, "membership-bound keys are not supported by keyportal")
		return
	}
	app, ok := a.usableApp(c, c.Param("slug"))
	if !ok {
		return
	}
	k, secret, err := a.store.CreateKey(c.Request.Context(), keystore.NewKey{
		AppSlug: app.Slug, Name: req.Name, Permissions: req.Permissions, Metadata: req.Metadata,
		ExpiresAt: req.ExpiresAt.t,
	}, a.actor(c))
	var capped *keystore.KeyLimitError
	switch {
	case errors.Is(err, keystore.ErrInactive):
		writeError(c, http.StatusBadRequest, appUnusable)
	case errors.As(err, &capped):
		writeError(c, http.StatusConflict, fmt.Sprintf(
			"API auth app %s already has %d active keys, the most allowed (keyportal serve --max-active-keys); revoke one before creating another",
			capped.AppSlug, capped.Max))
	default:
		a.reply(c, a.withSecret(k, secret), err, appErrText)
	}
}

type rotateKeyRequest struct {
	// GracePeriodSeconds (extension) keeps the old key working that long.
	GracePeriodSeconds int64 `json:"grace_period_seconds"`
}

func (a *API) rotateKey(c *gin.Context) {
	var req rotateKeyRequest
	if !decodeBody(c, &req, true) {
		return
	}
	if req.GracePeriodSeconds < 0 || req.GracePeriodSeconds > int64(MaxRotationGrace/time.Second) {
		writeError(c, http.StatusBadRequest, fmt.Sprintf("grace_period_seconds must be 0..%d", int64(MaxRotationGrace/time.Second)))
		return
	}
	k, secret, err := a.store.RotateKey(c.Request.Context(), c.Param("slug"), c.Param("id"),
		time.Duration(req.GracePeriodSeconds)*time.Second, a.actor(c))
	a.reply(c, a.withSecret(k, secret), err, errText{notFound: keyErrText.notFound, inactive: "API key not found or not active (revoked, expired, rotated, or its app is disabled)"})
}

type revokeKeyRequest struct {
	Reason string `json:"reason"`
}

func (a *API) revokeKey(c *gin.Context) {
	var req revokeKeyRequest
	if !decodeBody(c, &req, true) {
		return
	}
	_, err := a.store.RevokeKey(c.Request.Context(), c.Param("slug"), c.Param("id"), req.Reason, a.actor(c))
	a.reply(c, gin.H{}, err, errText{notFound: keyErrText.notFound, inactive: "API key not found or already inactive"})
}
