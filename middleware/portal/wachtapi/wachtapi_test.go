package wachtapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
	"github.com/keyportal/keyportal/middleware/portal"
	"github.com/keyportal/keyportal/middleware/portal/wachtapi"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/middleware/wacht"
	"github.com/keyportal/keyportal/policy"
)

func init() { gin.SetMode(gin.ReleaseMode) }

const (
	backendKey      = "kp_backend_test_key_0123456789"
	otherBackendKey = "kp_backend_second_key_abcdefgh"
	portalBase      = "http://localhost:8081"
)

// world is the backend API on a real SQLite store and the real portal
// issuer, served over HTTP, with the portal page mounted beside it.
type world struct {
	env    *apikeytest.Env
	api    *wachtapi.API
	engine *gin.Engine
	srv    *httptest.Server
}

func newWorld(t *testing.T, mutate ...func(*wachtapi.Config)) *world {
	t.Helper()
	env := apikeytest.NewEnv(t)
	p, err := portal.New(portal.Config{Store: env.Store, BaseURL: portalBase, Now: env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := wachtapi.Config{
		Store: env.Store, Issuer: p.Issuer(), APIKeys: []string{backendKey, otherBackendKey},
		Tenants: env.Tenants, Now: env.Clock.Now,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	api, err := wachtapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	if err := errors.Join(api.Mount(r), p.Mount(r)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		srv.Close()
		api.Close()
	})
	return &world{env: env, api: api, engine: r, srv: srv}
}

// second is another instance of the API on w's store, with its own portal
// issuer, configured by mutate; it serves in process only (w2.do).
func (w *world) second(t *testing.T, mutate ...func(*wachtapi.Config)) *world {
	t.Helper()
	p, err := portal.New(portal.Config{Store: w.env.Store, BaseURL: portalBase, Now: w.env.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := wachtapi.Config{Store: w.env.Store, Issuer: p.Issuer(), APIKeys: []string{backendKey}, Now: w.env.Clock.Now}
	for _, m := range mutate {
		m(&cfg)
	}
	api, err := wachtapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	r := gin.New()
	if err := api.Mount(r); err != nil {
		t.Fatal(err)
	}
	return &world{env: w.env, api: api, engine: r}
}

func (w *world) client(t *testing.T, key string) *wacht.Client {
	t.Helper()
	c, err := wacht.New(wacht.Config{APIKey: key, BaseURL: w.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// do sends one request in process and returns status and body.
func (w *world) do(method, path, auth string, body any) (int, []byte, http.Header) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	w.engine.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes(), rec.Header()
}

type wachtErrors struct {
	Errors []struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
	} `json:"errors"`
}

// wantError checks Wacht's error shape with the given status.
func wantError(t *testing.T, what string, status int, body []byte, wantStatus int) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("%s: status %d, body %s; want %d", what, status, body, wantStatus)
		return
	}
	var e wachtErrors
	if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) != 1 || e.Errors[0].Code != wantStatus || e.Errors[0].Message == "" {
		t.Errorf("%s: body %s is not {\"errors\":[{\"message\",\"code\":%d}]}", what, body, wantStatus)
	}
}

func TestWachtClientProvisionsAppTicketAndKeys(t *testing.T) {
	w := newWorld(t)
	w.env.Tenants.Set("globex", policy.TenantActive)
	c := w.client(t, backendKey)
	ctx := context.Background()

	app, err := c.CreateApp(ctx, wacht.CreateAppRequest{
		AppSlug: "aa_77", Name: "Globex API", KeyPrefix: "globex_live", Description: "deployment 77",
		Permissions: []string{"deploy:read"}, OrganizationID: "globex",
	})
	if err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	if app.AppSlug != "aa_77" || app.OrganizationID != "globex" || app.DeploymentID != "77" || !app.IsActive || app.CreatedAt.IsZero() {
		t.Fatalf("created app %+v: want aa_77 of globex, deployment 77, active, with created_at", app)
	}
	if _, err := c.CreateApp(ctx, wacht.CreateAppRequest{AppSlug: "aa_77", Name: "again", KeyPrefix: "g", OrganizationID: "globex"}); !isStatus(err, 409) {
		t.Errorf("creating aa_77 twice: %v, want 409", err)
	}

	// The embedder origin is a keyportal extension, set with a plain PATCH.
	status, body, _ := w.do("PATCH", "/api-auth/apps/aa_77", "Bearer "+backendKey,
		map[string]any{"allowed_origins": []string{"https://globex.example"}, "name": "Globex Public API"})
	if status != 200 || !strings.Contains(string(body), `"allowed_origins":["https://globex.example"]`) {
		t.Fatalf("PATCH allowed_origins: %d %s", status, body)
	}
	got, err := c.GetApp(ctx, "aa_77")
	if err != nil || got.Name != "Globex Public API" {
		t.Fatalf("GetApp: %+v, %v", got, err)
	}
	name := "Globex API v2"
	if upd, err := c.UpdateApp(ctx, "aa_77", wacht.UpdateAppRequest{Name: &name}); err != nil || upd.Name != name {
		t.Fatalf("UpdateApp: %+v, %v", upd, err)
	}
	apps, err := c.ListApps(ctx, false)
	if err != nil || !hasApp(apps, "aa_77") || !hasApp(apps, apikeytest.AppSlug) {
		t.Fatalf("ListApps: %v, %v; want aa_77 and %s", apps, err, apikeytest.AppSlug)
	}

	// A ticket for the app, bound to its tenant, the user and its origin:
	// the portal exchanges it.
	tk, err := c.CreateTicket(ctx, wacht.TicketRequest{AppSlug: "aa_77", UserID: "frank", ExpiresIn: 2 * time.Minute})
	if err != nil {
		t.Fatalf("CreateTicket: %v", err)
	}
	if !strings.HasPrefix(tk.URL, portalBase+"/vanity/api-auth?ticket=") || tk.ExpiresAt <= w.env.Clock.Now().Unix() {
		t.Fatalf("ticket url %q expires_at %d", tk.URL, tk.ExpiresAt)
	}
	status, body, _ = w.do("POST", portal.PagePath+"/exchange", "", map[string]string{"ticket": tk.Ticket})
	if status != 200 {
		t.Fatalf("exchange: %d %s", status, body)
	}
	var ex struct {
		Origin, User, Tenant string
		App                  struct{ Slug string }
	}
	json.Unmarshal(body, &ex)
	if ex.Origin != "https://globex.example" || ex.User != "frank" || ex.Tenant != "globex" || ex.App.Slug != "aa_77" {
		t.Fatalf("exchanged session %+v: want origin https://globex.example, user frank, tenant globex, app aa_77", ex)
	}
	if _, err := c.CreateTicket(ctx, wacht.TicketRequest{AppSlug: "aa_missing"}); !isStatus(err, 404) {
		t.Errorf("ticket for an unknown app: %v, want 404", err)
	}

	// Keys: create, list, check, rotate, revoke.
	key, secret, err := c.CreateKey(ctx, "aa_77", wacht.CreateKeyRequest{
		Name: "ci", Permissions: []string{"deploy:read"}, Metadata: map[string]any{"team": "ops"},
		ExpiresAt: w.env.Clock.Now().Add(24 * time.Hour),
	})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	if !apikey.WellFormed(secret) || !strings.HasPrefix(secret, "globex_live_") || key.KeySuffix != secret[len(secret)-8:] ||
		key.Name != "ci" || key.OrganizationID != "globex" || key.ExpiresAt.IsZero() || !key.IsActive {
		t.Fatalf("created key %+v with secret of length %d", key, len(secret))
	}
	keys, err := c.ListKeys(ctx, "aa_77", false)
	if err != nil || len(keys) != 1 || keys[0].ID != key.ID {
		t.Fatalf("ListKeys: %+v, %v", keys, err)
	}
	verdict, err := c.Check(ctx, wacht.CheckRequest{Principal: wacht.Principal{Value: secret}, Resource: "/v1/deploy", Method: "GET", RequiredPermissions: []string{"deploy:read"}})
	if err != nil || !verdict.Allowed || verdict.Identity == nil || verdict.Identity.KeyID != key.ID || verdict.Identity.OrganizationID != "globex" {
		t.Fatalf("Check: %+v, %v", verdict, err)
	}

	w.env.Clock.Advance(time.Second) // events of one instant have no order
	rotated, newSecret, err := c.RotateKey(ctx, "aa_77", key.ID, wacht.RotateKeyRequest{})
	if err != nil || rotated.ID == key.ID || newSecret == secret || !apikey.WellFormed(newSecret) {
		t.Fatalf("RotateKey: %+v, %v", rotated, err)
	}
	if v, err := c.Check(ctx, wacht.CheckRequest{Principal: wacht.Principal{Value: secret}, Resource: "/", Method: "GET"}); err != nil || v.Allowed || v.Detail != "revoked" {
		t.Errorf("old key after rotation without grace: %+v, %v; want the 401 verdict, revoked", v, err)
	}
	if v, err := c.Check(ctx, wacht.CheckRequest{Principal: wacht.Principal{Value: newSecret}, Resource: "/", Method: "GET"}); err != nil || !v.Allowed {
		t.Errorf("new key after rotation: %+v, %v", v, err)
	}
	w.env.Clock.Advance(time.Second)
	if err := c.RevokeKey(ctx, "aa_77", rotated.ID, "leaked"); err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	if err := c.RevokeKey(ctx, "aa_77", rotated.ID, "again"); !isStatus(err, 404) {
		t.Errorf("revoking twice: %v, want 404", err)
	}
	if v, err := c.Check(ctx, wacht.CheckRequest{Principal: wacht.Principal{Value: newSecret}, Resource: "/", Method: "GET"}); err != nil || v.Allowed || v.Detail != "revoked" {
		t.Errorf("revoked key: %+v, %v; want the 401 verdict, revoked", v, err)
	}
	active, _ := c.ListKeys(ctx, "aa_77", false)
	all, _ := c.ListKeys(ctx, "aa_77", true)
	if len(active) != 0 || len(all) != 2 {
		t.Errorf("after rotate and revoke: %d active, %d in all; want 0 and 2", len(active), len(all))
	}
	for _, k := range all {
		if k.IsActive || k.RevokedAt.IsZero() {
			t.Errorf("key %s: is_active %v revoked_at %v; want revoked", k.ID, k.IsActive, k.RevokedAt)
		}
	}

	// The audit trail holds the lifecycle, paged by cursor.
	page, err := c.AuditLogs(ctx, "aa_77", wacht.AuditQuery{})
	if err != nil {
		t.Fatalf("AuditLogs: %v", err)
	}
	status, body, _ = w.do("GET", "/api-auth/apps/aa_77/audit/events?action=key.", "Bearer "+backendKey, nil)
	var logs struct {
		Data []map[string]any `json:"data"`
	}
	json.Unmarshal(body, &logs)
	var keyActions []string
	for _, l := range logs.Data {
		keyActions = append(keyActions, fmt.Sprint(l["action"]))
		if l["actor"] != wachtapi.ActorName || l["key_name"] != "ci" || l["organization_id"] != "globex" {
			t.Errorf("audit entry %v: want actor %s, key_name ci, organization_id globex", l, wachtapi.ActorName)
		}
	}
	if status != 200 || !reflect.DeepEqual(keyActions, []string{audit.ActionKeyRevoked, audit.ActionKeyRotated, audit.ActionKeyCreated}) {
		t.Errorf("key events %v (status %d), want revoked, rotated, created (newest first)", keyActions, status)
	}
	// The events are in the entry shape of /audit/logs: the last page has no
	// next_cursor, a successful event no blocked_by_rule, and rate_limits
	// is null.
	var raw map[string]any
	json.Unmarshal(body, &raw)
	if _, ok := raw["next_cursor"]; ok {
		t.Errorf("the last page of events has next_cursor: %s", body)
	}
	for _, l := range logs.Data {
		rl, hasRL := l["rate_limits"]
		if _, ok := l["blocked_by_rule"]; ok || !hasRL || rl != nil {
			t.Errorf("event %v: want no blocked_by_rule and rate_limits null, as in /audit/logs", l)
		}
	}
	var seen []string
	q := wacht.AuditQuery{Limit: 2}
	for i := 0; ; i++ {
		p, err := c.AuditLogs(ctx, "aa_77", q)
		if err != nil {
			t.Fatalf("AuditLogs page %d: %v", i, err)
		}
		if len(p.Logs) > 2 || p.Limit != 2 {
			t.Fatalf("page %d: %d logs, limit %d", i, len(p.Logs), p.Limit)
		}
		for _, l := range p.Logs {
			seen = append(seen, l.RequestID+l.Timestamp.String()+l.KeyID)
		}
		if !p.HasMore {
			break
		}
		q.Cursor = p.NextCursor
	}
	if len(seen) != len(page.Logs) {
		t.Errorf("paging by 2 saw %d events, one page of 100 saw %d", len(seen), len(page.Logs))
	}

	if err := c.DeleteApp(ctx, "aa_77"); err != nil {
		t.Fatalf("DeleteApp: %v", err)
	}
	deleted, err := c.GetApp(ctx, "aa_77")
	if err != nil || deleted.DeletedAt.IsZero() || deleted.IsActive {
		t.Errorf("deleted app: %+v, %v; want deleted_at set and inactive", deleted, err)
	}
	if apps, _ := c.ListApps(ctx, false); hasApp(apps, "aa_77") {
		t.Errorf("deleted app still listed without include_inactive")
	}
	if apps, _ := c.ListApps(ctx, true); !hasApp(apps, "aa_77") {
		t.Errorf("deleted app not listed with include_inactive")
	}
	if err := c.DeleteApp(ctx, "aa_77"); !isStatus(err, 404) {
		t.Errorf("deleting twice: %v, want 404", err)
	}
}

func hasApp(apps []wacht.App, slug string) bool {
	for _, a := range apps {
		if a.AppSlug == slug {
			return true
		}
	}
	return false
}

func isStatus(err error, status int) bool {
	var ae *wacht.APIError
	return errors.As(err, &ae) && ae.Status == status
}

func TestKeyWithSecretCarriesBothShapes(t *testing.T) {
	w := newWorld(t)
	status, body, h := w.do("POST", "/api-auth/apps/"+apikeytest.AppSlug+"/keys", "Bearer "+backendKey, map[string]any{"name": "ci"})
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var m map[string]any
	json.Unmarshal(body, &m)
	nested, _ := m["key"].(map[string]any)
	// A type assertion: m["secret"] == "" would pass a missing secret (nil).
	if secret, _ := m["secret"].(string); secret == "" || m["id"] == nil || nested == nil || nested["id"] != m["id"] || nested["key_suffix"] != m["key_suffix"] {
		t.Fatalf("body %s: want flat key fields, secret, and the key under \"key\"", body)
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q on a response with a secret", h.Get("Cache-Control"))
	}
}

// TestRotationGraceExtension: grace_period_seconds keeps the old key working
// that long, sent as a raw body or by middleware/wacht's RotateKey.
func TestRotationGraceExtension(t *testing.T) {
	t.Run("raw", func(t *testing.T) {
		testRotationGrace(t, func(w *world, id string) {
			status, body, _ := w.do("POST", "/api-auth/apps/"+apikeytest.AppSlug+"/keys/"+id+"/rotate", "Bearer "+backendKey,
				map[string]any{"grace_period_seconds": 3600})
			if status != 200 {
				t.Fatalf("rotate: %d %s", status, body)
			}
		})
	})
	t.Run("client", func(t *testing.T) {
		testRotationGrace(t, func(w *world, id string) {
			_, _, err := w.client(t, backendKey).RotateKey(context.Background(), apikeytest.AppSlug, id, wacht.RotateKeyRequest{GracePeriod: time.Hour})
			if err != nil {
				t.Fatalf("RotateKey: %v", err)
			}
		})
	})
}

func testRotationGrace(t *testing.T, rotate func(w *world, id string)) {
	w := newWorld(t)
	k, secret := w.env.NewKey(t, "ci", nil, nil)
	rotate(w, k.ID)
	check := func() int {
		s, _, _ := w.do("POST", "/v1/authz/check", "Bearer "+backendKey, map[string]any{
			"principal": map[string]string{"type": "api_key", "value": secret}, "resource": "/", "method": "GET"})
		return s
	}
	w.env.Clock.Advance(59 * time.Minute)
	if s := check(); s != 200 {
		t.Errorf("old key within grace: %d, want 200", s)
	}
	w.env.Clock.Advance(time.Minute)
	if s := check(); s != 401 {
		t.Errorf("old key at grace_until: %d, want 401", s)
	}
}

// checkOutcome runs one check and maps the verdict to RequireAPIKey's terms.
func checkOutcome(t *testing.T, w *world, secret string, required []string) (int, apikey.Reason) {
	t.Helper()
	status, body, _ := w.do("POST", "/v1/authz/check", "Bearer "+backendKey, map[string]any{
		"principal": map[string]string{"type": "api_key", "value": secret}, "resource": "/v1/thing",
		"method": "GET", "required_permissions": required,
	})
	var v struct {
		Allowed bool    `json:"allowed"`
		Reason  *string `json:"reason"`
		Detail  string  `json:"detail"`
		wachtErrors
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("check body %s: %v", body, err)
	}
	switch {
	case status == 200 && v.Allowed:
		return 200, ""
	case status == 200 && v.Reason != nil && *v.Reason == "permission_denied":
		return 403, apikey.ReasonPermissionDenied
	case status == 401:
		if len(v.Errors) != 1 || v.Errors[0].Code != 401 {
			t.Errorf("401 check body %s lacks Wacht's errors", body)
		}
		return 401, apikey.Reason(v.Detail)
	}
	t.Fatalf("check: unexpected %d %s", status, body)
	return 0, ""
}

func guardOutcome(t *testing.T, s http.Handler, path, secret string) (int, apikey.Reason) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	var e struct{ Reason string }
	json.Unmarshal(rec.Body.Bytes(), &e)
	return rec.Code, apikey.Reason(e.Reason)
}

// TestCheckAgreesWithRequireAPIKey runs every verification scenario through
// both paths, on one store: the middleware guarding a route and the backend
// API's /v1/authz/check.
func TestCheckAgreesWithRequireAPIKey(t *testing.T) {
	for _, tc := range apikeytest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			w := newWorld(t)
			guard, err := middleware.RequireAPIKey(middleware.APIKeyConfig{Config: apikey.Config{Keys: w.env.Store, Tenants: w.env.Tenants, Now: w.env.Clock.Now}})
			if err != nil {
				t.Fatal(err)
			}
			defer guard.Close()
			r := gin.New()
			ok := func(c *gin.Context) { c.Status(200) }
			r.GET("/v1/thing", guard.Require(tc.Required...), ok)
			r.GET("/v1/any", guard.Require(), ok)

			secret := tc.Secret(t, w.env)
			if tc.Then != nil {
				if s, _ := guardOutcome(t, r, "/v1/any", secret); s != 200 {
					t.Fatalf("guard before the change: %d", s)
				}
				if s, _ := checkOutcome(t, w, secret, nil); s != 200 {
					t.Fatalf("check before the change: %d", s)
				}
				tc.Then(t, w.env, secret)
			}
			gs, gr := guardOutcome(t, r, "/v1/thing", secret)
			cs, cr := checkOutcome(t, w, secret, tc.Required)
			want := apikeytest.Status(tc.Want)
			if gs != want || gr != tc.Want {
				t.Errorf("RequireAPIKey: %d %q, want %d %q", gs, gr, want, tc.Want)
			}
			if cs != gs || cr != gr {
				t.Errorf("/v1/authz/check says %d %q, RequireAPIKey %d %q", cs, cr, gs, gr)
			}
		})
	}
}

