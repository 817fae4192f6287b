package redis_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/keyportal/keyportal/internal/testenv/redistest"
	"github.com/keyportal/keyportal/middleware/ratelimit"
	"github.com/keyportal/keyportal/middleware/ratelimit/internal/limitertest"
	"github.com/keyportal/keyportal/middleware/ratelimit/redis"
)

func TestRedisWindow(t *testing.T) {
	l := redistest.Limiter(t)
	// Redis keeps real time: wait for the window to end, polling.
	limitertest.CheckWindow(t, l, func(d time.Duration) { time.Sleep(d) })
}

// TestRedisConcurrentExact: with many goroutines racing, exactly Max pass —
// the script is atomic.
func TestRedisConcurrentExact(t *testing.T) {
	l := redistest.Limiter(t)
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
	a := redistest.Limiter(t)
	c := redistest.Client(t)
	rule := ratelimit.Rule{Max: 2, Per: time.Minute}
	ctx := context.Background()
	if r, _ := a.Allow(ctx, "k", rule); !r.Allowed {
		t.Fatal("first refused")
	}
	// Reach the same keys through a second client: same prefix.
	b, _ := redis.New(c, a.Prefix())
	if r, _ := b.Allow(ctx, "k", rule); !r.Allowed || r.Remaining != 0 {
		t.Fatalf("second (other instance): %+v", r)
	}
	if r, _ := a.Allow(ctx, "k", rule); r.Allowed {
		t.Fatalf("third: %+v, want refused", r)
	}
}

func TestRedisDownReturnsError(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	l, _ := redis.New(c, "x:")
	_, err := l.Allow(context.Background(), "k", ratelimit.Rule{Max: 1, Per: time.Second})
	if err == nil {
		t.Fatal("Allow with Redis down returned no error")
	}
}

func TestRedisAllowAllOneCall(t *testing.T) {
	l := redistest.Limiter(t)
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

// TestRedisCalendarWindow: a calendar_day window expires at midnight UTC,
// not 24 h after it opened.
func TestRedisCalendarWindow(t *testing.T) {
	l := redistest.Limiter(t)
	rule := ratelimit.SchemeRule{Unit: "calendar_day", Duration: 1, MaxRequests: 1}.Rule()
	now := time.Now().UTC()
	y, m, d := now.Date()
	left := time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Sub(now)
	r, err := l.Allow(context.Background(), "k", rule)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Allowed || r.Reset > left || r.Reset < left-2*time.Second {
		t.Fatalf("first: %+v, want allowed with the window ending at midnight (in %v)", r, left)
	}
}

// TestRedisRingCountsEachCounterOnItsShard: a Ring (New accepts one)
// stores each key on its own shard; a request under several rules must
// count each rule's counter on that counter's shard, or requests whose
// first key lands on different shards split a shared counter (an app's)
// and admit up to shards×Max. The test's two shards are two databases of
// the test Redis.
func TestRedisRingCountsEachCounterOnItsShard(t *testing.T) {
	prefix := redistest.Prefix(t)
	addr := redistest.Client(t).Options().Addr
	host, port, _ := strings.Cut(addr, ":")
	other := "localhost:" + port
	if host == "localhost" {
		other = "127.0.0.1:" + port
	}
	ring := goredis.NewRing(&goredis.RingOptions{
		Addrs: map[string]string{"a": addr, "b": other},
		NewClient: func(o *goredis.Options) *goredis.Client {
			if o.Addr == other {
				o.DB = 1
			}
			return goredis.NewClient(o)
		},
	})
	t.Cleanup(func() {
		ctx := context.Background()
		_ = ring.ForEachShard(ctx, func(ctx context.Context, c *goredis.Client) error {
			if keys, err := c.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
				c.Del(ctx, keys...)
			}
			return nil
		})
		ring.Close()
	})
	l, err := redis.New(ring, prefix)
	if err != nil {
		t.Fatal(err)
	}
	app := ratelimit.Rule{Max: 5, Per: time.Minute, Scope: ratelimit.ScopeApp}
	key := ratelimit.Rule{Max: 100, Per: time.Minute, Scope: ratelimit.ScopeKey}
	allowed := 0
	for i := range 20 {
		checks := []ratelimit.Check{{Key: fmt.Sprintf("key-%d", i), Rule: key}, {Key: "app-a", Rule: app}}
		out := make([]ratelimit.Result, len(checks))
		if err := l.AllowAll(context.Background(), checks, out); err != nil {
			t.Fatal(err)
		}
		if out[1].Allowed {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("the app's rule admitted %d of 20 requests, want 5 (one count, on the app counter's shard)", allowed)
	}
}
