package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/internal/testenv/redistest"
	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// BenchmarkRequireAPIKeyRedisLimiter measures a guarded request whose key
// is verified (cached) and counted against a per-key and a per-app rule in
// Redis on loopback: two script round trips. It reports p50/p99/max of
// every request's latency, not only the mean. Run with:
//
//	go test -run '^$' -bench RequireAPIKeyRedisLimiter -benchtime 20000x ./middleware/
func BenchmarkRequireAPIKeyRedisLimiter(b *testing.B) {
	// The floor: one bare Redis round trip (PING) on the same loopback,
	// measured the same way, to tell the limiter's cost from the machine's.
	b.Run("redis-ping", func(b *testing.B) {
		c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(b)})
		defer c.Close()
		ctx := context.Background()
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			if err := c.Ping(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		reportLatency(b, lat)
	})
	for _, tc := range []struct {
		name  string
		rules []ratelimit.Rule
	}{
		{"none", nil},
		{"key", []ratelimit.Rule{{Max: 1 << 30, Per: time.Hour, Scope: ratelimit.ScopeKey}}},
		{"key+app", []ratelimit.Rule{
			{Max: 1 << 30, Per: time.Hour, Scope: ratelimit.ScopeKey},
			{Max: 1 << 30, Per: time.Hour, Scope: ratelimit.ScopeApp},
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := apikeytest.NewEnv(b)
			cfg := envConfig(e)
			cfg.Now = nil
			cfg.RateLimits = tc.rules
			if tc.rules != nil {
				cfg.Limiter = redistest.Limiter(b)
			}
			s := newAKServer(b, cfg)
			_, secret := e.NewKey(b, "bench", []string{"read"}, nil)
			req := httptest.NewRequest(http.MethodGet, "/v1/any", nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w := httptest.NewRecorder()
				t0 := time.Now()
				s.engine.ServeHTTP(w, req)
				lat = append(lat, time.Since(t0))
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
}

// reportLatency reports p50, p99 and max of lat in microseconds.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}
