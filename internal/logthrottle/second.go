package logthrottle

import (
	"sync/atomic"
	"time"
)

// Second lets one log line a second through, for a failure that would
// otherwise log on every request (a rate limiter that is down, so requests
// pass without limits). The zero value is ready and safe for concurrent use.
type Second struct {
	last atomic.Int64 // when a line was last let through, unix ns
}

// Allow reports whether a line may be written now: true at most once in any
// second.
func (s *Second) Allow() bool {
	now, last := time.Now().UnixNano(), s.last.Load()
	return now-last >= int64(time.Second) && s.last.CompareAndSwap(last, now)
}
