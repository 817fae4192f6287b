package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/middleware/portal"
	"github.com/keyportal/keyportal/middleware/portal/wachtapi"
	"github.com/keyportal/keyportal/middleware/ratelimit"
	"github.com/keyportal/keyportal/middleware/wacht"
	"github.com/keyportal/keyportal/middleware/wacht/gateway"
)

const gatewayBackendKey = "kp_backend_gateway_test_0123456789"

// gatewayWorld is Wacht mode in process: keyportal's Wacht-compatible
// backend API on the scenario's SQLite store standing in for Wacht, and a
// guard verifying through its /v1/authz/check.
type gatewayWorld struct {
	checks atomic.Int64 // /v1/authz/check requests the stand-in answered
	cache  *apikeytest.Clock
	srv    *httptest.Server
}

func newGatewayWorld(t *testing.T, e *apikeytest.Env, limits ...ratelimit.Rule) *gatewayWorld {
	t.Helper()
	p, err := portal.New(portal.Config{Store: e.Store, BaseURL: "http://localhost:8081", Now: e.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	api, err := wachtapi.New(wachtapi.Config{Store: e.Store, Issuer: p.Issuer(), APIKeys: []string{gatewayBackendKey},
		Tenants: e.Tenants, Now: e.Clock.Now, RateLimits: limits})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	if err := api.Mount(r); err != nil {
		t.Fatal(err)
	}
	g := &gatewayWorld{cache: apikeytest.NewClock(apikeytest.Start)}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/v1/authz/check" {
			g.checks.Add(1)
		}
		r.ServeHTTP(w, req)
	}))
	t.Cleanup(func() {
		g.srv.Close()
		api.Close()
	})
	return g
}

