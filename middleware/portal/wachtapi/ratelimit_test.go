package wachtapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv/redistest"
	"github.com/keyportal/keyportal/middleware/portal"
	"github.com/keyportal/keyportal/middleware/portal/wachtapi"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// limitedCheck is the rate-limit part of a /v1/authz/check answer.
type limitedCheck struct {
	Allowed     bool    `json:"allowed"`
	Reason      *string `json:"reason"`
	BlockedRule *string `json:"blocked_rule"`
	RetryAfter  *int64  `json:"retry_after"`
	RateLimits  []struct {
		Rule      string `json:"rule"`
		Remaining int    `json:"remaining"`
		Limit     int    `json:"limit"`
	} `json:"rate_limits"`
	Headers map[string]string `json:"headers"`
}

func limitedCheckOf(t *testing.T, w *world, secret, clientIP string) limitedCheck {
	t.Helper()
	status, body, _ := w.do("POST", "/v1/authz/check", "Bearer "+backendKey, map[string]any{
		"principal": map[string]string{"type": "api_key", "value": secret}, "resource": "/v1/thing",
		"method": "GET", "client_ip": clientIP,
	})
	var v limitedCheck
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("check body %s: %v", body, err)
	}
	if status != 200 && status != 401 {
		t.Fatalf("check: status %d, body %s", status, body)
	}
	return v
}

func TestCheckRateLimitsPerKey(t *testing.T) {
	rule := ratelimit.Rule{Max: 3, Per: time.Minute, Scope: ratelimit.ScopeKey}
	w := newWorld(t, func(c *wachtapi.Config) { c.RateLimits = []ratelimit.Rule{rule} })
	_, a := w.env.NewKey(t, "a", nil, nil)
	_, b := w.env.NewKey(t, "b", nil, nil)

	for i := range 3 {
		v := limitedCheckOf(t, w, a, "")
		if !v.Allowed || len(v.RateLimits) != 1 || v.RateLimits[0].Remaining != 2-i || v.RateLimits[0].Limit != 3 ||
			v.RateLimits[0].Rule != rule.String() {
			t.Fatalf("check %d: %+v, want allowed with %d remaining of 3", i+1, v, 2-i)
		}
		if v.Headers["RateLimit-Limit"] != "3" || v.Headers["RateLimit-Remaining"] != itoa(2-i) || v.Headers["RateLimit-Reset"] != "60" {
			t.Errorf("check %d headers %v", i+1, v.Headers)
		}
	}
	v := limitedCheckOf(t, w, a, "")
	if v.Allowed || v.Reason == nil || *v.Reason != "rate_limited" || v.BlockedRule == nil || *v.BlockedRule != rule.String() ||
		v.RetryAfter == nil || *v.RetryAfter != 60 || v.Headers["RateLimit-Remaining"] != "0" {
		t.Fatalf("4th check: %+v, want refused rate_limited by %s, retry_after 60", v, rule)
	}
	if v := limitedCheckOf(t, w, b, ""); !v.Allowed {
		t.Errorf("another key shares the first one's count: %+v", v)
	}
	if v := limitedCheckOf(t, w, "kp_not_a_key_at_all_0000000000", ""); v.Allowed || len(v.RateLimits) != 0 {
		t.Errorf("an invalid key was counted: %+v", v)
	}
	w.env.Clock.Advance(time.Minute)
	if v := limitedCheckOf(t, w, a, ""); !v.Allowed || v.RateLimits[0].Remaining != 2 {
		t.Errorf("after the window: %+v, want allowed with 2 remaining", v)
	}
}

func TestCheckRateLimitsPerIPAndApp(t *testing.T) {
	ipRule := ratelimit.Rule{Max: 1, Per: time.Second, Scope: ratelimit.ScopeIP}
	appRule := ratelimit.Rule{Max: 3, Per: time.Minute, Scope: ratelimit.ScopeApp}
	w := newWorld(t, func(c *wachtapi.Config) { c.RateLimits = []ratelimit.Rule{ipRule, appRule} })
	_, a := w.env.NewKey(t, "a", nil, nil)
	_, b := w.env.NewKey(t, "b", nil, nil)

	if v := limitedCheckOf(t, w, a, "203.0.113.1"); !v.Allowed || len(v.RateLimits) != 2 {
		t.Fatalf("first: %+v", v)
	}
	v := limitedCheckOf(t, w, b, "203.0.113.1")
	if v.Allowed || *v.BlockedRule != ipRule.String() || *v.RetryAfter != 1 {
		t.Fatalf("same IP, other key: %+v, want refused by %s", v, ipRule)
	}
	// The app rule counts refused checks too: this is its 3rd of 3.
	if v := limitedCheckOf(t, w, b, "203.0.113.2"); !v.Allowed {
		t.Fatalf("other IP: %+v, want allowed", v)
	}
	v = limitedCheckOf(t, w, a, "203.0.113.3")
	if v.Allowed || *v.BlockedRule != appRule.String() {
		t.Fatalf("4th check of the app: %+v, want refused by %s", v, appRule)
	}
}

func TestCheckRateLimitSharedThroughRedis(t *testing.T) {
	lim := redistest.Limiter(t)
	rule := ratelimit.Rule{Max: 4, Per: time.Minute}
	withRedis := func(c *wachtapi.Config) { c.RateLimits, c.Limiter = []ratelimit.Rule{rule}, lim }
	w := newWorld(t, withRedis)
	// A second instance of the API on the same store and Redis.
	w2 := w.second(t, withRedis)

	_, secret := w.env.NewKey(t, "shared", nil, nil)
	allowed := 0
	for i := range 10 {
		inst := w
		if i%2 == 1 {
			inst = w2
		}
		if v := limitedCheckOf(t, inst, secret, ""); v.Allowed {
			allowed++
		} else if v.Reason == nil || *v.Reason != "rate_limited" {
			t.Fatalf("check %d refused for %+v", i+1, v)
		}
	}
	if allowed != 4 {
		t.Errorf("%d of 10 checks over two instances allowed, want 4 (one shared limit)", allowed)
	}
}

func TestNewRejectsBadRateLimit(t *testing.T) {
	p, err := portal.New(portal.Config{BaseURL: portalBase, Store: newWorld(t).env.Store})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wachtapi.New(wachtapi.Config{Store: newWorld(t).env.Store, Issuer: p.Issuer(), APIKeys: []string{backendKey},
		RateLimits: []ratelimit.Rule{{Max: 0, Per: time.Minute}}})
	if err == nil {
		t.Fatal("New accepted a rule with max 0")
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
