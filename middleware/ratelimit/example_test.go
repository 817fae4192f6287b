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
