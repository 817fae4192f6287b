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
// (cached) key is counted in process against two configured rules, key and
// app: the cost of the rate-limit decision itself. Compare it side by side
// with the same benchmark on main:
//
//	go test -run '^$' -bench RequireAPIKeyMemoryLimits -count 6 ./middleware/
func BenchmarkRequireAPIKeyMemoryLimits(b *testing.B) {
	e := apikeytest.NewEnv(b)
	cfg := envConfig(e)
	cfg.RateLimits = []ratelimit.Rule{
		{Max: 1 << 30, Per: time.Hour, Scope: ratelimit.ScopeKey},
		{Max: 1 << 30, Per: time.Hour, Scope: ratelimit.ScopeApp},
	}
	s := newAKServer(b, cfg)
	_, key := e.NewKey(b, "bench", nil, nil)
	req := httptest.NewRequest(http.MethodGet, "/v1/any", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		s.engine.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
