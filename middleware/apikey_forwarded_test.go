package middleware_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// TestRequireAPIKeyPerIPLimitIgnoresSpoofedForwardedFor is the attack of
// issue 14 §2: with a limit of 3 a minute per IP, a client rotating
// X-Forwarded-For got 5 of 5 requests through. Now the header counts only
// when it comes from a proxy the engine trusts; on gin's default engine,
// which trusts every address, it is ignored.
func TestRequireAPIKeyPerIPLimitIgnoresSpoofedForwardedFor(t *testing.T) {
	const attacker, proxy = "203.0.113.7", "10.9.9.9"
	for _, tt := range []struct {
		name    string
		trust   func(e *gin.Engine) error // nil: gin's default
		peer    string
		rotate  bool // a new X-Forwarded-For on each request
		allowed int  // of 5
	}{
		{"gin's default engine, rotating header", nil, attacker, true, 3},
		{"no proxy trusted, rotating header", func(e *gin.Engine) error { return e.SetTrustedProxies(nil) }, attacker, true, 3},
		{"another proxy trusted, rotating header", func(e *gin.Engine) error { return e.SetTrustedProxies([]string{proxy}) }, attacker, true, 3},
		{"a trusted proxy forwarding five clients", func(e *gin.Engine) error { return e.SetTrustedProxies([]string{proxy}) }, proxy, true, 5},
		{"a trusted proxy forwarding one client", func(e *gin.Engine) error { return e.SetTrustedProxies([]string{proxy}) }, proxy, false, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := apikeytest.NewEnv(t)
			cfg := envConfig(e)
			cfg.RateLimits = []ratelimit.Rule{{Max: 3, Per: time.Minute, Scope: ratelimit.ScopeIP}}
			s := newAKServer(t, cfg)
			if tt.trust != nil {
				if err := tt.trust(s.engine); err != nil {
					t.Fatal(err)
				}
			}
			_, key := e.NewKey(t, "one", nil, nil)
			allowed := 0
			for i := range 5 {
				req := httptest.NewRequest(http.MethodGet, "/v1/any", nil)
				req.RemoteAddr = tt.peer + ":40000"
				req.Header.Set("Authorization", "Bearer "+key)
				xff := "198.51.100.1"
				if tt.rotate {
					xff = fmt.Sprintf("198.51.100.%d", i+1)
				}
				req.Header.Set("X-Forwarded-For", xff)
				w := httptest.NewRecorder()
				s.engine.ServeHTTP(w, req)
				switch w.Code {
				case http.StatusOK:
					allowed++
				case http.StatusTooManyRequests:
				default:
					t.Fatalf("request %d: %d %s", i+1, w.Code, w.Body)
				}
			}
			if allowed != tt.allowed {
				t.Errorf("%d of 5 requests allowed, want %d", allowed, tt.allowed)
			}
		})
	}
}
