package audit

import (
	"context"
	"time"
)

// Outcomes of an API-key verification (Access.Outcome), as Wacht names them.
const (
	AccessAllowed = "allowed" // the key was valid and the request went on
	AccessBlocked = "blocked" // the request was refused; BlockedRule says why
)

// Intervals of a time series (Wacht's names).
const (
	IntervalMinute = "minute"
	IntervalHour   = "hour"
	IntervalDay    = "day"
	IntervalWeek   = "week"
	IntervalMonth  = "month"
)

// Access is one API-key verification: a decision RequireAPIKey or
// /v1/authz/check made, whether it let the request through or blocked it.
// Like Event it never holds a secret: a key appears by its id and name only.
type Access struct {
	// RequestID correlates the event with the HTTP request.
	RequestID string `json:"request_id"`
	// Time is when the verification was decided.
	Time time.Time `json:"timestamp"`
	// Latency is how long the verification took.
	Latency time.Duration `json:"latency_ns"`
	// AppSlug is the API auth app whose key was presented; empty when the
	// credential named no known app.
	AppSlug string `json:"app_slug"`
	// Tenant is the app's tenant.
	Tenant string `json:"tenant,omitempty"`
	// KeyID and KeyName identify the key; empty when no key matched.
	KeyID   string `json:"key_id"`
	KeyName string `json:"key_name"`
	// Outcome is AccessAllowed or AccessBlocked.
	Outcome string `json:"outcome"`
	// BlockedRule says why a blocked request was blocked: the refusal reason
	// (for example "key_revoked", "tenant_suspended", "insufficient_permissions")
	// or the name of the rate-limit rule that blocked it. Empty when allowed.
	BlockedRule string `json:"blocked_by_rule,omitempty"`
	// RateLimited tells that BlockedRule is a rate-limit rule (the request
	// was over it) rather than a refusal reason.
	RateLimited bool `json:"rate_limited,omitempty"`
	// Method and Path are the verified request's (for /v1/authz/check, the
	// ones the caller asked about).
	Method string `json:"method"`
	Path   string `json:"path"`
	// ClientIP and UserAgent describe the caller of the verified request.
	ClientIP  string `json:"client_ip"`
	UserAgent string `json:"user_agent"`
}

// AccessRecorder takes verification events. RecordAccess never blocks the
// request that made the decision: an implementation buffers events and writes
// them in batches off the request path, and under overload sheds events and
// counts what it shed.
type AccessRecorder interface {
	RecordAccess(e Access)
}

// DiscardAccess is an AccessRecorder that drops every event: set it where a
// recorder is configured to turn the verification log off.
var DiscardAccess AccessRecorder = discard{}

type discard struct{}

func (discard) RecordAccess(Access) {}

// Shed counts the verifications of one app in one minute that a recorder
// decided but did not record because its buffer was full.
type Shed struct {
	// AppSlug is the app ("" when the credential named none).
	AppSlug string
	// Minute is the minute (UTC, truncated) the verifications were decided.
	Minute time.Time
	// Count is how many were shed.
	Count int64
}

// AccessWriter stores verification events in batches: what a recorder
// (package middleware/audit/accesslog) writes to. The key stores implement
// it: each call is one transaction that inserts the events, adds them to the
// per-minute rollups and adds the shed counts.
type AccessWriter interface {
	WriteAccess(ctx context.Context, events []Access, shed []Shed) error
}

// AccessQuery selects verification events; zero fields do not filter.
type AccessQuery struct {
	// AppSlug restricts to one app (required by the HTTP API).
	AppSlug string
	// Outcome restricts to AccessAllowed or AccessBlocked.
	Outcome string
	// KeyID restricts to one key.
	KeyID string
	// Since and Until bound Time (Since inclusive, Until exclusive).
	Since, Until time.Time
	// Cursor continues a previous page (AccessPage.NextCursor).
	Cursor string
	// Limit is the page size; 0 means 100, at most 1000.
	Limit int
}

// AccessPage is one page of verification events, newest first.
type AccessPage struct {
	// Events are the events of this page, newest first.
	Events []Access `json:"data"`
	// NextCursor continues with older events; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// AnalyticsQuery selects the window and the extras of Analytics.
type AnalyticsQuery struct {
	// AppSlug is the app (required).
	AppSlug string
	// KeyID restricts the sums to one key; "" means every key.
	KeyID string
	// Since and Until bound the window (Since inclusive, Until exclusive);
	// zero means unbounded on that side.
	Since, Until time.Time
	// TopLimit is how many rows each top list holds; 0 leaves the top lists
	// out, at most 50.
	TopLimit int
}

// Count is one row of a top list: a key, a path, a blocked reason or a
// rate-limit rule, and its requests.
type Count struct {
	// Name is the key id, the path, the reason or the rule's name.
	Name string `json:"name"`
	// Label is a human name where there is one (the key's name).
	Label string `json:"label,omitempty"`
	// Total, Allowed and Blocked count the requests.
	Total   int64 `json:"total"`
	Allowed int64 `json:"allowed"`
	Blocked int64 `json:"blocked"`
}

// Analytics sums an app's verifications over a window.
type Analytics struct {
	// Total, Allowed and Blocked count the recorded verifications.
	Total   int64 `json:"total_requests"`
	Allowed int64 `json:"allowed_requests"`
	Blocked int64 `json:"blocked_requests"`
	// RateLimited counts the blocked requests that a rate-limit rule
	// blocked (Access.RateLimited).
	RateLimited int64 `json:"rate_limited_requests"`
	// KeysUsed24h counts the distinct keys verified (allowed) in the 24 hours
	// before the reader's clock, whatever the window.
	KeysUsed24h int64 `json:"keys_used_24h"`
	// Shed counts the verifications in the window that were decided but not
	// recorded because the recorder was overloaded.
	Shed int64 `json:"shed"`
	// TopKeys, TopPaths, BlockedReasons and RateLimitStats are filled when
	// AnalyticsQuery.TopLimit > 0, most requests first. BlockedReasons
	// counts every blocked request by BlockedRule (rate-limit rules
	// included); RateLimitStats only the rate-limited ones, by rule.
	TopKeys        []Count `json:"top_keys,omitempty"`
	TopPaths       []Count `json:"top_paths,omitempty"`
	BlockedReasons []Count `json:"blocked_reasons,omitempty"`
	RateLimitStats []Count `json:"rate_limit_stats,omitempty"`
}

// Bucket is one interval of a time series.
type Bucket struct {
	// Start is the interval's first instant (UTC).
	Start time.Time `json:"timestamp"`
	// Total, Allowed and Blocked count the verifications in the interval.
	Total   int64 `json:"total_requests"`
	Allowed int64 `json:"allowed_requests"`
	Blocked int64 `json:"blocked_requests"`
}

// AccessReader reads recorded verifications: the events, their sums and a
// time series (from per-minute rollups), for the portal's Overview and Access
// Logs tabs and the Wacht-compatible audit endpoints.
type AccessReader interface {
	QueryAccess(ctx context.Context, q AccessQuery) (AccessPage, error)
	AccessAnalytics(ctx context.Context, q AnalyticsQuery) (Analytics, error)
	// AccessTimeseries answers one Bucket per interval (one of the Interval
	// constants) from since to until, empty intervals included.
	AccessTimeseries(ctx context.Context, app string, since, until time.Time, interval string) ([]Bucket, error)
}

// Percent is part of whole in percent, rounded down to two decimals; 0 of
// 0. It is the success rate (allowed of total) and every share of the
// analytics, wherever they are shown.
func Percent(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return float64(part*10000/whole) / 100
}
