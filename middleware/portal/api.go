package portal

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/internal/clientip"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
)

// session is a verified page session with its app, as the API handlers see it.
type session struct {
	claims
	app   keystore.App
	actor keystore.Actor
}

// withSession verifies the bearer session token and re-checks, on every call,
// that the app is still usable, still belongs to the session's tenant and
// still allows the session's origin, and, with a Config.Decider, that the
// policy still allows the session's user (recheck). Failures are 401 with code
// session_invalid, session_expired or revoked (the page maps the last two to
// keyportal:session_expired reasons ttl and revoked).
func (p *Portal) withSession(h func(*gin.Context, *session)) gin.HandlerFunc {
	return func(c *gin.Context) {
		noStore(c)
		if crossSite(c) {
			fail(c, http.StatusForbidden, "cross_site", "the key API is called by the portal page only")
			return
		}
		token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || token == "" {
			c.Header("WWW-Authenticate", `Bearer realm="keyportal"`)
			fail(c, http.StatusUnauthorized, "session_invalid", "a page session is required (Authorization: Bearer <session>)")
			return
		}
		ctx := c.Request.Context()
		cl, err := p.sessions.open(ctx, token)
		if errors.Is(err, errUnopenable) {
			c.Header("WWW-Authenticate", `Bearer realm="keyportal", error="invalid_token"`)
			fail(c, http.StatusUnauthorized, "session_invalid", "the page session is not valid")
			return
		} else if err != nil {
			fail(c, http.StatusServiceUnavailable, "unavailable", "the portal cannot serve this right now; try again")
			return
		}
		if p.now().Unix() >= cl.Exp {
			p.recordSessionExpired(c, cl, "ttl")
			c.Header("WWW-Authenticate", `Bearer realm="keyportal", error="invalid_token"`)
			fail(c, http.StatusUnauthorized, "session_expired", "the page session has ended")
			return
		}
		app, err := p.store.GetApp(ctx, cl.App)
		var why string
		switch {
		case errors.Is(err, keystore.ErrNotFound):
			why = "app_deleted"
		case err != nil:
			fail(c, http.StatusServiceUnavailable, "unavailable", "the portal cannot serve this right now; try again")
			return
		case !app.Usable():
			why = RejectAppInactive
		case app.Tenant != cl.Tenant:
			why = RejectCrossTenant
		case !originAllowed(app, cl.Origin):
			why = RejectWrongOrigin
		default:
			if why, err = p.recheck(ctx, cl); err != nil {
				p.log.Error().Err(err).Str("request_id", requestID(c)).Msg("portal policy re-check failed")
				fail(c, http.StatusServiceUnavailable, "unavailable", "the portal cannot serve this right now; try again")
				return
			}
		}
		if why != "" {
			p.recordSessionExpired(c, cl, why)
			fail(c, http.StatusUnauthorized, "revoked", "access to this app has been withdrawn")
			return
		}
		h(c, &session{claims: cl, app: app, actor: keystore.Actor{Name: cl.User, RequestID: requestID(c), ClientIP: clientip.Of(c, &p.log)}})
	}
}

// keyView is a key as the page lists it. It never holds a secret.
type keyView struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	KeyPrefix     string     `json:"key_prefix"`
	KeySuffix     string     `json:"key_suffix"`
	Status        string     `json:"status"`
	CreatedAt     time.Time  `json:"created_at"`
	CreatedBy     string     `json:"created_by"`
	LastUsedAt    *time.Time `json:"last_used_at"`
	ExpiresAt     *time.Time `json:"expires_at"`
	RevokedAt     *time.Time `json:"revoked_at"`
	RevokedReason string     `json:"revoked_reason,omitempty"`
	RotatedFrom   string     `json:"rotated_from,omitempty"`
	GraceUntil    *time.Time `json:"grace_until,omitempty"`
}

func (p *Portal) viewKey(k keystore.Key) keyView {
	return keyView{
		ID: k.ID, Name: k.Name, KeyPrefix: k.KeyPrefix, KeySuffix: k.KeySuffix,
		Status:    string(k.StatusAt(p.now())),
		CreatedAt: k.CreatedAt, CreatedBy: k.CreatedBy, LastUsedAt: k.LastUsedAt,
		ExpiresAt: k.ExpiresAt, RevokedAt: k.RevokedAt, RevokedReason: k.RevokedReason,
		RotatedFrom: k.RotatedFrom, GraceUntil: k.GraceUntil,
	}
}