// config is RequireAPIKey's config in Wacht mode, with backendKey as the
// backend API key and cacheTTL as gateway.Config.CacheTTL.
func (g *gatewayWorld) config(t *testing.T, backendKey string, cacheTTL time.Duration) middleware.APIKeyConfig {
	t.Helper()
	client, err := wacht.New(wacht.Config{APIKey: backendKey, BaseURL: g.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	v, err := gateway.New(gateway.Config{Client: client, CacheTTL: cacheTTL, Now: g.cache.Now})
	if err != nil {
		t.Fatal(err)
	}
	return middleware.APIKeyConfig{Verifier: v}
}

// TestRequireAPIKeyScenariosWacht runs the scenario table through
// RequireAPIKey in Wacht mode. Every refusal after a change is seen once the
// cache bound has passed (settle moves the cache's clock by it).
func TestRequireAPIKeyScenariosWacht(t *testing.T) {
	for _, tc := range apikeytest.Cases() {
		t.Run(tc.Name, func(t *testing.T) {
			e := apikeytest.NewEnv(t)
			g := newGatewayWorld(t, e)
			s := newAKServer(t, g.config(t, gatewayBackendKey, 0), tc.Required...)
			runScenario(t, tc, e, s, func() { g.cache.Advance(gateway.DefaultCacheTTL) })
		})
	}
}

// TestRequireAPIKeyWachtRevocationBound: a revoked key keeps working while
// its allowed verdict is cached, and is refused once CacheTTL has passed;
// refusals are not cached, so every refused request asks the gateway.
func TestRequireAPIKeyWachtRevocationBound(t *testing.T) {
	e := apikeytest.NewEnv(t)
	g := newGatewayWorld(t, e)
	s := newAKServer(t, g.config(t, gatewayBackendKey, 0))
	k, secret := e.NewKey(t, "ci", []string{"deploy:read"}, nil)
	for range 3 {
		if w := s.get("/v1/any", bearer(secret)...); w.Code != http.StatusOK {
			t.Fatalf("valid key: %d %s", w.Code, w.Body)
		}
	}
	if n := g.checks.Load(); n != 1 {
		t.Errorf("%d checks for 3 requests within the cache bound, want 1", n)
	}
	if _, err := e.Store.RevokeKey(t.Context(), apikeytest.AppSlug, k.ID, "leaked", apikeytest.Actor); err != nil {
		t.Fatal(err)
	}
	g.cache.Advance(gateway.DefaultCacheTTL - time.Millisecond)
	if w := s.get("/v1/any", bearer(secret)...); w.Code != http.StatusOK {
		t.Errorf("within the bound: %d, want the cached 200", w.Code)
	}
	g.cache.Advance(time.Millisecond)
	before := g.checks.Load()
	for range 2 {
		w := s.get("/v1/any", bearer(secret)...)
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `"reason":"revoked"`) {
			t.Errorf("at the bound: %d %s, want 401 revoked", w.Code, w.Body)
		}
	}
	if n := g.checks.Load() - before; n != 2 {
		t.Errorf("%d checks for 2 refused requests, want 2: refusals are not cached", n)
	}
}

// TestRequireAPIKeyWachtRateLimits: in Wacht mode the RateLimit headers and
// the 429 come from the check's answer.
func TestRequireAPIKeyWachtRateLimits(t *testing.T) {
	e := apikeytest.NewEnv(t)
	g := newGatewayWorld(t, e, ratelimit.Rule{Max: 2, Per: time.Minute})
	s := newAKServer(t, g.config(t, gatewayBackendKey, 0))
	_, secret := e.NewKey(t, "ci", []string{"deploy:read"}, nil)
	for i, want := range []int{200, 200, 429} {
		w := s.get("/v1/any", bearer(secret)...)
		if w.Code != want {
			t.Fatalf("request %d: %d %s, want %d", i+1, w.Code, w.Body, want)
		}
		if got := w.Header().Get("RateLimit-Limit"); got != "2" {
			t.Errorf("request %d: RateLimit-Limit %q, want 2", i+1, got)
		}
		if got, want := w.Header().Get("RateLimit-Remaining"), []string{"1", "0", "0"}[i]; got != want {
			t.Errorf("request %d: RateLimit-Remaining %q, want %s", i+1, got, want)
		}
		if w.Header().Get("RateLimit-Reset") == "" {
			t.Errorf("request %d: no RateLimit-Reset", i+1)
		}
		if want == 429 && (w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"reason":"rate_limited"`)) {
			t.Errorf("429 without Retry-After or reason: %v %s", w.Header(), w.Body)
		}
	}
	if n := g.checks.Load(); n != 3 {
		t.Errorf("%d checks for 3 rate-limited requests, want 3: counted verdicts are not cached", n)
	}
}

// TestRequireAPIKeyWachtWrongBackendKey: a refused backend API key is no
// verdict on the API key: 503, fail closed, not 401.
func TestRequireAPIKeyWachtWrongBackendKey(t *testing.T) {
	e := apikeytest.NewEnv(t)
	g := newGatewayWorld(t, e)
	s := newAKServer(t, g.config(t, "kp_backend_wrong_key_0123456789", 0))
	_, secret := e.NewKey(t, "ci", nil, nil)
	w := s.get("/v1/any", bearer(secret)...)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"reason":"unavailable"`) {
		t.Errorf("wrong backend key: %d %v %s, want 503 unavailable", w.Code, w.Header(), w.Body)
	}
}

// TestRequireAPIKeyVerifierConfig: a Verifier takes the rate limits' place.
func TestRequireAPIKeyVerifierConfig(t *testing.T) {
	e := apikeytest.NewEnv(t)
	cfg := newGatewayWorld(t, e).config(t, gatewayBackendKey, 0)
	cfg.RateLimits = []ratelimit.Rule{{Max: 1, Per: time.Second}}
	if _, err := middleware.RequireAPIKey(cfg); err == nil {
		t.Error("RequireAPIKey took RateLimits beside a Verifier")
	}
	var _ middleware.KeyVerifier = (*apikey.Verifier)(nil)
}
