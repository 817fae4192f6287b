// Package ratelimit counts requests against rules in Wacht's shape: at most
// Max requests per Per, counted per key, per app, per client IP, or per key
// or app and IP together. SchemeRule is a rule as Wacht's rate-limit
// schemes and apps' rate_limits write it (unit, duration, max_requests,
// mode, endpoints, priority); Compile orders a scheme's rules and Decide
// counts a request against them, naming the rule that blocks it.
//
// Memory counts in process; the shared Redis limiter lives in package
// ratelimit/redis, so that only programs that use it link the Redis client.
// Both count in fixed windows: a window opens at a key's first request and
// lasts Per; requests beyond Max in it are refused until it ends. Fixed
// windows were chosen over token buckets (golang.org/x/time/rate) so that
// the two limiters answer the same way, and so that RateLimit-Remaining and
// RateLimit-Reset are exact numbers a client can act on ("n left until the
// window ends at t"), as in Wacht. The price is the known edge case: up to
// 2×Max requests can pass around the boundary of two windows.
//
// Buckets is the other shape, for limits on people rather than API traffic
// (the ticket route's tickets per user, the portal's key changes per user):
// a token bucket per key, in process, refilled continuously.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Scope says what a rule counts per.
type Scope string

// The scopes of Wacht's rules.
const (
	// ScopeKey counts per API key.
	ScopeKey Scope = "key"
	// ScopeApp counts per API auth app, over all of its keys.
	ScopeApp Scope = "app"
	// ScopeIP counts per client IP. It depends on the gin engine's trusted
	// proxies (gin.Engine.SetTrustedProxies, `keyportal serve
	// --trusted-proxies`): the address a trusted proxy forwards in
	// X-Forwarded-For, else the connection's own; an engine that trusts
	// every address (gin's default) has the header ignored, so that a
	// client cannot escape the limit by rotating it. Behind a proxy that is
	// not named, every client counts as the proxy.
	ScopeIP Scope = "ip"
	// ScopeKeyAndIP counts per API key and client IP together: each
	// address a key is used from has its own count (Wacht's
	// per_key_and_ip). The client IP is judged as for ScopeIP.
	ScopeKeyAndIP Scope = "key_and_ip"
	// ScopeAppAndIP counts per API auth app and client IP together
	// (Wacht's per_app_and_ip). The client IP is judged as for ScopeIP.
	ScopeAppAndIP Scope = "app_and_ip"
)

// usesIP reports whether the scope counts per client IP.
func (s Scope) usesIP() bool { return s == ScopeIP || s == ScopeKeyAndIP || s == ScopeAppAndIP }

// Rule allows at most Max requests per Per in each Scope.
type Rule struct {
	// Max is how many requests a window admits. Must be positive.
	Max int `json:"max"`
	// Per is the length of a window. Must be at least a millisecond.
	Per time.Duration `json:"per"`
	// Scope is what requests are counted per. Empty means ScopeKey.
	Scope Scope `json:"scope"`
	// Calendar, when set, aligns the windows on the UTC calendar: a window
	// ends at the next midnight (CalendarDay) or the first of the next
	// month (CalendarMonth), whenever it opened. Per must still be valid;
	// it is then not the window's length. Empty means windows of Per.
	Calendar Calendar `json:"calendar,omitempty"`
}

// Calendar aligns a rule's windows on the UTC calendar.
type Calendar string

// The calendar alignments (Wacht's calendar_day and calendar_month units).
const (
	CalendarDay   Calendar = "day"
	CalendarMonth Calendar = "month"
)

// windowEnd is when a window of r that opens at now ends.
func (r Rule) windowEnd(now time.Time) time.Time {
	switch r.Calendar {
	case CalendarDay:
		y, m, d := now.UTC().Date()
		return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
	case CalendarMonth:
		y, m, _ := now.UTC().Date()
		return time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
	}
	return now.Add(r.Per)
}

// WindowLeft is how long a window of r that opens at now lasts: Per, or
// until the calendar boundary. Limiters that count windows elsewhere
// (package ratelimit/redis) set their expiry with it.
func (r Rule) WindowLeft(now time.Time) time.Duration { return r.windowEnd(now).Sub(now) }

// ErrBadRule is wrapped by the errors of Rule.Validate.
var ErrBadRule = errors.New("ratelimit: bad rule")

// Validate reports why r cannot be enforced, or nil.
func (r Rule) Validate() error {
	switch {
	case r.Max <= 0:
		return fmt.Errorf("%w: max %d must be positive", ErrBadRule, r.Max)
	case r.Per < time.Millisecond:
		return fmt.Errorf("%w: per %v must be at least 1ms", ErrBadRule, r.Per)
	}
	switch r.Calendar {
	case "", CalendarDay, CalendarMonth:
	default:
		return fmt.Errorf("%w: calendar %q is not day or month", ErrBadRule, r.Calendar)
	}
	switch r.Scope {
	case "", ScopeKey, ScopeApp, ScopeIP, ScopeKeyAndIP, ScopeAppAndIP:
		return nil
	}
	return fmt.Errorf("%w: scope %q is not key, app, ip, key_and_ip or app_and_ip", ErrBadRule, r.Scope)
}

// String names the rule, as "100/1m0s/key" (and "/calendar-day" for a
// calendar rule); limiters use it to keep the
// counters of different rules apart.
func (r Rule) String() string {
	s := r.Scope
	if s == "" {
		s = ScopeKey
	}
	name := strconv.Itoa(r.Max) + "/" + r.Per.String() + "/" + string(s)
	if r.Calendar != "" {
		name += "/calendar-" + string(r.Calendar)
	}
	return name
}

// Result is a limiter's answer for one request.
type Result struct {
	// Allowed is false when the request is over the limit.
	Allowed bool
	// Limit is the rule's Max.
	Limit int
	// Remaining is how many more requests the current window admits.
	Remaining int
	// Reset is how long until the current window ends.
	Reset time.Duration
	// RetryAfter is how long a refused request should wait; 0 if allowed.
	RetryAfter time.Duration
}

// Limiter counts a request under key against rule. key names what the
// rule's scope counts (a key id, an app slug, an IP); the limiter keeps
// different rules' counters apart itself. An error means the limiter could
// not answer; the caller decides whether to let the request through.
type Limiter interface {
	Allow(ctx context.Context, key string, rule Rule) (Result, error)
}

// Check is one count a request is under: a rule and the key its scope
// names.
type Check struct {
	Key  string
	Rule Rule
}

// MultiLimiter is a Limiter that can count a request against several rules
// at once (ratelimit/redis does, in one round trip). Middleware uses
// AllowAll when the limiter has it.
type MultiLimiter interface {
	Limiter
	// AllowAll counts one request against every check, writing each
	// answer to out, which has len(checks) elements.
	AllowAll(ctx context.Context, checks []Check, out []Result) error
}

// Result is the answer for the count-th request of a window that ends in
// left (at least a millisecond is reported). Limiters that count windows
// elsewhere (package ratelimit/redis) build their answers with it.
func (r Rule) Result(count int64, left time.Duration) Result {
	if left <= 0 {
		left = time.Millisecond
	}
	res := Result{Allowed: count <= int64(r.Max), Limit: r.Max, Reset: left}
	if res.Allowed {
		res.Remaining = r.Max - int(count)
	} else {
		res.RetryAfter = left
	}
	return res
}
