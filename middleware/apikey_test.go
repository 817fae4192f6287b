package middleware_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"

	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// akServer is a gin engine with a guarded route that echoes the identity.
type akServer struct {
	auth   *middleware.APIKeyAuth
	engine *gin.Engine
}

func newAKServer(t testing.TB, cfg middleware.APIKeyConfig, required ...string) *akServer {
	t.Helper()
	auth, err := middleware.RequireAPIKey(cfg)
	if err != nil {
		t.Fatalf("RequireAPIKey: %v", err)
	}
	t.Cleanup(func() { auth.Close() })
	r := gin.New()
	echo := func(c *gin.Context) {
		id, ok := middleware.APIKeyFrom(c)
		if !ok {
			c.String(http.StatusInternalServerError, "no identity in context")
			return
		}
		c.JSON(http.StatusOK, id)
	}
	r.GET("/v1/thing", auth.Require(required...), echo)
	r.GET("/v1/any", auth.Require(), echo)
	r.GET("/v1/handler", auth.Handler(), echo)
	return &akServer{auth: auth, engine: r}
}

func (s *akServer) get(path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	s.engine.ServeHTTP(w, req)
	return w
}

func bearer(secret string) []string {
	if secret == "" {
		return nil
	}
	return []string{"Authorization", "Bearer " + secret}
}

func envConfig(e *apikeytest.Env) middleware.APIKeyConfig {
	return middleware.APIKeyConfig{Config: apikey.Config{Keys: e.Store, Tenants: e.Tenants, Now: e.Clock.Now}}
}

type akError struct {
	Error  string `json:"error"`
	Reason string `json:"reason"`
}

func TestRequireAPIKeyScenarios(t *testing.T) {
	for _, tc := range apikeytest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			e := apikeytest.NewEnv(t)
			runScenario(t, tc, e, newAKServer(t, envConfig(e), tc.Required...), nil)
		})
	}
}

// runScenario presents tc's secret to s as apikeytest.Case says, calling
// settle (if any) after the change, and checks the answer.
func runScenario(t *testing.T, tc apikeytest.Case, e *apikeytest.Env, s *akServer, settle func()) {
	t.Helper()
	secret := tc.Secret(t, e)
	if tc.Then != nil {
		if w := s.get("/v1/any", bearer(secret)...); w.Code != http.StatusOK {
			t.Fatalf("before the change: status %d, body %s; want 200", w.Code, w.Body)
		}
		tc.Then(t, e, secret)
		if settle != nil {
			settle()
		}
	}
	w := s.get("/v1/thing", bearer(secret)...)
	if want := apikeytest.Status(tc.Want); w.Code != want {
		t.Fatalf("status %d, body %s; want %d (%s)", w.Code, w.Body, want, tc.Want)
	}
	if got := w.Header().Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("Content-Type %q, want JSON", got)
	}
	challenge := w.Header().Get("WWW-Authenticate")
	if tc.Want == "" {
		var id middleware.APIKeyIdentity
		if err := json.Unmarshal(w.Body.Bytes(), &id); err != nil {
			t.Fatalf("identity body: %v", err)
		}
		if id.KeyID == "" || id.AppSlug != apikeytest.AppSlug || id.Tenant != apikeytest.Tenant ||
			id.DeploymentID != "42" || id.KeyName == "" || len(id.Permissions) == 0 || id.Metadata["team"] != "ops" {
			t.Errorf("identity %+v lacks key id, app, tenant, deployment, name, permissions or metadata", id)
		}
		if challenge != "" {
			t.Errorf("WWW-Authenticate %q on success", challenge)
		}
		return
	}
	var body akError
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error == "" {
		t.Fatalf("error body %s is not {error, reason}: %v", w.Body, err)
	}
	if body.Reason != string(tc.Want) {
		t.Errorf("reason %q, want %q", body.Reason, tc.Want)
	}
	if strings.Contains(w.Body.String(), secret) && secret != "" {
		t.Errorf("the body echoes the secret")
	}
	switch {
	case tc.Want == apikey.ReasonMissing:
		if challenge != `Bearer realm="api"` {
			t.Errorf("WWW-Authenticate %q, want a bare challenge", challenge)
		}
	case w.Code == http.StatusForbidden:
		if !strings.Contains(challenge, `error="insufficient_scope"`) || !strings.Contains(challenge, `scope="`+strings.Join(tc.Required, " ")+`"`) {
			t.Errorf("WWW-Authenticate %q, want insufficient_scope naming %v", challenge, tc.Required)
		}
	default:
		if challenge != `Bearer realm="api", error="invalid_token"` {
			t.Errorf("WWW-Authenticate %q, want invalid_token", challenge)
		}
	}
}

