package gateway

import (
	"testing"

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
		sum := cacheKey(s, nil)
		v.put(&sum, nil)
		if n := len(v.allowed); n > 2 {
			t.Fatalf("after %d puts: %d entries, want at most 2", i+1, n)
		}
	}
	off, _ := New(Config{Client: client, CacheTTL: -1})
	sum := cacheKey("a", nil)
	off.put(&sum, nil)
	if len(off.allowed) != 0 {
		t.Error("a negative CacheTTL cached a verdict")
	}
}
