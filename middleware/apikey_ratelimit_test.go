package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/testenv/redistest"
	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/middleware/ratelimit"
	rlredis "github.com/keyportal/keyportal/middleware/ratelimit/redis"
)

func TestRequireAPIKeyRateLimits(t *testing.T) {
	limiters := map[string]func(t *testing.T, e *apikeytest.Env) ratelimit.Limiter{
		"memory": func(t *testing.T, e *apikeytest.Env) ratelimit.Limiter { return nil }, // the default
		"redis":  func(t *testing.T, e *apikeytest.Env) ratelimit.Limiter { return redistest.Limiter(t) },
	}
	for name, mk := range limiters {
		t.Run(name, func(t *testing.T) {
			e := apikeytest.NewEnv(t)
			cfg := envConfig(e)
			cfg.Limiter = mk(t, e)
			cfg.RateLimits = []ratelimit.Rule{
				{Max: 3, Per: time.Hour, Scope: ratelimit.ScopeKey},
				{Max: 5, Per: time.Hour, Scope: ratelimit.ScopeApp},
			}
			s := newAKServer(t, cfg)
			_, k1 := e.NewKey(t, "one", []string{"read"}, nil)
			_, k2 := e.NewKey(t, "two", []string{"read"}, nil)
			for i, want := range []string{"2", "1", "0"} {
				w := s.get("/v1/any", bearer(k1)...)
				if w.Code != http.StatusOK {
					t.Fatalf("k1 request %d: %d %s", i+1, w.Code, w.Body)
				}
				if got := w.Header().Get("RateLimit-Remaining"); got != want {
					t.Fatalf("k1 request %d: RateLimit-Remaining %q, want %q (per-key rule is tightest)", i+1, got, want)
				}
				if w.Header().Get("RateLimit-Limit") != "3" || w.Header().Get("RateLimit-Reset") == "" {
					t.Fatalf("k1 request %d: headers %v", i+1, w.Header())
				}
			}
			w := s.get("/v1/any", bearer(k1)...)
			if w.Code != http.StatusTooManyRequests {
				t.Fatalf("k1 4th: %d %s, want 429", w.Code, w.Body)
			}
			var body akError
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Reason != "rate_limited" {
				t.Fatalf("429 body %s: %v", w.Body, err)
			}
			ra := w.Header().Get("Retry-After")
			if ra == "" || ra == "0" || strings.Contains(w.Body.String(), k1) {
				t.Fatalf("429: Retry-After %q, body %s", ra, w.Body)
			}
			// k2 has its own key window but shares the app's: the app rule
			// (5) has seen 4 requests, so k2 gets one and then 429.
			if w := s.get("/v1/any", bearer(k2)...); w.Code != http.StatusOK || w.Header().Get("RateLimit-Remaining") != "0" || w.Header().Get("RateLimit-Limit") != "5" {
				t.Fatalf("k2 1st: %d, headers %v; want 200 with the app rule at 0 left", w.Code, w.Header())
			}
			if w := s.get("/v1/any", bearer(k2)...); w.Code != http.StatusTooManyRequests {
				t.Fatalf("k2 2nd: %d, want 429 (per-app limit)", w.Code)
			}
			// A refused key is not counted: no key, no RateLimit headers.
			if w := s.get("/v1/any", bearer("nope")...); w.Code != http.StatusUnauthorized || w.Header().Get("RateLimit-Limit") != "" {
				t.Fatalf("bad key: %d, headers %v", w.Code, w.Header())
			}
		})
	}
}