// snapshot is everything the backend API could change.
func snapshot(t *testing.T, st keystore.Store) string {
	t.Helper()
	ctx := context.Background()
	apps, err := st.ListApps(ctx, keystore.AppFilter{IncludeInactive: true})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.ListKeys(ctx, keystore.KeyFilter{Status: keystore.KeyAll, Limit: keystore.MaxKeyLimit})
	if err != nil {
		t.Fatal(err)
	}
	page, err := st.QueryAudit(ctx, audit.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal([]any{apps, keys, page.Events})
	return string(b)
}

func TestBackendAPIKeyRequired(t *testing.T) {
	w := newWorld(t)
	k, secret := w.env.NewKey(t, "ci", nil, nil)
	slug := apikeytest.AppSlug
	routes := []struct {
		method, path string
		body         any
	}{
		{"POST", "/session/tickets", map[string]any{"ticket_type": "api_auth_access", "api_auth_app_slug": slug}},
		{"GET", "/api-auth/apps", nil},
		{"POST", "/api-auth/apps", map[string]any{"app_slug": "aa_1", "name": "x", "key_prefix": "x", "organization_id": "acme"}},
		{"GET", "/api-auth/apps/" + slug, nil},
		{"PATCH", "/api-auth/apps/" + slug, map[string]any{"is_active": false}},
		{"DELETE", "/api-auth/apps/" + slug, nil},
		{"GET", "/api-auth/apps/" + slug + "/keys", nil},
		{"POST", "/api-auth/apps/" + slug + "/keys", map[string]any{"name": "sneaky"}},
		{"POST", "/api-auth/apps/" + slug + "/keys/" + k.ID + "/rotate", nil},
		{"POST", "/api-auth/apps/" + slug + "/keys/" + k.ID + "/revoke", map[string]any{"reason": "x"}},
		{"GET", "/api-auth/apps/" + slug + "/audit/events", nil},
		{"POST", "/v1/authz/check", map[string]any{"principal": map[string]string{"type": "api_key", "value": secret}, "resource": "/", "method": "GET"}},
	}
	auths := []struct{ name, header string }{
		{"missing", ""},
		{"wrong key", "Bearer kp_backend_test_key_0123456788"},
		{"prefix of the key", "Bearer " + backendKey[:len(backendKey)-1]},
		{"key plus a byte", "Bearer " + backendKey + "0"},
		{"empty bearer", "Bearer "},
		{"basic scheme", "Basic " + backendKey},
		{"bare key", backendKey},
		{"an API key of the app", "Bearer " + secret},
	}
	before := snapshot(t, w.env.Store)
	for _, rt := range routes {
		for _, a := range auths {
			status, body, h := w.do(rt.method, rt.path, a.header, rt.body)
			wantError(t, rt.method+" "+rt.path+" with "+a.name+" key", status, body, 401)
			if h.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s: no WWW-Authenticate", rt.method, rt.path)
			}
			if bytes.Contains(body, []byte(backendKey)) {
				t.Errorf("%s %s: body echoes the backend key", rt.method, rt.path)
			}
		}
	}
	if after := snapshot(t, w.env.Store); after != before {
		t.Fatalf("refused requests changed the store:\nbefore %s\nafter  %s", before, after)
	}
	// Both configured keys are accepted.
	for _, key := range []string{backendKey, otherBackendKey} {
		if status, body, _ := w.do("GET", "/api-auth/apps", "Bearer "+key, nil); status != 200 {
			t.Errorf("configured key: %d %s", status, body)
		}
	}
}