func TestRequireAPIKeyHeaders(t *testing.T) {
	e := apikeytest.NewEnv(t)
	_, secret := e.NewKey(t, "ci", []string{"deploy:read"}, nil)
	_, other := e.NewKey(t, "other", nil, nil)
	s := newAKServer(t, envConfig(e))
	cases := []struct {
		name   string
		header []string
		want   int
		reason apikey.Reason
	}{
		{"bearer", []string{"Authorization", "Bearer " + secret}, 200, ""},
		{"bearer scheme in lower case", []string{"Authorization", "bearer " + secret}, 200, ""},
		{"bearer scheme in upper case", []string{"Authorization", "BEARER " + secret}, 200, ""},
		{"X-API-Key", []string{"X-API-Key", secret}, 200, ""},
		{"x-api-key in lower case", []string{"x-api-key", secret}, 200, ""},
		{"both headers, same key", []string{"Authorization", "Bearer " + secret, "X-API-Key", secret}, 200, ""},
		{"both headers, different keys", []string{"Authorization", "Bearer " + secret, "X-API-Key", other}, 401, apikey.ReasonMalformed},
		{"two Authorization headers", []string{"Authorization", "Bearer " + secret, "Authorization", "Bearer " + secret}, 401, apikey.ReasonMalformed},
		{"two X-API-Key headers", []string{"X-API-Key", secret, "X-API-Key", secret}, 401, apikey.ReasonMalformed},
		{"empty bearer", []string{"Authorization", "Bearer "}, 401, apikey.ReasonMalformed},
		{"empty X-API-Key", []string{"X-API-Key", ""}, 401, apikey.ReasonMalformed},
		{"no headers", nil, 401, apikey.ReasonMissing},
		{"basic auth only", []string{"Authorization", "Basic dXNlcjpwYXNz"}, 401, apikey.ReasonMissing},
		{"basic auth and X-API-Key", []string{"Authorization", "Basic dXNlcjpwYXNz", "X-API-Key", secret}, 200, ""},
		{"secret without scheme", []string{"Authorization", secret}, 401, apikey.ReasonMissing},
		{"token with trailing garbage", []string{"Authorization", "Bearer " + secret + " x"}, 401, apikey.ReasonMalformed},
		{"secret in the query is ignored", nil, 401, apikey.ReasonMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := "/v1/thing"
			if strings.Contains(tc.name, "query") {
				path += "?api_key=" + secret
			}
			w := s.get(path, tc.header...)
			if w.Code != tc.want {
				t.Fatalf("status %d, body %s; want %d", w.Code, w.Body, tc.want)
			}
			if tc.reason != "" {
				var body akError
				_ = json.Unmarshal(w.Body.Bytes(), &body)
				if body.Reason != string(tc.reason) {
					t.Errorf("reason %q, want %q", body.Reason, tc.reason)
				}
			}
		})
	}
}