func TestRequireAPIKeyRateLimitPerIP(t *testing.T) {
	e := apikeytest.NewEnv(t)
	cfg := envConfig(e)
	cfg.RateLimits = []ratelimit.Rule{{Max: 1, Per: time.Minute, Scope: ratelimit.ScopeIP}}
	s := newAKServer(t, cfg)
	_, k1 := e.NewKey(t, "one", nil, nil)
	_, k2 := e.NewKey(t, "two", nil, nil)
	get := func(secret, ip string) int {
		req, _ := http.NewRequest(http.MethodGet, "/v1/any", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		req.RemoteAddr = ip + ":1234"
		w := httptest.NewRecorder()
		s.engine.ServeHTTP(w, req)
		return w.Code
	}
	if c := get(k1, "10.0.0.1"); c != 200 {
		t.Fatalf("first from 10.0.0.1: %d", c)
	}
	if c := get(k2, "10.0.0.1"); c != http.StatusTooManyRequests {
		t.Fatalf("other key, same IP: %d, want 429", c)
	}
	if c := get(k1, "10.0.0.2"); c != 200 {
		t.Fatalf("same key, other IP: %d, want 200", c)
	}
	// The window ends with the injected clock.
	e.Clock.Advance(time.Minute)
	if c := get(k2, "10.0.0.1"); c != 200 {
		t.Fatalf("after the window: %d, want 200", c)
	}
}

type failingLimiter struct{}

func (failingLimiter) Allow(context.Context, string, ratelimit.Rule) (ratelimit.Result, error) {
	return ratelimit.Result{}, errors.New("redis: connection refused")
}

// TestRequireAPIKeyRateLimiterDownFailsOpen: a limiter outage lets verified
// keys through (without headers); unverified ones are still refused.
func TestRequireAPIKeyRateLimiterDownFailsOpen(t *testing.T) {
	for name, l := range map[string]ratelimit.Limiter{
		"fake": failingLimiter{},
		"redis down": func() ratelimit.Limiter {
			// One dial per request: with go-redis's default 5 dials 100 ms
			// apart, 3 requests can span more than the 1 s between logs.
			c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond, MaxRetries: -1, DialerRetries: 1})
			t.Cleanup(func() { c.Close() })
			r, _ := rlredis.New(c, "x:")
			return r
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			e := apikeytest.NewEnv(t)
			cfg := envConfig(e)
			cfg.Limiter = l
			cfg.RateLimits = []ratelimit.Rule{{Max: 1, Per: time.Minute}}
			var logs strings.Builder // requests here are sequential
			cfg.Logger = zerolog.New(&logs)
			s := newAKServer(t, cfg)
			_, k := e.NewKey(t, "one", nil, nil)
			for i := 0; i < 3; i++ {
				if w := s.get("/v1/any", bearer(k)...); w.Code != 200 || w.Header().Get("RateLimit-Limit") != "" {
					t.Fatalf("request %d: %d, headers %v; want 200 without RateLimit headers", i+1, w.Code, w.Header())
				}
			}
			if w := s.get("/v1/any", bearer("nope")...); w.Code != http.StatusUnauthorized {
				t.Fatalf("bad key with the limiter down: %d, want 401", w.Code)
			}
			// The outage is logged, once a second rather than per request.
			if n := strings.Count(logs.String(), "rate limiter unavailable"); n != 1 {
				t.Fatalf("%d log lines about the outage for 3 requests, want 1:\n%s", n, logs.String())
			}
		})
	}
}

func TestRequireAPIKeyBadRateLimitRule(t *testing.T) {
	e := apikeytest.NewEnv(t)
	cfg := envConfig(e)
	cfg.RateLimits = []ratelimit.Rule{{Max: 1, Per: time.Minute}, {Max: 0, Per: time.Minute}}
	_, err := middleware.RequireAPIKey(cfg)
	if err == nil || !strings.Contains(err.Error(), "middleware: APIKeyConfig.RateLimits[1]") {
		t.Fatalf("err = %v, want one naming RateLimits[1]", err)
	}
}

// TestRequireAPIKeyRedisLimitAcrossInstances: two guards (two instances,
// each with its own Redis client) on one Redis prefix share the count.
func TestRequireAPIKeyRedisLimitAcrossInstances(t *testing.T) {
	e := apikeytest.NewEnv(t)
	first := redistest.Limiter(t)
	second, err := rlredis.New(redistest.Client(t), first.Prefix())
	if err != nil {
		t.Fatal(err)
	}
	rules := []ratelimit.Rule{{Max: 4, Per: time.Hour, Scope: ratelimit.ScopeKey}}
	cfgA, cfgB := envConfig(e), envConfig(e)
	cfgA.RateLimits, cfgA.Limiter = rules, first
	cfgB.RateLimits, cfgB.Limiter = rules, second
	a, b := newAKServer(t, cfgA), newAKServer(t, cfgB)
	_, k := e.NewKey(t, "shared", nil, nil)
	for i, s := range []*akServer{a, b, a, b} {
		if w := s.get("/v1/any", bearer(k)...); w.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, w.Code)
		}
	}
	for name, s := range map[string]*akServer{"A": a, "B": b} {
		if w := s.get("/v1/any", bearer(k)...); w.Code != http.StatusTooManyRequests {
			t.Fatalf("5th request on %s: %d, want 429: the limit is shared", name, w.Code)
		}
	}
}
