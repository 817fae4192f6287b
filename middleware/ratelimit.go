package middleware

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// userLimiter is a token bucket per user with bounded memory.
//
// Buckets live in two generations. Every period (at least the time an empty
// bucket takes to fill) the current generation becomes the previous one and
// the old previous one is dropped; a bucket used again is moved back to the
// current generation. A dropped bucket was idle for a whole period, so it was
// full, the same as a new one: forgetting it changes no answer. Memory is
// proportional to the users seen in the last two periods.
type userLimiter struct {
	limit  rate.Limit
	burst  int
	period time.Duration

	mu        sync.Mutex
	cur, prev map[string]*rate.Limiter
	rotatedAt time.Time
}

// newUserLimiter returns a limiter allowing perMinute events a minute and
// burst at once, per key.
func newUserLimiter(perMinute float64, burst int) *userLimiter {
	limit := rate.Limit(perMinute / 60)
	refill := time.Duration(float64(burst) / float64(limit) * float64(time.Second))
	if refill < time.Minute || math.IsInf(float64(limit), 0) {
		refill = time.Minute
	}
	return &userLimiter{
		limit:  limit,
		burst:  burst,
		period: refill,
		cur:    make(map[string]*rate.Limiter),
		prev:   make(map[string]*rate.Limiter),
	}
}

// allow takes one token from key's bucket at now. When the bucket is empty it
// takes nothing and says how long until a token is there.
func (l *userLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rotatedAt.IsZero() {
		l.rotatedAt = now
	} else if now.Sub(l.rotatedAt) >= l.period {
		l.prev, l.cur = l.cur, make(map[string]*rate.Limiter, len(l.cur))
		l.rotatedAt = now
	}
	lim, ok := l.cur[key]
	if !ok {
		if lim, ok = l.prev[key]; ok {
			delete(l.prev, key)
		} else {
			lim = rate.NewLimiter(l.limit, l.burst)
		}
		l.cur[key] = lim
	}
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return false, l.period
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d
	}
	return true, 0
}

// size returns the number of buckets held, for tests.
func (l *userLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.cur) + len(l.prev)
}

// retryAfterSeconds rounds d up to whole seconds, at least 1, for the
// Retry-After header.
func retryAfterSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}