func TestPublicCheck(t *testing.T) {
	w := newWorld(t, func(c *wachtapi.Config) { c.PublicCheck = true })
	_, secret := w.env.NewKey(t, "ci", nil, nil)
	body := map[string]any{"principal": map[string]string{"type": "api_key", "value": secret}, "resource": "/", "method": "GET"}
	if status, b, _ := w.do("POST", "/v1/authz/check", "", body); status != 200 {
		t.Errorf("public check without backend key: %d %s", status, b)
	}
	if status, b, _ := w.do("GET", "/api-auth/apps", "", nil); status != 401 {
		t.Errorf("other routes stay guarded: %d %s", status, b)
	}
}

func TestBadRequests(t *testing.T) {
	w := newWorld(t)
	k, _ := w.env.NewKey(t, "ci", nil, nil)
	slug := apikeytest.AppSlug
	past := apikeytest.Start.Add(-time.Hour).Format(time.RFC3339)
	cases := []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"app: not JSON", "POST", "/api-auth/apps", "{nope", 400},
		{"app: an array", "POST", "/api-auth/apps", "[]", 400},
		{"app: two objects", "POST", "/api-auth/apps", `{"app_slug":"a"} {}`, 400},
		{"app: empty body", "POST", "/api-auth/apps", "", 400},
		{"app: wrong type", "POST", "/api-auth/apps", `{"app_slug": 7}`, 400},
		{"app: no slug", "POST", "/api-auth/apps", map[string]any{"name": "x", "key_prefix": "x", "organization_id": "acme"}, 400},
		{"app: no name", "POST", "/api-auth/apps", map[string]any{"app_slug": "aa_1", "key_prefix": "x", "organization_id": "acme"}, 400},
		{"app: no key_prefix", "POST", "/api-auth/apps", map[string]any{"app_slug": "aa_1", "name": "x", "organization_id": "acme"}, 400},
		{"app: no tenant", "POST", "/api-auth/apps", map[string]any{"app_slug": "aa_1", "name": "x", "key_prefix": "x"}, 400},
		{"app: bad slug", "POST", "/api-auth/apps", map[string]any{"app_slug": "AA 1", "name": "x", "key_prefix": "x", "organization_id": "acme"}, 400},
		{"app: bad prefix", "POST", "/api-auth/apps", map[string]any{"app_slug": "aa_1", "name": "x", "key_prefix": "x-y", "organization_id": "acme"}, 400},
		{"app: bad origin", "POST", "/api-auth/apps", map[string]any{"app_slug": "aa_1", "name": "x", "key_prefix": "x", "organization_id": "acme", "allowed_origins": []string{"javascript:alert(1)"}}, 400},
		{"app: bad rate limit", "POST", "/api-auth/apps", map[string]any{"app_slug": "aa_1", "name": "x", "key_prefix": "x", "organization_id": "acme", "rate_limits": []any{map[string]any{"unit": "second", "duration": 1, "max_requests": 0}}}, 400},
		{"app: rate limit of another shape", "POST", "/api-auth/apps", map[string]any{"app_slug": "aa_1", "name": "x", "key_prefix": "x", "organization_id": "acme", "rate_limits": []any{map[string]any{"unit": "second", "duration": "1", "max_requests": 1}}}, 400},
		{"app: unknown scheme", "POST", "/api-auth/apps", map[string]any{"app_slug": "aa_1", "name": "x", "key_prefix": "x", "organization_id": "acme", "rate_limit_scheme_slug": "gold"}, 400},
		{"app: text/plain", "POST", "/api-auth/apps", "text", 400},
		{"app: created disabled", "POST", "/api-auth/apps", map[string]any{"app_slug": "aa_1", "name": "x", "key_prefix": "x", "organization_id": "acme", "is_active": false}, 400},
		{"patch: key_prefix", "PATCH", "/api-auth/apps/" + slug, map[string]any{"key_prefix": "other"}, 400},
		{"patch: organization_id", "PATCH", "/api-auth/apps/" + slug, map[string]any{"organization_id": "globex"}, 400},
		{"patch: deployment_id", "PATCH", "/api-auth/apps/" + slug, map[string]any{"deployment_id": "other"}, 400},
		{"patch: empty name", "PATCH", "/api-auth/apps/" + slug, map[string]any{"name": ""}, 400},
		{"list: bad include_inactive", "GET", "/api-auth/apps?include_inactive=maybe", nil, 400},
		{"keys: offset paging", "GET", "/api-auth/apps/" + slug + "/keys?offset=10", nil, 400},
		{"key: no name", "POST", "/api-auth/apps/" + slug + "/keys", map[string]any{"permissions": []string{"a"}}, 400},
		{"key: bad expires_at", "POST", "/api-auth/apps/" + slug + "/keys", map[string]any{"name": "x", "expires_at": "tomorrow"}, 400},
		{"key: expires_at a number", "POST", "/api-auth/apps/" + slug + "/keys", map[string]any{"name": "x", "expires_at": 12}, 400},
		{"key: expires_at past", "POST", "/api-auth/apps/" + slug + "/keys", map[string]any{"name": "x", "expires_at": past}, 400},
		{"key: metadata not an object", "POST", "/api-auth/apps/" + slug + "/keys", map[string]any{"name": "x", "metadata": []int{1}}, 400},
		{"key: membership", "POST", "/api-auth/apps/" + slug + "/keys", map[string]any{"name": "x", "organization_membership_id": "m1"}, 400},
		{"rotate: negative grace", "POST", "/api-auth/apps/" + slug + "/keys/" + k.ID + "/rotate", map[string]any{"grace_period_seconds": -1}, 400},
		{"rotate: grace too long", "POST", "/api-auth/apps/" + slug + "/keys/" + k.ID + "/rotate", map[string]any{"grace_period_seconds": 31 * 24 * 3600}, 400},
		{"revoke: a stray closing brace", "POST", "/api-auth/apps/" + slug + "/keys/" + k.ID + "/revoke", `{"reason":"x"}}`, 400},
		{"revoke: reason not a string", "POST", "/api-auth/apps/" + slug + "/keys/" + k.ID + "/revoke", map[string]any{"reason": 5}, 400},
		{"ticket: no type", "POST", "/session/tickets", map[string]any{"api_auth_app_slug": slug}, 400},
		{"ticket: unknown type", "POST", "/session/tickets", map[string]any{"ticket_type": "magic", "api_auth_app_slug": slug}, 400},
		{"ticket: impersonation", "POST", "/session/tickets", map[string]any{"ticket_type": "impersonation"}, 400},
		{"ticket: no slug", "POST", "/session/tickets", map[string]any{"ticket_type": "api_auth_access"}, 400},
		{"ticket: negative expires_in", "POST", "/session/tickets", map[string]any{"ticket_type": "api_auth_access", "api_auth_app_slug": slug, "expires_in": -1}, 400},
		{"ticket: foreign embedder", "POST", "/session/tickets", map[string]any{"ticket_type": "api_auth_access", "api_auth_app_slug": slug, "embedder_origin": "https://evil.example"}, 400},
		{"check: bad principal type", "POST", "/v1/authz/check", map[string]any{"principal": map[string]string{"type": "oauth", "value": "x"}, "resource": "/", "method": "GET"}, 400},
		{"check: bad method", "POST", "/v1/authz/check", map[string]any{"principal": map[string]string{"type": "api_key", "value": "x"}, "resource": "/", "method": "BREW"}, 400},
		{"check: no resource", "POST", "/v1/authz/check", map[string]any{"principal": map[string]string{"type": "api_key", "value": "x"}, "method": "GET"}, 400},
		{"audit: limit 0", "GET", "/api-auth/apps/" + slug + "/audit/events?limit=0", nil, 400},
		{"audit: limit 1001", "GET", "/api-auth/apps/" + slug + "/audit/events?limit=1001", nil, 400},
		{"audit: bad cursor", "GET", "/api-auth/apps/" + slug + "/audit/events?cursor=bm9wZQ", nil, 400},
		{"audit: bad date", "GET", "/api-auth/apps/" + slug + "/audit/events?start_date=yesterday", nil, 400},
		{"audit: end before start", "GET", "/api-auth/apps/" + slug + "/audit/events?start_date=2026-01-02T00:00:00Z&end_date=2026-01-01T00:00:00Z", nil, 400},
		{"audit: empty window", "GET", "/api-auth/apps/" + slug + "/audit/events?start_date=2026-01-02&end_date=2026-01-02", nil, 400},
		{"body over 64 KiB", "POST", "/api-auth/apps/" + slug + "/keys", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, 413},
	}
	before := snapshot(t, w.env.Store)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var status int
			var body []byte
			if tc.name == "app: text/plain" {
				req := httptest.NewRequest("POST", tc.path, strings.NewReader(`{"app_slug":"aa_1"}`))
				req.Header.Set("Content-Type", "text/plain")
				req.Header.Set("Authorization", "Bearer "+backendKey)
				rec := httptest.NewRecorder()
				w.engine.ServeHTTP(rec, req)
				status, body = rec.Code, rec.Body.Bytes()
				tc.want = 415
			} else {
				status, body, _ = w.do(tc.method, tc.path, "Bearer "+backendKey, tc.body)
			}
			wantError(t, tc.name, status, body, tc.want)
		})
	}
	if after := snapshot(t, w.env.Store); after != before {
		t.Fatalf("refused requests changed the store")
	}
}

