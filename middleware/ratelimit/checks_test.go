package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// TestCount: each rule counts on its own counter, and the client IP is
// asked once, only when a rule counts per IP.
func TestCount(t *testing.T) {
	l := ratelimit.NewMemory(func() time.Time { return time.Unix(0, 0) })
	perKey := ratelimit.Rule{Max: 2, Per: time.Minute, Scope: ratelimit.ScopeKey}
	perApp := ratelimit.Rule{Max: 5, Per: time.Minute, Scope: ratelimit.ScopeApp}
	perIP := ratelimit.Rule{Max: 1, Per: time.Minute, Scope: ratelimit.ScopeIP}
	asked := 0
	ip := func() string { asked++; return "203.0.113.9" }

	checks, results, err := ratelimit.Count(context.Background(), l, []ratelimit.Rule{perKey, perApp}, "k1", "42", "aa_42", ip)
	if err != nil || asked != 0 {
		t.Fatalf("Count without an IP rule: err %v, IP asked %d times", err, asked)
	}
	if checks[0].Key != "key:k1" || checks[1].Key != "app:42/aa_42" || results[0].Remaining != 1 || results[1].Remaining != 4 {
		t.Fatalf("checks %+v results %+v", checks, results)
	}
	checks, results, err = ratelimit.Count(context.Background(), l, []ratelimit.Rule{perIP, perKey, perIP}, "k1", "42", "aa_42", ip)
	if err != nil || asked != 1 {
		t.Fatalf("Count with two IP rules: err %v, IP asked %d times, want once", err, asked)
	}
	if checks[0].Key != "ip:203.0.113.9" || results[0].Remaining != 0 || results[1].Remaining != 0 || results[2].Allowed {
		t.Fatalf("checks %+v results %+v", checks, results)
	}
}