// apiSession answers what the session is for.
func (p *Portal) apiSession(c *gin.Context, s *session) {
	writeJSON(c, http.StatusOK, gin.H{
		"user": s.User, "tenant": s.Tenant, "origin": s.Origin, "expires_at": s.Exp,
		"app": appView{Slug: s.app.Slug, Name: s.app.Name, KeyPrefix: s.app.KeyPrefix},
	})
}

// Page sizes of the key list and the activity list.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// pageLimit reads the limit query parameter of a list: defaultPageSize when
// absent, else 1 to maxPageSize. On failure it has answered 400.
func pageLimit(c *gin.Context) (int, bool) {
	v := c.Query("limit")
	if v == "" {
		return defaultPageSize, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPageSize {
		fail(c, http.StatusBadRequest, "bad_request", "limit must be a number from 1 to "+strconv.Itoa(maxPageSize))
		return 0, false
	}
	return n, true
}

// apiListKeys: GET …/api/keys?status=active|revoked|expired|all&limit=&cursor=
// → one page of the app's keys, newest first, and the cursor of the next
// ("" on the last page).
func (p *Portal) apiListKeys(c *gin.Context, s *session) {
	status := keystore.KeyStatus(c.DefaultQuery("status", string(keystore.KeyActive)))
	switch status {
	case keystore.KeyActive, keystore.KeyRevoked, keystore.KeyExpired, keystore.KeyAll:
	default:
		fail(c, http.StatusBadRequest, "bad_request", "status must be active, revoked, expired or all")
		return
	}
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	page, err := p.store.ListKeys(c.Request.Context(), keystore.KeyFilter{
		AppSlug: s.App, Tenant: s.Tenant, Status: status, Limit: limit, Cursor: c.Query("cursor"),
	})
	if err != nil {
		p.storeFailed(c, err)
		return
	}
	out := make([]keyView, 0, len(page.Keys))
	for _, k := range page.Keys {
		out = append(out, p.viewKey(k))
	}
	writeJSON(c, http.StatusOK, gin.H{"keys": out, "next_cursor": page.NextCursor})
}

// maxNameLen bounds key names (in characters).
const maxNameLen = 100

// apiCreateKey: POST …/api/keys {"name", "expires_at"?} → the key and its
// secret, shown once.
func (p *Portal) apiCreateKey(c *gin.Context, s *session) {
	var req struct {
		Name      string     `json:"name"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	if !decodeJSON(c, &req) {
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	switch {
	case req.Name == "":
		fail(c, http.StatusBadRequest, "bad_request", "name is required")
		return
	case utf8.RuneCountInString(req.Name) > maxNameLen:
		fail(c, http.StatusBadRequest, "bad_request", "name must be at most 100 characters")
		return
	case req.ExpiresAt != nil && !req.ExpiresAt.After(p.now()):
		fail(c, http.StatusBadRequest, "bad_request", "expires_at must be in the future")
		return
	case !p.changes.allow(c, s, p.now()):
		return
	}
	key, secret, err := p.store.CreateKey(c.Request.Context(), keystore.NewKey{
		AppSlug:     s.App,
		Name:        req.Name,
		Permissions: s.app.Permissions,
		ExpiresAt:   req.ExpiresAt,
	}, s.actor)
	if err != nil {
		p.storeFailed(c, err)
		return
	}
	writeJSON(c, http.StatusCreated, gin.H{"key": p.viewKey(key), "secret": secret})
}

// graceChoices are the rotation grace periods the page offers.
var graceChoices = map[string]time.Duration{
	"0":   0,
	"1h":  time.Hour,
	"24h": 24 * time.Hour,
	"7d":  7 * 24 * time.Hour,
}

// apiRotateKey: POST …/api/keys/:id/rotate {"grace": "0"|"1h"|"24h"|"7d"} →
// the new key and its secret, and the old key as the rotation left it (null
// if it cannot be read back: the rotation is done and its secret is shown
// nowhere else, so that is no reason to fail).
func (p *Portal) apiRotateKey(c *gin.Context, s *session) {
	var req struct {
		Grace string `json:"grace"`
	}
	if !decodeJSON(c, &req) {
		return
	}
	grace, ok := graceChoices[req.Grace]
	if !ok {
		fail(c, http.StatusBadRequest, "bad_request", `grace must be one of "0", "1h", "24h", "7d"`)
		return
	}
	if !p.changes.allow(c, s, p.now()) {
		return
	}
	key, secret, err := p.store.RotateKey(c.Request.Context(), s.App, c.Param("id"), grace, s.actor)
	if err != nil {
		p.storeFailed(c, err)
		return
	}
	var oldView *keyView
	if old, err := p.store.GetKey(c.Request.Context(), s.App, c.Param("id")); err == nil {
		v := p.viewKey(old)
		oldView = &v
	} else {
		p.log.Error().Err(err).Str("request_id", requestID(c)).Str("key_id", key.ID).Msg("portal key rotated, but the old key could not be read back")
	}
	writeJSON(c, http.StatusOK, gin.H{"key": p.viewKey(key), "secret": secret, "old_key": oldView})
}

// maxReasonLen bounds revocation reasons (in characters).
const maxReasonLen = 200

// apiRevokeKey: POST …/api/keys/:id/revoke {"reason"?}.
func (p *Portal) apiRevokeKey(c *gin.Context, s *session) {
	var req struct {
		Reason string `json:"reason"`
	}
	if !decodeJSON(c, &req) {
		return
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if utf8.RuneCountInString(req.Reason) > maxReasonLen {
		fail(c, http.StatusBadRequest, "bad_request", "reason must be at most 200 characters")
		return
	}
	if !p.changes.allow(c, s, p.now()) {
		return
	}
	key, err := p.store.RevokeKey(c.Request.Context(), s.App, c.Param("id"), req.Reason, s.actor)
	if err != nil {
		p.storeFailed(c, err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"key": p.viewKey(key)})
}

// activityView is an audit event as the Activity tab shows it.
type activityView struct {
	Time    time.Time `json:"time"`
	Action  string    `json:"action"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
	Actor   string    `json:"actor,omitempty"`
	KeyID   string    `json:"key_id,omitempty"`
}

// apiActivity: GET …/api/activity?cursor=&limit= → the app's audit events,
// newest first.
func (p *Portal) apiActivity(c *gin.Context, s *session) {
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	page, err := p.store.QueryAudit(c.Request.Context(), audit.Query{
		Tenant: s.Tenant, AppSlug: s.App, Cursor: c.Query("cursor"), Limit: limit,
	})
	if err != nil {
		p.storeFailed(c, err)
		return
	}
	out := make([]activityView, 0, len(page.Events))
	for _, e := range page.Events {
		out = append(out, activityView{Time: e.Time, Action: e.Action, Outcome: e.Outcome, Reason: e.Reason, Actor: e.Actor, KeyID: e.KeyID})
	}
	writeJSON(c, http.StatusOK, gin.H{"events": out, "next_cursor": page.NextCursor})
}

// storeFailed maps a store error to a clear status.
func (p *Portal) storeFailed(c *gin.Context, err error) {
	var limit *keystore.KeyLimitError
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		fail(c, http.StatusNotFound, "not_found", "no such key in this app")
	case errors.Is(err, keystore.ErrInactive):
		fail(c, http.StatusConflict, "inactive", "the key is already revoked")
	case errors.As(err, &limit):
		fail(c, http.StatusConflict, "key_limit", fmt.Sprintf(
			"This app already has %d active keys, the most it may have. Revoke a key you no longer use, then create the new one.", limit.Max))
	case errors.Is(err, keystore.ErrInvalid):
		fail(c, http.StatusBadRequest, "bad_request", strings.TrimPrefix(err.Error(), "keystore: "))
	default:
		p.log.Error().Err(err).Str("request_id", requestID(c)).Msg("portal store error")
		fail(c, http.StatusServiceUnavailable, "unavailable", "the portal cannot serve this right now; try again")
	}
}