func TestNotFound(t *testing.T) {
	w := newWorld(t)
	k, _ := w.env.NewKey(t, "ci", nil, nil)
	slug := apikeytest.AppSlug
	if _, err := w.env.Store.RevokeKey(context.Background(), slug, k.ID, "", apikeytest.Actor); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path string
		body               any
	}{
		{"get unknown app", "GET", "/api-auth/apps/aa_404", nil},
		{"patch unknown app", "PATCH", "/api-auth/apps/aa_404", map[string]any{"name": "x"}},
		{"delete unknown app", "DELETE", "/api-auth/apps/aa_404", nil},
		{"keys of unknown app", "GET", "/api-auth/apps/aa_404/keys", nil},
		{"create key in unknown app", "POST", "/api-auth/apps/aa_404/keys", map[string]any{"name": "x"}},
		{"rotate unknown key", "POST", "/api-auth/apps/" + slug + "/keys/key_nope/rotate", nil},
		{"revoke unknown key", "POST", "/api-auth/apps/" + slug + "/keys/key_nope/revoke", nil},
		{"revoke key of another app", "POST", "/api-auth/apps/aa_404/keys/" + k.ID + "/revoke", nil},
		{"revoke revoked key", "POST", "/api-auth/apps/" + slug + "/keys/" + k.ID + "/revoke", map[string]any{"reason": "again"}},
		{"rotate revoked key", "POST", "/api-auth/apps/" + slug + "/keys/" + k.ID + "/rotate", nil},
		{"audit of unknown app", "GET", "/api-auth/apps/aa_404/audit/events", nil},
		{"ticket for unknown app", "POST", "/session/tickets", map[string]any{"ticket_type": "api_auth_access", "api_auth_app_slug": "aa_404"}},
		{"unknown path", "GET", "/api-auth/nothing", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := w.do(tc.method, tc.path, "Bearer "+backendKey, tc.body)
			if tc.name == "unknown path" {
				if status != 404 {
					t.Errorf("status %d", status)
				}
				return
			}
			wantError(t, tc.name, status, body, 404)
		})
	}
}

