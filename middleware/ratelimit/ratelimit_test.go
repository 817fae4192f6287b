package ratelimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

func randomPrefix(t testing.TB) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "keyportal-test:" + t.Name() + ":" + hex.EncodeToString(b) + ":"
}

func redisLimiter(t *testing.T) *ratelimit.Redis {
	addr := testenv.RedisAddr(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	prefix := randomPrefix(t)
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		c.Close()
	})
	l, err := ratelimit.NewRedis(c, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

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

// checkWindow drives a 3-per-window rule through one window and the next.
func checkWindow(t *testing.T, l ratelimit.Limiter, advance func(time.Duration)) {
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

func TestMemoryWindow(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := ratelimit.NewMemory(func() time.Time { return now })
	checkWindow(t, l, func(d time.Duration) { now = now.Add(d) })
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

func TestRedisWindow(t *testing.T) {
	l := redisLimiter(t)
	// Redis keeps real time: wait for the window to end, polling.
	checkWindow(t, l, func(d time.Duration) { time.Sleep(d) })
}

// TestRedisConcurrentExact: with many goroutines racing, exactly Max pass —
// the script is atomic.
func TestRedisConcurrentExact(t *testing.T) {
	l := redisLimiter(t)
	rule := ratelimit.Rule{Max: 50, Per: time.Minute, Scope: ratelimit.ScopeApp}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				r, err := l.Allow(context.Background(), "app-a", rule)
				if err != nil {
					t.Error(err)
					return
				}
				if r.Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed != 50 {
		t.Fatalf("%d of 200 allowed, want exactly 50", allowed)
	}
}

// TestRedisSharedBetweenLimiters: two limiters (two instances) on one
// Redis and prefix share the count.
func TestRedisSharedBetweenLimiters(t *testing.T) {
	a := redisLimiter(t)
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	defer c.Close()
	rule := ratelimit.Rule{Max: 2, Per: time.Minute}
	ctx := context.Background()
	if r, _ := a.Allow(ctx, "k", rule); !r.Allowed {
		t.Fatal("first refused")
	}
	// Reach the same keys through a second client: same prefix.
	b, _ := ratelimit.NewRedis(c, a.Prefix())
	if r, _ := b.Allow(ctx, "k", rule); !r.Allowed || r.Remaining != 0 {
		t.Fatalf("second (other instance): %+v", r)
	}
	if r, _ := a.Allow(ctx, "k", rule); r.Allowed {
		t.Fatalf("third: %+v, want refused", r)
	}
}

func TestRedisDownReturnsError(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	l, _ := ratelimit.NewRedis(c, "x:")
	_, err := l.Allow(context.Background(), "k", ratelimit.Rule{Max: 1, Per: time.Second})
	if err == nil {
		t.Fatal("Allow with Redis down returned no error")
	}
}

func TestRedisAllowAllOneCall(t *testing.T) {
	l := redisLimiter(t)
	checks := []ratelimit.Check{
		{Key: "k", Rule: ratelimit.Rule{Max: 1, Per: time.Minute, Scope: ratelimit.ScopeKey}},
		{Key: "a", Rule: ratelimit.Rule{Max: 5, Per: time.Minute, Scope: ratelimit.ScopeApp}},
	}
	out := make([]ratelimit.Result, 2)
	for i, want := range [][2]bool{{true, true}, {false, true}} {
		if err := l.AllowAll(context.Background(), checks, out); err != nil {
			t.Fatal(err)
		}
		if out[0].Allowed != want[0] || out[1].Allowed != want[1] || out[1].Remaining != 3-i+1 {
			t.Fatalf("call %d: %+v", i+1, out)
		}
	}
	if err := l.AllowAll(context.Background(), checks, out[:1]); err == nil {
		t.Fatal("short out slice accepted")
	}
}
