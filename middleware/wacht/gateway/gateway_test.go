package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/wacht"
)

func TestNewRefusesBadConfig(t *testing.T) {
	client, err := wacht.New(wacht.Config{APIKey: "wk_live_test_backend_key"})
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{{}, {Client: client, CacheTTL: MaxCacheTTL + 1}, {Client: client, CacheSize: -1}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	v, err := New(Config{Client: client})
	if err != nil || v.ttl != DefaultCacheTTL || v.max != DefaultCacheSize {
		t.Fatalf("defaults: %+v, %v", v, err)
	}
}

// TestCacheBounded: past CacheSize an entry is dropped, and a negative TTL
// caches nothing.
func TestCacheBounded(t *testing.T) {
	client, _ := wacht.New(wacht.Config{APIKey: "wk_live_test_backend_key"})
	v, _ := New(Config{Client: client, CacheSize: 2})
	for i, s := range []string{"a", "b", "c"} {
		sum := cacheKey(s, "GET", "/", nil)
		v.put(&sum, nil)
		if n := len(v.allowed); n > 2 {
			t.Fatalf("after %d puts: %d entries, want at most 2", i+1, n)
		}
	}
	off, _ := New(Config{Client: client, CacheTTL: -1})
	sum := cacheKey("a", "GET", "/", nil)
	off.put(&sum, nil)
	if len(off.allowed) != 0 {
		t.Error("a negative CacheTTL cached a verdict")
	}
}

// TestCacheKeepsEndpointLimits: a verdict cached for a path no rate limit
// covers is not reused on a path one does, so that the gateway counts
// every request there (a key would otherwise pass a limited endpoint
// uncounted for CacheTTL after one request elsewhere).
func TestCacheKeepsEndpointLimits(t *testing.T) {
	var limited atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req wacht.CheckRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Error(err)
		}
		res := wacht.CheckResponse{Allowed: true, Identity: &wacht.Identity{KeyID: "key_1", AppSlug: "aa_1"},
			Permissions: []string{}, RateLimits: []wacht.RateLimitState{}}
		if req.Resource == "/v1/limited" {
			n := limited.Add(1)
			res.RateLimits = []wacht.RateLimitState{{Rule: "rate_limits[0]", Remaining: max(1-n, 0), Limit: 1}}
			if n > 1 {
				res.Allowed, res.Reason, res.RetryAfter = false, wacht.ReasonRateLimited, 60
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(res)
	}))
	defer srv.Close()
	client, err := wacht.New(wacht.Config{APIKey: "wk_live_test_backend_key", BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := New(Config{Client: client})
	secret := "sk_test_" + strings.Repeat("A", 43)
	ask := func(path string) apikey.Verdict {
		t.Helper()
		out, err := v.VerifyRequest(context.Background(), apikey.Request{Secret: secret, Method: "GET", Path: path})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return out
	}
	ask("/v1/free")
	ask("/v1/limited")
	if out := ask("/v1/limited"); out.RetryAfter <= 0 {
		t.Errorf("second request to /v1/limited: RetryAfter %v, want a rate limit (gateway asked %d times about it)", out.RetryAfter, limited.Load())
	}
}
