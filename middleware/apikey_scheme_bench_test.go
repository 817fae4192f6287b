package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// BenchmarkRequireAPIKeyMemoryLimits measures a guarded request whose
// (cached) key is counted in process against configured rules: key and app,
// then with a per-IP rule too, whose client address the access event (on by
// default, the store can record) reuses. The cost of the rate-limit
// decision itself; compare it side by side with the same benchmark on main:
//
//	go test -run '^$' -bench RequireAPIKeyMemoryLimits -count 6 ./middleware/
func BenchmarkRequireAPIKeyMemoryLimits(b *testing.B) {
	keyApp := []ratelimit.Rule{
		{Max: 1 << 30, Per: time.Hour, Scope: ratelimit.ScopeKey},
		{Max: 1 << 30, Per: time.Hour, Scope: ratelimit.ScopeApp},
	}
	for _, bc := range []struct {
		name  string
		rules []ratelimit.Rule
	}{
		{"rules=key,app", keyApp},
		{"rules=key,app,ip", append(keyApp, ratelimit.Rule{Max: 1 << 30, Per: time.Hour, Scope: ratelimit.ScopeIP})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := apikeytest.NewEnv(b)
			cfg := envConfig(e)
			cfg.RateLimits = bc.rules
			s := newAKServer(b, cfg)
			_, key := e.NewKey(b, "bench", nil, nil)
			req := httptest.NewRequest(http.MethodGet, "/v1/any", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				s.engine.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
