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

// A scheme's rules in Wacht's shape: 2 requests a minute per key
// everywhere, and 1 a minute per key and IP on /v1/admin/ paths, evaluated
// first (priority 10). Decide counts a request and names the rule that
// blocks it.
func ExampleDecide() {
	limits, err := ratelimit.Compile(ratelimit.RuleSet{Name: "standard", Namespace: "scheme:standard", Rules: []ratelimit.SchemeRule{
		{Unit: ratelimit.UnitMinute, Duration: 1, MaxRequests: 2},
		{Unit: ratelimit.UnitMinute, Duration: 1, MaxRequests: 1, Mode: ratelimit.ModePerKeyAndIP,
			Endpoints: []string{"/v1/admin/*"}, Priority: 10},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	l := ratelimit.NewMemory(nil)
	for _, path := range []string{"/v1/admin/users", "/v1/admin/users", "/v1/orders", "/v1/orders"} {
		d, _ := ratelimit.Decide(context.Background(), l,
			ratelimit.Subject{KeyID: "key_1", ClientIP: "203.0.113.7", Path: path}, limits)
		fmt.Println(path, d.Allowed, d.Rule, len(d.Counted))
	}
	// Output:
	// /v1/admin/users true  2
	// /v1/admin/users false standard[1] 2
	// /v1/orders false standard[0] 1
	// /v1/orders false standard[0] 1
}