func TestTicketAuditedAndDefaults(t *testing.T) {
	w := newWorld(t)
	status, body, _ := w.do("POST", "/session/tickets", "Bearer "+backendKey,
		map[string]any{"ticket_type": "api_auth_access", "api_auth_app_slug": apikeytest.AppSlug, "expires_in": 43200})
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var tk struct {
		Ticket    string `json:"ticket"`
		ExpiresAt int64  `json:"expires_at"`
	}
	json.Unmarshal(body, &tk)
	if max := w.env.Clock.Now().Add(ticket.MaxTTL + time.Second).Unix(); tk.ExpiresAt > max {
		t.Errorf("expires_in 43200 gave expires_at %d, want clamped to ≤ %d", tk.ExpiresAt, max)
	}
	page, err := w.env.Store.QueryAudit(context.Background(), audit.Query{Action: audit.ActionTicketIssue})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("ticket.issue events: %+v, %v", page.Events, err)
	}
	e := page.Events[0]
	if e.Outcome != audit.OutcomeIssued || e.Actor != wachtapi.ActorName || e.Tenant != apikeytest.Tenant ||
		e.TicketFingerprint == "" || strings.Contains(fmt.Sprint(e), tk.Ticket) {
		t.Errorf("event %+v: want issued by %s for %s with a fingerprint and no ticket", e, wachtapi.ActorName, apikeytest.Tenant)
	}
}