func TestRequireAPIKeyHandlerUsesConfiguredPermissions(t *testing.T) {
	e := apikeytest.NewEnv(t)
	_, reader := e.NewKey(t, "reader", []string{"deploy:read"}, nil)
	_, writer := e.NewKey(t, "writer", []string{"deploy:read", "deploy:write"}, nil)
	cfg := envConfig(e)
	cfg.Permissions = []string{"deploy:write"}
	cfg.Realm = "acme-api"
	s := newAKServer(t, cfg)
	if w := s.get("/v1/handler", bearer(reader)...); w.Code != http.StatusForbidden ||
		w.Header().Get("WWW-Authenticate") != `Bearer realm="acme-api", error="insufficient_scope", scope="deploy:write"` {
		t.Errorf("reader: status %d, challenge %q; want 403 insufficient_scope", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	if w := s.get("/v1/handler", bearer(writer)...); w.Code != http.StatusOK {
		t.Errorf("writer: status %d, want 200", w.Code)
	}
	if w := s.get("/v1/any", bearer(reader)...); w.Code != http.StatusOK {
		t.Errorf("reader on a route without permissions: status %d, want 200", w.Code)
	}
}

func TestRequireWithBadPermissionRefusesAll(t *testing.T) {
	e := apikeytest.NewEnv(t)
	k, secret := e.NewKey(t, "ci", []string{"deploy:read"}, nil)
	// The store refuses control characters in permissions: the key holds
	// this one as a database written before that rule (or by another tool)
	// would.
	db, err := sql.Open("sqlite", e.Store.(*sqlite.SQLite).Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE api_keys SET permissions = ? WHERE id = ?`, `["a\r\nX-Evil: 1"]`, k.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := e.Store.GetKey(context.Background(), k.AppSlug, k.ID); err != nil || strings.Join(got.Permissions, ",") != "a\r\nX-Evil: 1" {
		t.Fatalf("key permissions %q, %v", got.Permissions, err)
	}
	s := newAKServer(t, envConfig(e), "a\r\nX-Evil: 1")
	w := s.get("/v1/thing", bearer(secret)...)
	if w.Code != http.StatusForbidden || w.Header().Get("X-Evil") != "" || strings.Contains(w.Header().Get("WWW-Authenticate"), "Evil") {
		t.Fatalf("status %d, headers %v; want 403 and no injected header", w.Code, w.Header())
	}
}

func TestRequireAPIKeyConfigErrors(t *testing.T) {
	e := apikeytest.NewEnv(t)
	cases := []struct {
		name string
		cfg  middleware.APIKeyConfig
		want string
	}{
		{"no keys", middleware.APIKeyConfig{}, "Keys is required"},
		{"realm with a quote", middleware.APIKeyConfig{Config: apikey.Config{Keys: e.Store}, Realm: `a"b`}, "Realm"},
		{"empty permission", middleware.APIKeyConfig{Config: apikey.Config{Keys: e.Store}, Permissions: []string{""}}, "permission"},
		{"permission with a space", middleware.APIKeyConfig{Config: apikey.Config{Keys: e.Store}, Permissions: []string{"a b"}}, "permission"},
		{"negative touch interval", middleware.APIKeyConfig{Config: apikey.Config{Keys: e.Store, TouchInterval: -time.Second}}, "TouchInterval"},
		{"negative cache size", middleware.APIKeyConfig{Config: apikey.Config{Keys: e.Store, CacheSize: -1}}, "CacheSize"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := middleware.RequireAPIKey(tc.cfg)
			if err == nil {
				a.Close()
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "middleware: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want a middleware: error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestRequireAPIKeyWritesLastUsedInBatches(t *testing.T) {
	e := apikeytest.NewEnv(t)
	k, secret := e.NewKey(t, "ci", nil, nil)
	cfg := envConfig(e)
	cfg.TouchInterval = time.Hour // only explicit flushes in this test
	s := newAKServer(t, cfg)
	ctx := context.Background()

	used := e.Clock.Now()
	for range 5 {
		if w := s.get("/v1/any", bearer(secret)...); w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
	}
	got, err := e.Store.GetKey(ctx, apikeytest.AppSlug, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt != nil {
		t.Fatalf("last_used_at %v written per request, before any flush", got.LastUsedAt)
	}
	if err := s.auth.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = e.Store.GetKey(ctx, apikeytest.AppSlug, k.ID)
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(used) {
		t.Fatalf("last_used_at %v after flush, want %v", got.LastUsedAt, used)
	}

	// A later use is written by Close.
	e.Clock.Advance(time.Minute)
	s.get("/v1/any", bearer(secret)...)
	if err := s.auth.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ = e.Store.GetKey(ctx, apikeytest.AppSlug, k.ID)
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(used.Add(time.Minute)) {
		t.Fatalf("last_used_at %v after Close, want %v", got.LastUsedAt, used.Add(time.Minute))
	}
}

func TestRequireAPIKeyFlushesInBackground(t *testing.T) {
	e := apikeytest.NewEnv(t)
	k, secret := e.NewKey(t, "ci", nil, nil)
	cfg := envConfig(e)
	cfg.TouchInterval = 10 * time.Millisecond
	s := newAKServer(t, cfg)
	s.get("/v1/any", bearer(secret)...)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := e.Store.GetKey(context.Background(), apikeytest.AppSlug, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastUsedAt != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("last_used_at not written by the background flush within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// countingKeys counts store lookups, and can fail them or hide Subscribe.
type countingKeys struct {
	keystore.Keys
	lookups atomic.Int64
	fail    atomic.Bool
}

func (c *countingKeys) LookupKey(ctx context.Context, hash string) (keystore.Key, keystore.App, error) {
	c.lookups.Add(1)
	if c.fail.Load() {
		return keystore.Key{}, keystore.App{}, errors.New("database is locked")
	}
	return c.Keys.LookupKey(ctx, hash)
}

func TestRequireAPIKeyLookups(t *testing.T) {
	e := apikeytest.NewEnv(t)
	k, secret := e.NewKey(t, "ci", nil, nil)
	keys := &countingKeys{Keys: e.Store}
	cfg := envConfig(e)
	cfg.Keys, cfg.Changes = keys, e.Store
	s := newAKServer(t, cfg)

	step := func(name string, header []string, wantStatus int, wantLookups int64) {
		t.Helper()
		before := keys.lookups.Load()
		if w := s.get("/v1/any", header...); w.Code != wantStatus {
			t.Fatalf("%s: status %d, want %d", name, w.Code, wantStatus)
		}
		if got := keys.lookups.Load() - before; got != wantLookups {
			t.Fatalf("%s: %d store lookups, want %d", name, got, wantLookups)
		}
	}
	step("garbage is refused before any lookup", bearer("not-a-key"), 401, 0)
	step("a wrong-length key too", bearer(apikeytest.KeyPrefix+"_abc"), 401, 0)
	unknown := apikeytest.KeyPrefix + "_" + strings.Repeat("Q", apikey.BodyLen)
	step("an unknown well-formed key is looked up", bearer(unknown), 401, 1)
	step("and looked up again: no negative cache", bearer(unknown), 401, 1)
	step("a valid key is looked up once", bearer(secret), 200, 1)
	step("then served from the cache", bearer(secret), 200, 0)
	if _, err := e.Store.RevokeKey(context.Background(), apikeytest.AppSlug, k.ID, "", apikeytest.Actor); err != nil {
		t.Fatal(err)
	}
	step("revocation drops it from the cache", bearer(secret), 401, 1)

	keys.fail.Store(true)
	_, fresh := e.NewKey(t, "fresh", nil, nil)
	w := s.get("/v1/any", bearer(fresh)...)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("store failure: status %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if strings.Contains(w.Body.String(), "locked") {
		t.Errorf("store error %s leaked to the client", w.Body)
	}
}

// keysOnly hides the store's Subscribe method.
type keysOnly struct{ keystore.Keys }

func TestRequireAPIKeyWithoutChangeFeedDoesNotCache(t *testing.T) {
	e := apikeytest.NewEnv(t)
	k, secret := e.NewKey(t, "ci", nil, nil)
	cfg := envConfig(e)
	cfg.Keys = keysOnly{e.Store}
	s := newAKServer(t, cfg)
	if w := s.get("/v1/any", bearer(secret)...); w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	if _, err := e.Store.RevokeKey(context.Background(), apikeytest.AppSlug, k.ID, "", apikeytest.Actor); err != nil {
		t.Fatal(err)
	}
	if w := s.get("/v1/any", bearer(secret)...); w.Code != http.StatusUnauthorized {
		t.Fatalf("revoked key without a change feed: status %d, want 401", w.Code)
	}
}

// TestRequireAPIKeyRevocationUnderLoad revokes a key while requests are in
// flight: every request that starts after RevokeKey returned must fail.
func TestRequireAPIKeyRevocationUnderLoad(t *testing.T) {
	e := apikeytest.NewEnv(t)
	k, secret := e.NewKey(t, "ci", nil, nil)
	s := newAKServer(t, envConfig(e))
	var revoked atomic.Bool
	var wrong atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				after := revoked.Load()
				w := s.get("/v1/any", bearer(secret)...)
				if after && w.Code != http.StatusUnauthorized {
					wrong.Add(1)
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := e.Store.RevokeKey(context.Background(), apikeytest.AppSlug, k.ID, "", apikeytest.Actor); err != nil {
		t.Fatal(err)
	}
	revoked.Store(true)
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := wrong.Load(); n > 0 {
		t.Fatalf("%d requests started after the revocation returned were let through", n)
	}
}

func TestRequireAPIKeySmallCacheStaysCorrect(t *testing.T) {
	e := apikeytest.NewEnv(t)
	cfg := envConfig(e)
	cfg.CacheSize = 2
	s := newAKServer(t, cfg)
	var keys []keystore.Key
	var secrets []string
	for range 5 {
		k, sec := e.NewKey(t, "k", nil, nil)
		keys, secrets = append(keys, k), append(secrets, sec)
	}
	for round := range 3 {
		for i, sec := range secrets {
			if w := s.get("/v1/any", bearer(sec)...); w.Code != http.StatusOK {
				t.Fatalf("round %d key %d: status %d", round, i, w.Code)
			}
		}
	}
	if _, err := e.Store.RevokeKey(context.Background(), apikeytest.AppSlug, keys[3].ID, "", apikeytest.Actor); err != nil {
		t.Fatal(err)
	}
	for i, sec := range secrets {
		want := http.StatusOK
		if i == 3 {
			want = http.StatusUnauthorized
		}
		if w := s.get("/v1/any", bearer(sec)...); w.Code != want {
			t.Fatalf("key %d after revoking key 3: status %d, want %d", i, w.Code, want)
		}
	}
}

func TestRequireAPIKeyCloseLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	clock := apikeytest.NewClock(apikeytest.Start)
	st, err := sqlite.Open(t.Context(), t.TempDir()+"/keys.db", keystore.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	auth, err := middleware.RequireAPIKey(middleware.APIKeyConfig{Config: apikey.Config{Keys: st, Now: clock.Now, TouchInterval: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.GET("/", auth.Handler(), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-API-Key", apikeytest.KeyPrefix+"_"+strings.Repeat("A", apikey.BodyLen))
	r.ServeHTTP(httptest.NewRecorder(), req)
	if err := auth.Close(); err != nil {
		t.Fatal(err)
	}
	if err := auth.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
