package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Buckets is a token bucket per key, refilled continuously, in process, with
// bounded memory. It limits people rather than API traffic: the ticket
// route's tickets per user, the portal's key changes per user. Unlike the
// fixed windows of Memory it has no window edge at which twice the limit
// passes, and a refused caller is told exactly when the next token comes.
//
// Buckets live in two generations. Every period (at least the time an empty
// bucket takes to fill) the current generation becomes the previous one and
// the old previous one is dropped; a bucket used again is moved back to the
// current generation. A dropped bucket was idle for a whole period, so it was
// full, the same as a new one: forgetting it changes no answer. Memory is
// proportional to the keys seen in the last two periods.
//
// Buckets is safe for concurrent use.
type Buckets struct {
	limit  rate.Limit
	burst  int
	period time.Duration

	mu        sync.Mutex
	cur, prev map[string]*rate.Limiter
	rotatedAt time.Time
}

// NewBuckets returns buckets that admit perMinute events a minute per key,
// refilled continuously, and burst events at once. perMinute must be
// positive and burst at least 1.
func NewBuckets(perMinute float64, burst int) *Buckets {
	limit := rate.Limit(perMinute / 60)
	refill := time.Duration(float64(burst) / float64(limit) * float64(time.Second))
	if refill < time.Minute || math.IsInf(float64(limit), 0) {
		refill = time.Minute
	}
	return &Buckets{
		limit:  limit,
		burst:  burst,
		period: refill,
		cur:    make(map[string]*rate.Limiter),
		prev:   make(map[string]*rate.Limiter),
	}
}

// Allow takes one token from key's bucket at now. When the bucket is empty it
// takes nothing and says how long until a token is there.
func (b *Buckets) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rotatedAt.IsZero() {
		b.rotatedAt = now
	} else if now.Sub(b.rotatedAt) >= b.period {
		b.prev, b.cur = b.cur, make(map[string]*rate.Limiter, len(b.cur))
		b.rotatedAt = now
	}
	lim, found := b.cur[key]
	if !found {
		if lim, found = b.prev[key]; found {
			delete(b.prev, key)
		} else {
			lim = rate.NewLimiter(b.limit, b.burst)
		}
		b.cur[key] = lim
	}
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return false, b.period
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len is the number of buckets held.
func (b *Buckets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.cur) + len(b.prev)
}

// CeilSeconds is d in whole seconds, rounded up, at least 1, as the
// Retry-After and RateLimit-Reset headers count: 0 would invite a retry that
// is still refused.
func CeilSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}
