// Package logthrottle rate-limits log lines per client IP, for refusals
// that are counted in metrics instead of stored in the audit trail: the
// ticket route's refusals before it knows who is asking, and the portal's
// exchange of a forged or expired ticket (docs/design.md "Invariants"). An
// anonymous flood then costs a counter increment per request and a bounded
// number of log lines, never a database row.
package logthrottle

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults for the zero values of New's arguments.
const (
	// DefaultPerIP is one line per IP every 10 s, with a burst of 5.
	DefaultPerIP = rate.Limit(0.1)
	// DefaultBurst is the burst per IP.
	DefaultBurst = 5
	// DefaultTotal caps lines over all IPs: 50 a second.
	DefaultTotal = rate.Limit(50)
	// DefaultMaxIPs bounds the per-IP table; when it is full it is emptied.
	DefaultMaxIPs = 10_000
)

// Throttle decides whether a refusal from an IP may write a log line. It is
// safe for concurrent use; the zero value is not usable: build it with New.
type Throttle struct {
	perIP  rate.Limit
	burst  int
	maxIPs int
	total  *rate.Limiter

	mu  sync.Mutex
	ips map[string]*rate.Limiter
}

// New returns a Throttle allowing perIP lines a second per IP (with burst),
// total lines a second over all IPs, and tracking at most maxIPs IPs. Zero
// or negative values mean the defaults above.
func New(perIP rate.Limit, burst int, total rate.Limit, maxIPs int) *Throttle {
	if perIP <= 0 {
		perIP = DefaultPerIP
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	if total <= 0 {
		total = DefaultTotal
	}
	if maxIPs <= 0 {
		maxIPs = DefaultMaxIPs
	}
	return &Throttle{
		perIP: perIP, burst: burst, maxIPs: maxIPs,
		total: rate.NewLimiter(total, max(burst, int(total))),
		ips:   make(map[string]*rate.Limiter),
	}
}

// Allow reports whether a line for ip may be written at now. A table that
// reaches its bound is emptied (its IPs start again with a full burst; the
// total cap still holds), so memory stays bounded under any number of IPs.
func (t *Throttle) Allow(ip string, now time.Time) bool {
	t.mu.Lock()
	l, ok := t.ips[ip]
	if !ok {
		if len(t.ips) >= t.maxIPs {
			clear(t.ips)
		}
		l = rate.NewLimiter(t.perIP, t.burst)
		t.ips[ip] = l
	}
	allowed := l.AllowN(now, 1)
	t.mu.Unlock()
	return allowed && t.total.AllowN(now, 1)
}

// Len returns how many IPs the table holds.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.ips)
}
