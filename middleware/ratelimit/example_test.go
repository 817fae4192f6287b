package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/keyportal/keyportal/middleware/ratelimit"
)

func ExampleMemory() {
	l := ratelimit.NewMemory(nil)
	rule := ratelimit.Rule{Max: 2, Per: time.Minute, Scope: ratelimit.ScopeKey}
	for i := 0; i < 3; i++ {
		r, _ := l.Allow(context.Background(), "key_123", rule)
		fmt.Println(r.Allowed, r.Remaining)
	}
	// Output:
	// true 1
	// true 0
	// false 0
}

// A token bucket per user: 30 events a minute, 10 at once. The 11th event
// at once waits for the next token, 2 s away.
func ExampleBuckets() {
	b := ratelimit.NewBuckets(30, 10)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for range 10 {
		b.Allow("alice", now)
	}
	ok, wait := b.Allow("alice", now)
	fmt.Println(ok, "Retry-After:", ratelimit.CeilSeconds(wait))
	ok, _ = b.Allow("bob", now)
	fmt.Println(ok)
	ok, _ = b.Allow("alice", now.Add(wait))
	fmt.Println(ok)
	// Output:
	// false Retry-After: 2
	// true
	// true
}
