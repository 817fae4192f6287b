package middleware_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/internal/testenv/redistest"
	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// useScheme stores a scheme of rules under slug (or replaces its rules)
// and makes the test app name it.
func useScheme(t *testing.T, e *apikeytest.Env, slug string, rules ...ratelimit.SchemeRule) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Store.GetScheme(ctx, slug); err == nil {
		if _, err := e.Store.UpdateScheme(ctx, slug, keystore.SchemePatch{Rules: &rules}); err != nil {
			t.Fatal(err)
		}
	} else if _, err := e.Store.CreateScheme(ctx, keystore.Scheme{Slug: slug, Name: slug, Rules: rules}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.UpdateApp(ctx, apikeytest.AppSlug, keystore.AppPatch{RateLimitSchemeSlug: &slug}, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
}

// TestRequireAPIKeySchemeLimits: the app's scheme limits its keys (429,
// Retry-After), a scheme change applies to the very next request, and a
// rule limited to some endpoints leaves the others alone. In memory and
// through Redis.
func TestRequireAPIKeySchemeLimits(t *testing.T) {
	limiters := map[string]func(t *testing.T) ratelimit.Limiter{
		"memory": func(t *testing.T) ratelimit.Limiter { return nil },
		"redis":  func(t *testing.T) ratelimit.Limiter { return redistest.Limiter(t) },
	}
	for name, mk := range limiters {
		t.Run(name, func(t *testing.T) {
			e := apikeytest.NewEnv(t)
			cfg := envConfig(e)
			cfg.Limiter = mk(t)
			s := newAKServer(t, cfg)
			_, key := e.NewKey(t, "one", nil, nil)
			if w := s.get("/v1/any", bearer(key)...); w.Code != 200 || w.Header().Get("RateLimit-Limit") != "" {
				t.Fatalf("before any scheme: %d, headers %v", w.Code, w.Header())
			}
			useScheme(t, e, "standard", ratelimit.SchemeRule{Unit: "minute", Duration: 1, MaxRequests: 2})
			for i := range 2 {
				if w := s.get("/v1/any", bearer(key)...); w.Code != 200 || w.Header().Get("RateLimit-Limit") != "2" {
					t.Fatalf("request %d: %d %s, headers %v", i+1, w.Code, w.Body, w.Header())
				}
			}
			w := s.get("/v1/any", bearer(key)...)
			var body akError
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "60" || body.Reason != "rate_limited" {
				t.Fatalf("3rd request: %d %s Retry-After %q, want 429 rate_limited after 60 s", w.Code, w.Body, w.Header().Get("Retry-After"))
			}
			// The scheme's rule moves to the paths under /v1/th only: the
			// next request elsewhere is not counted.
			useScheme(t, e, "standard", ratelimit.SchemeRule{Unit: "minute", Duration: 1, MaxRequests: 1,
				Endpoints: []string{"/v1/th*"}})
			if w := s.get("/v1/any", bearer(key)...); w.Code != 200 || w.Header().Get("RateLimit-Limit") != "" {
				t.Fatalf("after the scheme change, elsewhere: %d %s %v", w.Code, w.Body, w.Header())
			}
			if w := s.get("/v1/thing", bearer(key)...); w.Code != 200 {
				t.Fatalf("first admin request: %d", w.Code)
			}
			if w := s.get("/v1/thing", bearer(key)...); w.Code != http.StatusTooManyRequests {
				t.Fatalf("second admin request: %d, want 429", w.Code)
			}
			// Dropping the scheme from the app lifts it at once.
			none := ""
			if _, err := e.Store.UpdateApp(context.Background(), apikeytest.AppSlug, keystore.AppPatch{RateLimitSchemeSlug: &none}, keystore.Actor{}); err != nil {
				t.Fatal(err)
			}
			if w := s.get("/v1/thing", bearer(key)...); w.Code != 200 {
				t.Fatalf("after the app dropped its scheme: %d", w.Code)
			}
		})
	}
}

// TestRequireAPIKeyAppRateLimits: an app's own rate_limits apply besides
// its scheme's, in priority order: of two refusing rules the one of higher
// priority is named.
func TestRequireAPIKeyAppRateLimits(t *testing.T) {
	e := apikeytest.NewEnv(t)
	s := newAKServer(t, envConfig(e))
	_, key := e.NewKey(t, "one", nil, nil)
	useScheme(t, e, "base", ratelimit.SchemeRule{Unit: "hour", Duration: 1, MaxRequests: 1, Priority: 1})
	own := []ratelimit.SchemeRule{{Unit: "minute", Duration: 1, MaxRequests: 1, Mode: "per_app", Priority: 5}}
	if _, err := e.Store.UpdateApp(context.Background(), apikeytest.AppSlug, keystore.AppPatch{RateLimits: &own}, keystore.Actor{}); err != nil {
		t.Fatal(err)
	}
	if w := s.get("/v1/any", bearer(key)...); w.Code != 200 {
		t.Fatalf("first: %d", w.Code)
	}
	w := s.get("/v1/any", bearer(key)...)
	// Both refuse; the app's own rule (priority 5) is evaluated first, so
	// the headers are its; Retry-After is the longest wait (the hour).
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "3600" {
		t.Fatalf("second: %d, Retry-After %q; want 429 after the hour", w.Code, w.Header().Get("Retry-After"))
	}
}

// TestRequireAPIKeySchemePerIPIgnoresSpoofedForwardedFor: a per_ip scheme
// rule cannot be escaped by rotating X-Forwarded-For when no proxy is
// trusted (and on gin's default engine, which keyportal does not believe).
func TestRequireAPIKeySchemePerIPIgnoresSpoofedForwardedFor(t *testing.T) {
	for name, trust := range map[string]func(e *gin.Engine) error{
		"gin's default engine": nil,
		"no proxy trusted":     func(e *gin.Engine) error { return e.SetTrustedProxies(nil) },
	} {
		t.Run(name, func(t *testing.T) {
			e := apikeytest.NewEnv(t)
			s := newAKServer(t, envConfig(e))
			if trust != nil {
				if err := trust(s.engine); err != nil {
					t.Fatal(err)
				}
			}
			useScheme(t, e, "ip", ratelimit.SchemeRule{Unit: "minute", Duration: 1, MaxRequests: 3, Mode: "per_ip"})
			_, key := e.NewKey(t, "one", nil, nil)
			allowed := 0
			for i := range 5 {
				req := httptest.NewRequest(http.MethodGet, "/v1/any", nil)
				req.RemoteAddr = "203.0.113.7:40000"
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
				w := httptest.NewRecorder()
				s.engine.ServeHTTP(w, req)
				if w.Code == http.StatusOK {
					allowed++
				} else if w.Code != http.StatusTooManyRequests {
					t.Fatalf("request %d: %d %s", i+1, w.Code, w.Body)
				}
			}
			if allowed != 3 {
				t.Errorf("%d of 5 requests with rotating X-Forwarded-For allowed, want 3", allowed)
			}
		})
	}
}

// TestRequireAPIKeySchemeSharedThroughRedis: two instances (two guards on
// one store, each with its own Redis limiter on the same prefix) share the
// scheme's count.
func TestRequireAPIKeySchemeSharedThroughRedis(t *testing.T) {
	e := apikeytest.NewEnv(t)
	lim := redistest.Limiter(t)
	var servers [2]*akServer
	for i := range servers {
		cfg := envConfig(e)
		cfg.Limiter = lim
		servers[i] = newAKServer(t, cfg)
	}
	useScheme(t, e, "shared", ratelimit.SchemeRule{Unit: "minute", Duration: 1, MaxRequests: 4, Mode: "per_key"})
	_, key := e.NewKey(t, "one", nil, nil)
	allowed := 0
	for i := range 10 {
		if w := servers[i%2].get("/v1/any", bearer(key)...); w.Code == 200 {
			allowed++
		}
	}
	if allowed != 4 {
		t.Errorf("%d of 10 requests over two instances allowed, want 4 (one shared count)", allowed)
	}
}
