package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/ratelimit"
	"github.com/keyportal/keyportal/middleware/ratelimit/internal/limitertest"
)

func TestRuleValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule ratelimit.Rule
		ok   bool
	}{
		{"per key", ratelimit.Rule{Max: 10, Per: time.Minute, Scope: ratelimit.ScopeKey}, true},
		{"default scope", ratelimit.Rule{Max: 1, Per: time.Second}, true},
		{"ip", ratelimit.Rule{Max: 1, Per: time.Second, Scope: ratelimit.ScopeIP}, true},
		{"zero max", ratelimit.Rule{Max: 0, Per: time.Second}, false},
		{"sub-ms window", ratelimit.Rule{Max: 1, Per: time.Microsecond}, false},
		{"unknown scope", ratelimit.Rule{Max: 1, Per: time.Second, Scope: "user"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rule.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ratelimit.ErrBadRule) {
				t.Fatalf("error %v is not ErrBadRule", err)
			}
		})
	}
}

func TestMemoryWindow(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := ratelimit.NewMemory(func() time.Time { return now })
	limitertest.CheckWindow(t, l, func(d time.Duration) { now = now.Add(d) })
}

func TestMemorySweepsEndedWindows(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := ratelimit.NewMemory(func() time.Time { return now })
	rule := ratelimit.Rule{Max: 1, Per: time.Second, Scope: ratelimit.ScopeIP}
	for i := 0; i < 1000; i++ {
		_, _ = l.Allow(context.Background(), string(rune('a'+i%26))+time.Duration(i).String(), rule)
	}
	if l.Len() != 1000 {
		t.Fatalf("Len = %d, want 1000", l.Len())
	}
	now = now.Add(time.Minute)
	_, _ = l.Allow(context.Background(), "fresh", rule)
	if l.Len() != 1 {
		t.Fatalf("after a minute idle Len = %d, want 1 (ended windows swept)", l.Len())
	}
}

func TestMemoryRejectsBadRule(t *testing.T) {
	_, err := ratelimit.NewMemory(nil).Allow(context.Background(), "k", ratelimit.Rule{})
	if !errors.Is(err, ratelimit.ErrBadRule) {
		t.Fatalf("err = %v, want ErrBadRule", err)
	}
}