func TestNewConfigErrors(t *testing.T) {
	env := apikeytest.NewEnv(t)
	p, _ := portal.New(portal.Config{Store: env.Store, BaseURL: portalBase})
	cases := []struct {
		name string
		cfg  wachtapi.Config
	}{
		{"no store", wachtapi.Config{Issuer: p.Issuer(), APIKeys: []string{backendKey}}},
		{"no issuer", wachtapi.Config{Store: env.Store, APIKeys: []string{backendKey}}},
		{"no keys", wachtapi.Config{Store: env.Store, Issuer: p.Issuer()}},
		{"short key", wachtapi.Config{Store: env.Store, Issuer: p.Issuer(), APIKeys: []string{"short"}}},
		{"key with space", wachtapi.Config{Store: env.Store, Issuer: p.Issuer(), APIKeys: []string{"0123456789 abcdefgh"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := wachtapi.New(tc.cfg); err == nil || !strings.HasPrefix(err.Error(), "backend: ") {
				t.Errorf("error %v, want a backend: error", err)
			}
		})
	}
}

func TestCloseLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	st, err := sqlite.Open(t.Context(), t.TempDir()+"/keys.db", keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := portal.New(portal.Config{Store: st, BaseURL: portalBase})
	if err != nil {
		t.Fatal(err)
	}
	api, err := wachtapi.New(wachtapi.Config{Store: st, Issuer: p.Issuer(), APIKeys: []string{backendKey}})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestBackendAPIRefusesHostileText: text that could drive an operator's
// terminal or disguise what it shows is refused in every free-text field of
// apps and keys, with a 400 in Wacht's error shape naming the field, and
// nothing is stored.
func TestBackendAPIRefusesHostileText(t *testing.T) {
	w := newWorld(t)
	k, _ := w.env.NewKey(t, "ci", nil, nil)
	slug := apikeytest.AppSlug
	app := func(field string, v any) map[string]any {
		m := map[string]any{"app_slug": "aa_1", "name": "x", "key_prefix": "x", "organization_id": "acme"}
		m[field] = v
		return m
	}
	before := snapshot(t, w.env.Store)
	for _, h := range testenv.HostileText {
		text, multiline := h.Text, h.Lines
		t.Run(h.Name, func(t *testing.T) {
			type textCase struct {
				field, method, path string
				body                any
			}
			cases := []textCase{
				{"name", "POST", "/api-auth/apps", app("name", text)},
				{"tenant", "POST", "/api-auth/apps", app("organization_id", text)},
				{"deployment_id", "POST", "/api-auth/apps", app("deployment_id", text)},
				{"permissions", "POST", "/api-auth/apps", app("permissions", []string{text})},
				{"resources", "POST", "/api-auth/apps", app("resources", []string{text})},
				{"name", "PATCH", "/api-auth/apps/" + slug, map[string]any{"name": text}},
				{"permissions", "PATCH", "/api-auth/apps/" + slug, map[string]any{"permissions": []string{"a", text}}},
				{"name", "POST", "/api-auth/apps/" + slug + "/keys", map[string]any{"name": text}},
				{"permissions", "POST", "/api-auth/apps/" + slug + "/keys", map[string]any{"name": "x", "permissions": []string{text}}},
				{"metadata", "POST", "/api-auth/apps/" + slug + "/keys", map[string]any{"name": "x", "metadata": map[string]any{text: 1}}},
				{"reason", "POST", "/api-auth/apps/" + slug + "/keys/" + k.ID + "/revoke", map[string]any{"reason": text}},
			}
			if !multiline { // a description and metadata strings may span lines
				cases = append(cases,
					textCase{"description", "POST", "/api-auth/apps", app("description", text)},
					textCase{"description", "PATCH", "/api-auth/apps/" + slug, map[string]any{"description": text}},
					textCase{"metadata", "POST", "/api-auth/apps/" + slug + "/keys", map[string]any{"name": "x", "metadata": map[string]any{"note": text}}})
			}
			for _, tc := range cases {
				status, body, _ := w.do(tc.method, tc.path, "Bearer "+backendKey, tc.body)
				what := fmt.Sprintf("%s %s %s %q", tc.method, tc.path, tc.field, text)
				wantError(t, what, status, body, http.StatusBadRequest)
				var e wachtErrors
				if json.Unmarshal(body, &e) == nil && len(e.Errors) == 1 && !strings.Contains(e.Errors[0].Message, tc.field) {
					t.Errorf("%s: message %q does not name %s", what, e.Errors[0].Message, tc.field)
				}
			}
		})
	}
	if after := snapshot(t, w.env.Store); after != before {
		t.Fatalf("refused requests changed the store")
	}
}

// TestClientCheckVerdicts: the Wacht client against this backend API
// standing in for Wacht. A key the gateway refuses (unknown, revoked) is a
// verdict, Allowed false with its reason, not an error; only a refused
// backend API key is an error (wacht.ErrUnauthorized).
func TestClientCheckVerdicts(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, backendKey)
	ctx := context.Background()
	k, secret := w.env.NewKey(t, "ci", []string{"deploy:read"}, nil)
	check := func(c *wacht.Client, secret string) (wacht.CheckResponse, error) {
		return c.Check(ctx, wacht.CheckRequest{Principal: wacht.Principal{Value: secret}, Resource: "/v1/whoami", Method: "GET"})
	}
	if r, err := check(c, secret); err != nil || !r.Allowed || r.Identity == nil || r.Identity.KeyID != k.ID {
		t.Fatalf("valid key: %+v, %v", r, err)
	}
	unknown := apikeytest.KeyPrefix + "_" + strings.Repeat("A", apikey.BodyLen)
	r, err := check(c, unknown)
	if err != nil || r.Allowed || r.Reason != wacht.ReasonInvalidKey || r.Detail != string(apikey.ReasonUnknown) || r.Identity != nil {
		t.Errorf("unknown key: %+v, %v; want Allowed false, reason %q, detail %q", r, err, wacht.ReasonInvalidKey, apikey.ReasonUnknown)
	}
	if _, err := w.env.Store.RevokeKey(ctx, apikeytest.AppSlug, k.ID, "leaked", apikeytest.Actor); err != nil {
		t.Fatal(err)
	}
	r, err = check(c, secret)
	if err != nil || r.Allowed || r.Reason != wacht.ReasonInvalidKey || r.Detail != string(apikey.ReasonRevoked) {
		t.Errorf("revoked key: %+v, %v; want Allowed false, reason %q, detail %q", r, err, wacht.ReasonInvalidKey, apikey.ReasonRevoked)
	}
	wrong := w.client(t, "kp_backend_wrong_key_0123456789")
	for _, s := range []string{secret, unknown} {
		r, err = check(wrong, s)
		if !errors.Is(err, wacht.ErrUnauthorized) || r.Allowed || r.Reason != "" {
			t.Errorf("wrong backend key: %+v, %v; want no verdict and wacht.ErrUnauthorized", r, err)
		}
	}
}

// TestTicketRefusedForInactiveTenant: with Tenants, POST /session/tickets
// issues nothing for an app whose tenant is suspended or deleted (403, a
// denied ticket.issue event naming the status), and again once it is active.
func TestTicketRefusedForInactiveTenant(t *testing.T) {
	w := newWorld(t)
	req := map[string]any{"ticket_type": "api_auth_access", "api_auth_app_slug": apikeytest.AppSlug}
	for _, st := range []policy.TenantStatus{policy.TenantSuspended, policy.TenantDeleted} {
		w.env.Clock.Advance(time.Second) // the newest event is this one's
		w.env.Tenants.Set(apikeytest.Tenant, st)
		status, body, _ := w.do("POST", "/session/tickets", "Bearer "+backendKey, req)
		wantError(t, "ticket for a "+string(st)+" tenant", status, body, http.StatusForbidden)
		if strings.Contains(string(body), `"ticket"`) {
			t.Fatalf("the refusal carries a ticket: %s", body)
		}
		page, err := w.env.Store.QueryAudit(context.Background(), audit.Query{Action: audit.ActionTicketIssue, Limit: 1})
		if err != nil || len(page.Events) != 1 || page.Events[0].Outcome != audit.OutcomeDenied || page.Events[0].Reason != "tenant_"+string(st) {
			t.Fatalf("newest ticket.issue event %+v (%v): want denied, tenant_%s", page.Events, err, st)
		}
	}
	w.env.Tenants.Set(apikeytest.Tenant, policy.TenantActive)
	if status, body, _ := w.do("POST", "/session/tickets", "Bearer "+backendKey, req); status != http.StatusOK {
		t.Fatalf("ticket for the active tenant: %d %s", status, body)
	}
}

// TestTicketUserID: the user_id of POST /session/tickets is the portal
// session's user and its actor in the audit trail, so it follows the rule
// of the other text fields: at most 128 characters of one line without
// control, bidi or invisible characters, else 400 naming user_id and no
// ticket (a longer one made a ticket the portal refused as forged). One at
// the bound is exchanged.
func TestTicketUserID(t *testing.T) {
	w := newWorld(t)
	ticketFor := func(user string) (int, []byte) {
		status, body, _ := w.do("POST", "/session/tickets", "Bearer "+backendKey, map[string]any{
			"ticket_type": "api_auth_access", "api_auth_app_slug": apikeytest.AppSlug, "user_id": user})
		return status, body
	}
	bad := []string{strings.Repeat("u", 129), strings.Repeat("u", 1500)}
	for _, h := range testenv.HostileText {
		bad = append(bad, h.Text)
	}
	for _, user := range bad {
		status, body := ticketFor(user)
		wantError(t, fmt.Sprintf("user_id %.20q (%d bytes)", user, len(user)), status, body, http.StatusBadRequest)
		if !strings.Contains(string(body), "user_id") {
			t.Errorf("user_id %.20q: %s does not name user_id", user, body)
		}
	}
	status, body := ticketFor(strings.Repeat("<", 128))
	var tk struct{ Ticket string }
	if err := json.Unmarshal(body, &tk); status != http.StatusOK || err != nil {
		t.Fatalf("user_id of 128 characters: %d %s", status, body)
	}
	if status, body, _ := w.do("POST", portal.PagePath+"/exchange", "", map[string]string{"ticket": tk.Ticket}); status != http.StatusOK {
		t.Errorf("exchange of the ticket of a 128-character user: %d %s", status, body)
	}
}
