package wacht

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/keyportal/keyportal/middleware/audit"
)

// MaxTopLimit is the longest top list AuditAnalytics asks for.
const MaxTopLimit = 50

// Intervals of AuditTimeseries (the verification log's own, package audit).
const (
	IntervalMinute = audit.IntervalMinute
	IntervalHour   = audit.IntervalHour
	IntervalDay    = audit.IntervalDay
	IntervalWeek   = audit.IntervalWeek
	IntervalMonth  = audit.IntervalMonth
)

var intervals = []string{IntervalMinute, IntervalHour, IntervalDay, IntervalWeek, IntervalMonth}

// AnalyticsQuery selects the window and the top lists of AuditAnalytics;
// zero fields leave them out.
type AnalyticsQuery struct {
	// Start and End bound the window (sent as RFC 3339); zero is unbounded.
	Start, End time.Time
	// KeyID restricts the sums to one key.
	KeyID string
	// TopKeys, TopPaths, BlockedReasons and RateLimits ask for the top
	// lists (include_top_keys...).
	TopKeys, TopPaths, BlockedReasons, RateLimits bool
	// TopLimit is each list's length, 1 to MaxTopLimit; zero for the
	// server's default (10).
	TopLimit int
}

// TopKey is a key of Analytics.TopKeys.
type TopKey struct {
	KeyID         string `json:"key_id"`
	KeyName       string `json:"key_name"`
	TotalRequests int64  `json:"total_requests"`
}

// TopPath is a path of Analytics.TopPaths.
type TopPath struct {
	Path          string `json:"path"`
	TotalRequests int64  `json:"total_requests"`
}

// BlockedReason is a row of Analytics.BlockedReasons: a refusal reason or a
// rate-limit rule, its count and its percentage of the blocked requests.
type BlockedReason struct {
	BlockedByRule string  `json:"blocked_by_rule"`
	Count         int64   `json:"count"`
	Percentage    float64 `json:"percentage"`
}

// RateLimitRule is a row of RateLimitStats.TopRules.
type RateLimitRule struct {
	Rule       string  `json:"rule"`
	HitCount   int64   `json:"hit_count"`
	Percentage float64 `json:"percentage"`
}

// RateLimitStats sums the requests rate limits blocked.
type RateLimitStats struct {
	TotalHits           int64           `json:"total_hits"`
	PercentageOfBlocked float64         `json:"percentage_of_blocked"`
	TopRules            []RateLimitRule `json:"top_rules"`
}

// Analytics sums an app's verified requests over a window.
type Analytics struct {
	TotalRequests   int64 `json:"total_requests"`
	AllowedRequests int64 `json:"allowed_requests"`
	BlockedRequests int64 `json:"blocked_requests"`
	// SuccessRate is the allowed share of the requests, in percent.
	SuccessRate float64 `json:"success_rate"`
	// KeysUsed24h counts the keys used in the last 24 hours.
	KeysUsed24h    int64           `json:"keys_used_24h"`
	TopKeys        []TopKey        `json:"top_keys,omitempty"`
	TopPaths       []TopPath       `json:"top_paths,omitempty"`
	BlockedReasons []BlockedReason `json:"blocked_reasons,omitempty"`
	RateLimitStats *RateLimitStats `json:"rate_limit_stats,omitempty"`
	// ShedEvents (keyportal's extension) counts the verifications not
	// recorded because its recorder was overloaded.
	ShedEvents int64 `json:"shed_events,omitempty"`
}

// TimeseriesQuery selects the window and the interval of AuditTimeseries.
type TimeseriesQuery struct {
	// Start and End bound the series; zero leaves it to the server
	// (keyportal: the 7 days before now).
	Start, End time.Time
	// Interval is one of the Interval constants; "" for the server's
	// default.
	Interval string
	// KeyID restricts the series to one key.
	KeyID string
}

// TimeseriesPoint is one interval of a Timeseries.
type TimeseriesPoint struct {
	Timestamp       time.Time `json:"timestamp"`
	TotalRequests   int64     `json:"total_requests"`
	AllowedRequests int64     `json:"allowed_requests"`
	BlockedRequests int64     `json:"blocked_requests"`
	SuccessRate     float64   `json:"success_rate"`
}

// UnmarshalJSON decodes a point, reading its timestamp leniently.
func (p *TimeseriesPoint) UnmarshalJSON(b []byte) error {
	type plain TimeseriesPoint
	aux := struct {
		*plain
		Timestamp wireTime `json:"timestamp"`
	}{plain: (*plain)(p)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	p.Timestamp = time.Time(aux.Timestamp)
	return nil
}

// Timeseries is an app's verified requests per interval, oldest first,
// empty intervals included.
type Timeseries struct {
	Points   []TimeseriesPoint `json:"data"`
	Interval string            `json:"interval"`
}

// window adds start_date and end_date to v, refusing a reversed window.
func window(v url.Values, what string, start, end time.Time) error {
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return &inputError{msg: what + ": End is before Start"}
	}
	if !start.IsZero() {
		v.Set("start_date", start.UTC().Format(time.RFC3339Nano))
	}
	if !end.IsZero() {
		v.Set("end_date", end.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// auditCall is the GET of an app's audit route rest with what every audit
// query may hold: the window and a key id. op names the method in refusals.
func auditCall(op, slug, rest string, start, end time.Time, keyID string) call {
	k := call{method: http.MethodGet, query: url.Values{}}.at(appPath(slug, rest))
	k = k.refuse(window(k.query, op, start, end))
	if keyID != "" {
		k.query.Set("key_id", keyID)
	}
	return k
}

// AuditAnalytics sums an app's verified requests
// (GET /api-auth/apps/{slug}/audit/analytics).
func (c *Client) AuditAnalytics(ctx context.Context, slug string, q AnalyticsQuery) (Analytics, error) {
	k := auditCall("AuditAnalytics", slug, "/audit/analytics", q.Start, q.End, q.KeyID)
	if q.TopLimit < 0 || q.TopLimit > MaxTopLimit {
		k = k.refuse(&inputError{msg: fmt.Sprintf("AuditAnalytics: TopLimit %d is outside 0..%d", q.TopLimit, MaxTopLimit)})
	}
	for name, on := range map[string]bool{"include_top_keys": q.TopKeys, "include_top_paths": q.TopPaths,
		"include_blocked_reasons": q.BlockedReasons, "include_rate_limits": q.RateLimits} {
		if on {
			k.query.Set(name, "true")
		}
	}
	if q.TopLimit > 0 {
		k.query.Set("top_limit", strconv.Itoa(q.TopLimit))
	}
	return fetch[Analytics](ctx, c, k)
}

// AuditTimeseries reads an app's verified requests per interval
// (GET /api-auth/apps/{slug}/audit/timeseries).
func (c *Client) AuditTimeseries(ctx context.Context, slug string, q TimeseriesQuery) (Timeseries, error) {
	k := auditCall("AuditTimeseries", slug, "/audit/timeseries", q.Start, q.End, q.KeyID)
	if q.Interval != "" && !slices.Contains(intervals, q.Interval) {
		k = k.refuse(&inputError{msg: fmt.Sprintf("AuditTimeseries: Interval %q is not one of %v", q.Interval, intervals)})
	}
	if q.Interval != "" {
		k.query.Set("interval", q.Interval)
	}
	return fetch[Timeseries](ctx, c, k)
}
