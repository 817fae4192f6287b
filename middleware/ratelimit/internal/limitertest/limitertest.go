// Package limitertest holds the checks every ratelimit.Limiter must pass,
// shared by the tests of the in-process and the Redis limiter.
package limitertest

import (
	"context"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// CheckWindow drives a 3-per-window rule through one window and the next;
// advance moves l's clock (or waits) by d.
func CheckWindow(t *testing.T, l ratelimit.Limiter, advance func(d time.Duration)) {
	t.Helper()
	ctx := context.Background()
	rule := ratelimit.Rule{Max: 3, Per: 2 * time.Second, Scope: ratelimit.ScopeKey}
	for i, want := range []int{2, 1, 0} {
		r, err := l.Allow(ctx, "k1", rule)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Allowed || r.Remaining != want || r.Limit != 3 || r.RetryAfter != 0 {
			t.Fatalf("request %d: %+v, want allowed with %d remaining", i+1, r, want)
		}
		if r.Reset <= 0 || r.Reset > 2*time.Second {
			t.Fatalf("request %d: reset %v out of (0, 2s]", i+1, r.Reset)
		}
	}
	r, err := l.Allow(ctx, "k1", rule)
	if err != nil {
		t.Fatal(err)
	}
	if r.Allowed || r.Remaining != 0 || r.RetryAfter <= 0 || r.RetryAfter > 2*time.Second {
		t.Fatalf("4th request: %+v, want refused with a retry-after in (0, 2s]", r)
	}
	// Another key and another rule over the same key count apart.
	if r, _ := l.Allow(ctx, "k2", rule); !r.Allowed || r.Remaining != 2 {
		t.Fatalf("other key: %+v", r)
	}
	other := ratelimit.Rule{Max: 3, Per: 2 * time.Second, Scope: ratelimit.ScopeApp}
	if r, _ := l.Allow(ctx, "k1", other); !r.Allowed || r.Remaining != 2 {
		t.Fatalf("other rule: %+v", r)
	}
	advance(r.Reset + 50*time.Millisecond)
	r, err = l.Allow(ctx, "k1", rule)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Allowed || r.Remaining != 2 {
		t.Fatalf("after the window: %+v, want a fresh window", r)
	}
}
