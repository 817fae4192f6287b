package middleware

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestTicketRouteRateLimit(t *testing.T) {
	clock := newFakeClock()
	env := newRouteEnv(t, Config{Now: clock.Now, RateLimit: DefaultRateLimit}) // burst defaults to 5

	for i := range 5 {
		if w := env.do(req{}); w.Code != 200 {
			t.Fatalf("request %d of the burst: %d", i+1, w.Code)
		}
	}
	w := env.do(req{})
	if w.Code != 429 || w.Body.String() != `{"error":"Too many requests"}` {
		t.Fatalf("6th request: %d %s, want 429", w.Code, w.Body)
	}
	// 10 a minute: the next token is 6 s away.
	if got := w.Header().Get("Retry-After"); got != "6" {
		t.Errorf("Retry-After = %q, want 6", got)
	}
	events := env.log.auditEvents(t)
	if last := events[len(events)-1]; last["reason"] != ReasonRateLimited || last["outcome"] != "denied" || last["status"] != 429.0 {
		t.Errorf("audit = %v", last)
	}
	if n := env.issuer.callCount(); n != 5 {
		t.Errorf("issuer called %d times, want 5", n)
	}

	if w := env.do(req{user: "bob@acme"}); w.Code != 200 {
		t.Errorf("another user is limited too: %d", w.Code)
	}
	clock.Advance(4 * time.Second)
	if w := env.do(req{}); w.Code != 429 || w.Header().Get("Retry-After") != "2" {
		t.Errorf("after 4 s: %d Retry-After %q, want 429 and 2", w.Code, w.Header().Get("Retry-After"))
	}
	clock.Advance(2 * time.Second)
	if w := env.do(req{}); w.Code != 200 {
		t.Errorf("after Retry-After: %d, want 200", w.Code)
	}
}

func TestTicketRouteRateLimitDeniedRequestsCostNothing(t *testing.T) {
	clock := newFakeClock()
	env := newRouteEnv(t, Config{Now: clock.Now, RateLimit: 60, RateBurst: 1, Decider: denyWith("no_role")})
	for range 10 {
		if w := env.do(req{}); w.Code != 403 {
			t.Fatalf("status %d, want 403", w.Code)
		}
	}
	if n := env.route.limiter.Len(); n != 0 {
		t.Errorf("refused requests created %d buckets", n)
	}
}

func TestTicketRouteNoRateLimit(t *testing.T) {
	for _, rl := range []float64{NoRateLimit, -0.5} {
		env := newRouteEnv(t, Config{RateLimit: rl, RateBurst: 1})
		if env.route.limiter != nil {
			t.Fatalf("RateLimit %v: limiter still on", rl)
		}
		for i := range 50 {
			if w := env.do(req{}); w.Code != 200 {
				t.Fatalf("RateLimit %v, request %d: %d", rl, i, w.Code)
			}
		}
	}
}

// TestTicketRouteConcurrentRateLimit runs users in parallel against a
// frozen clock: each gets exactly its burst, however the requests interleave
// (run with -race).
func TestTicketRouteConcurrentRateLimit(t *testing.T) {
	clock := newFakeClock()
	env := newRouteEnv(t, Config{Now: clock.Now, RateLimit: DefaultRateLimit, RateBurst: 3})
	const users, perUser = 8, 20
	var mu sync.Mutex
	ok := map[string]int{}
	var wg sync.WaitGroup
	for u := range users {
		for range 2 { // two tabs per user
			wg.Add(1)
			go func() {
				defer wg.Done()
				user := fmt.Sprintf("user%d@acme", u)
				for range perUser / 2 {
					if w := env.do(req{user: user}); w.Code == 200 {
						mu.Lock()
						ok[user]++
						mu.Unlock()
					} else if w.Code != 429 {
						t.Errorf("status %d", w.Code)
					}
				}
			}()
		}
	}
	wg.Wait()
	for u := range users {
		if n := ok[fmt.Sprintf("user%d@acme", u)]; n != 3 {
			t.Errorf("user%d got %d tickets, want its burst of 3", u, n)
		}
	}
	if n := len(env.log.auditEvents(t)); n != users*perUser {
		t.Errorf("%d audit events for %d attempts", n, users*perUser)
	}
}
