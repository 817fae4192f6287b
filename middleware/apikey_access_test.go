package middleware_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// Every decision of the guard reaches the verification log of the store,
// by default: allowed, refused (with the reason) and rate-limited (with the
// rule), each with the key, the request and the caller.
func TestRequireAPIKeyRecordsEveryDecision(t *testing.T) {
	e := apikeytest.NewEnv(t)
	cfg := envConfig(e)
	cfg.RateLimits = []ratelimit.Rule{{Max: 2, Per: time.Minute}}
	s := newAKServer(t, cfg, "deploy:read")
	k, secret := e.NewKey(t, "ci", []string{"deploy:read"}, nil)
	_, weak := e.NewKey(t, "weak", nil, nil)

	do := func(path string, want int, header ...string) {
		t.Helper()
		if w := s.get(path, header...); w.Code != want {
			t.Fatalf("GET %s: %d, want %d", path, w.Code, want)
		}
	}
	do("/v1/thing", http.StatusOK, "Authorization", "Bearer "+secret, "User-Agent", "probe/1", "X-Request-ID", "req-abc")
	do("/v1/thing", http.StatusOK, bearer(secret)...)
	do("/v1/thing", http.StatusTooManyRequests, bearer(secret)...)
	do("/v1/thing", http.StatusForbidden, bearer(weak)...)
	do("/v1/thing", http.StatusUnauthorized)
	if err := s.auth.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	reader := e.Store.(audit.AccessReader)
	page, err := reader.QueryAccess(context.Background(), audit.AccessQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 5 {
		t.Fatalf("%d events recorded, want 5: %+v", len(page.Events), page.Events)
	}
	byRule := map[string]audit.Access{}
	for _, ev := range page.Events {
		byRule[ev.Outcome+" "+ev.BlockedRule] = ev
	}
	first := byRule["allowed "]
	for _, ev := range page.Events {
		if ev.RequestID == "req-abc" {
			first = ev
		}
	}
	if first.RequestID != "req-abc" || first.KeyID != k.ID || first.KeyName != "ci" || first.AppSlug != apikeytest.AppSlug ||
		first.Tenant != apikeytest.Tenant || first.Method != "GET" || first.Path != "/v1/thing" || first.UserAgent != "probe/1" ||
		first.ClientIP != "192.0.2.1" || first.Time.IsZero() || first.Latency <= 0 {
		t.Fatalf("allowed event %+v", first)
	}
	if ev, ok := byRule["blocked 2/1m0s/key"]; !ok || !ev.RateLimited || ev.KeyID != k.ID {
		t.Fatalf("no rate-limited event naming the rule and the key: %+v", page.Events)
	}
	if ev, ok := byRule["blocked "+string(apikey.ReasonPermissionDenied)]; !ok || ev.KeyName != "weak" {
		t.Fatalf("no permission_denied event naming the key: %+v", page.Events)
	}
	if _, ok := byRule["blocked "+string(apikey.ReasonMissing)]; !ok {
		t.Fatalf("no event for the request without a key: %+v", page.Events)
	}
}

// audit.DiscardAccess turns the log off; a recorder of one's own gets the
// events instead of the store.
func TestRequireAPIKeyAccessLogChoice(t *testing.T) {
	e := apikeytest.NewEnv(t)
	_, secret := e.NewKey(t, "ci", []string{"deploy:read"}, nil)
	cfg := envConfig(e)
	cfg.AccessLog = audit.DiscardAccess
	off := newAKServer(t, cfg)
	mine := &sliceRecorder{}
	cfg.AccessLog = mine
	own := newAKServer(t, cfg)
	off.get("/v1/any", bearer(secret)...)
	own.get("/v1/any", bearer(secret)...)
	off.auth.Flush(context.Background())
	page, err := e.Store.(audit.AccessReader).QueryAccess(context.Background(), audit.AccessQuery{})
	if err != nil || len(page.Events) != 0 {
		t.Fatalf("the store holds %d events (%v), want none", len(page.Events), err)
	}
	if len(mine.events) != 1 || mine.events[0].Outcome != audit.AccessAllowed {
		t.Fatalf("the configured recorder got %+v", mine.events)
	}
}

// Close writes what the recorder buffered: nothing is lost at shutdown.
func TestRequireAPIKeyCloseWritesAccessLog(t *testing.T) {
	e := apikeytest.NewEnv(t)
	_, secret := e.NewKey(t, "ci", []string{"deploy:read"}, nil)
	auth, err := middleware.RequireAPIKey(envConfig(e))
	if err != nil {
		t.Fatal(err)
	}
	s := &akServer{auth: auth, engine: newAKServer(t, middleware.APIKeyConfig{Config: apikey.Config{Keys: e.Store}, AccessLog: audit.DiscardAccess}).engine}
	s.engine.GET("/v1/closing", auth.Require(), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	for range 50 {
		s.get("/v1/closing", bearer(secret)...)
	}
	if err := auth.Close(); err != nil {
		t.Fatal(err)
	}
	page, err := e.Store.(audit.AccessReader).QueryAccess(context.Background(), audit.AccessQuery{Limit: 1000})
	if err != nil || len(page.Events) != 50 {
		t.Fatalf("after Close the store holds %d events (%v), want 50", len(page.Events), err)
	}
}

type sliceRecorder struct{ events []audit.Access }

func (r *sliceRecorder) RecordAccess(e audit.Access) { r.events = append(r.events, e) }
