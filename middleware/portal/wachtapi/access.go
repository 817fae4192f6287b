package wachtapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/internal/clientip"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/wacht"
)

// The verification log in Wacht's shapes: GET /api-auth/apps/{slug}/audit/
// logs, /audit/analytics and /audit/timeseries, read from the store's
// audit.AccessReader, and the recording of every /v1/authz/check decision.
// The analytics and time series answer in the Wacht client's wire types
// (package wacht), so that server and client cannot drift apart.

// Limits of the analytics and time series parameters.
const (
	// DefaultTopLimit is the length of each top list when top_limit is
	// absent.
	DefaultTopLimit = 10
	// MaxTopLimit is the longest top list.
	MaxTopLimit = 50
	// DefaultSeriesWindow is the time series' window when start_date is
	// absent: the week before end_date.
	DefaultSeriesWindow = 7 * 24 * time.Hour
)

// noRateLimits is the rate_limits of every entry: null, as Wacht answers
// it.
var noRateLimits = json.RawMessage("null")

// accessLogJSON is one verification: Wacht's entry (wacht.AuditLog, the
// client's type, so that the two cannot drift apart) plus keyportal's
// method, latency_ms and organization_id.
type accessLogJSON struct {
	wacht.AuditLog
	Method         string  `json:"method"`
	LatencyMS      float64 `json:"latency_ms"`
	OrganizationID string  `json:"organization_id,omitempty"`
}

// logPageJSON is a page of log entries in Wacht's shape (ApiAuditLogs...):
// the verifications of /audit/logs and the events of /audit/events.
type logPageJSON[T any] struct {
	Data       []T    `json:"data"`
	Limit      int    `json:"limit"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// newLogPage is an empty page for n entries, continued by next ("" on the
// last page).
func newLogPage[T any](n, limit int, next string) logPageJSON[T] {
	return logPageJSON[T]{Data: make([]T, 0, n), Limit: limit, HasMore: next != "", NextCursor: next}
}

// accessApp returns the store's verification log and the app of the path's
// slug; without either it has answered (501, 404...) and returns false.
func (a *API) accessApp(c *gin.Context) (audit.AccessReader, keystore.App, bool) {
	if a.reader == nil {
		writeError(c, http.StatusNotImplemented, "this key store keeps no verification log")
		return nil, keystore.App{}, false
	}
	app, ok := a.loadApp(c, c.Param("slug"))
	return a.reader, app, ok
}

// window reads start_date and end_date; on failure it has answered 400.
func window(c *gin.Context) (start, end time.Time, ok bool) {
	if start, ok = parseTimeQuery(c, "start_date"); !ok {
		return
	}
	if end, ok = parseTimeQuery(c, "end_date"); !ok {
		return
	}
	if !start.IsZero() && !end.IsZero() && !end.After(start) {
		writeError(c, http.StatusBadRequest, "end_date must be after start_date")
		return start, end, false
	}
	return start, end, true
}

// parseTimeQuery reads an optional time or date parameter; on failure it
// has answered 400.
func parseTimeQuery(c *gin.Context, name string) (time.Time, bool) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, v); err != nil {
			writeError(c, http.StatusBadRequest, name+" must be an RFC 3339 time or a date (2006-01-02)")
			return time.Time{}, false
		}
	}
	return t, true
}

// logPageQuery reads what every page of log entries takes (/audit/logs,
// /audit/events): limit, the window, and no offset paging; on failure it
// has answered 400.
func logPageQuery(c *gin.Context) (limit int, start, end time.Time, ok bool) {
	if limit, ok = limitQuery(c, DefaultAuditLimit, MaxAuditLimit); !ok || !noOffset(c) {
		return 0, start, end, false
	}
	start, end, ok = window(c)
	return limit, start, end, ok
}

// noOffset refuses Wacht's offset paging, which keyportal replaces by
// cursors; on failure it has answered 400.
func noOffset(c *gin.Context) bool {
	for _, p := range []string{"offset", "cursor_ts", "cursor_id"} {
		if c.Query(p) != "" {
			writeError(c, http.StatusBadRequest, p+" is not supported: page with cursor (the next_cursor of the previous page)")
			return false
		}
	}
	return true
}

func (a *API) accessLogs(c *gin.Context) {
	limit, start, end, ok := logPageQuery(c)
	if !ok {
		return
	}
	outcome := c.Query("outcome")
	if outcome != "" && outcome != audit.AccessAllowed && outcome != audit.AccessBlocked {
		writeError(c, http.StatusBadRequest, `outcome must be "allowed" or "blocked"`)
		return
	}
	r, app, ok := a.accessApp(c)
	if !ok {
		return
	}
	page, err := r.QueryAccess(c.Request.Context(), audit.AccessQuery{
		AppSlug: app.Slug, Outcome: outcome, KeyID: c.Query("key_id"),
		Since: start, Until: end, Cursor: c.Query("cursor"), Limit: limit,
	})
	if err != nil {
		a.storeError(c, err, errText{notFound: appErrText.notFound, invalid: "invalid cursor: start again without one"})
		return
	}
	out := newLogPage[accessLogJSON](len(page.Events), limit, page.NextCursor)
	for _, e := range page.Events {
		out.Data = append(out.Data, accessLogJSON{
			AuditLog: wacht.AuditLog{
				RequestID: e.RequestID, DeploymentID: app.DeploymentID, AppSlug: e.AppSlug, KeyID: e.KeyID, KeyName: e.KeyName,
				Outcome: e.Outcome, BlockedByRule: e.BlockedRule, ClientIP: e.ClientIP, Path: e.Path, UserAgent: e.UserAgent,
				RateLimits: noRateLimits, Timestamp: e.Time.UTC(),
			},
			Method: e.Method, LatencyMS: float64(e.Latency.Microseconds()) / 1000, OrganizationID: e.Tenant,
		})
	}
	c.JSON(http.StatusOK, out)
}

func (a *API) accessAnalytics(c *gin.Context) {
	start, end, ok := window(c)
	if !ok {
		return
	}
	include := map[string]bool{}
	for _, p := range []string{"include_top_keys", "include_top_paths", "include_blocked_reasons", "include_rate_limits"} {
		if include[p], ok = boolQuery(c, p); !ok {
			return
		}
	}
	top := DefaultTopLimit
	if v := c.Query("top_limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxTopLimit {
			writeError(c, http.StatusBadRequest, fmt.Sprintf("top_limit must be 1..%d", MaxTopLimit))
			return
		}
		top = n
	}
	r, app, ok := a.accessApp(c)
	if !ok {
		return
	}
	q := audit.AnalyticsQuery{AppSlug: app.Slug, KeyID: c.Query("key_id"), Since: start, Until: end}
	if include["include_top_keys"] || include["include_top_paths"] || include["include_blocked_reasons"] || include["include_rate_limits"] {
		q.TopLimit = top
	}
	s, err := r.AccessAnalytics(c.Request.Context(), q)
	if err != nil {
		a.storeError(c, err, appErrText)
		return
	}
	out := wacht.Analytics{
		TotalRequests: s.Total, AllowedRequests: s.Allowed, BlockedRequests: s.Blocked,
		SuccessRate: audit.Percent(s.Allowed, s.Total), KeysUsed24h: s.KeysUsed24h, ShedEvents: s.Shed,
	}
	if include["include_top_keys"] {
		out.TopKeys = []wacht.TopKey{}
		for _, k := range s.TopKeys {
			out.TopKeys = append(out.TopKeys, wacht.TopKey{KeyID: k.Name, KeyName: k.Label, TotalRequests: k.Total})
		}
	}
	if include["include_top_paths"] {
		out.TopPaths = []wacht.TopPath{}
		for _, p := range s.TopPaths {
			out.TopPaths = append(out.TopPaths, wacht.TopPath{Path: p.Name, TotalRequests: p.Total})
		}
	}
	if include["include_blocked_reasons"] {
		out.BlockedReasons = []wacht.BlockedReason{}
		for _, b := range s.BlockedReasons {
			out.BlockedReasons = append(out.BlockedReasons, wacht.BlockedReason{BlockedByRule: b.Name, Count: b.Blocked, Percentage: audit.Percent(b.Blocked, s.Blocked)})
		}
	}
	if include["include_rate_limits"] {
		rl := &wacht.RateLimitStats{TotalHits: s.RateLimited, PercentageOfBlocked: audit.Percent(s.RateLimited, s.Blocked), TopRules: []wacht.RateLimitRule{}}
		for _, b := range s.RateLimitStats {
			rl.TopRules = append(rl.TopRules, wacht.RateLimitRule{Rule: b.Name, HitCount: b.Blocked, Percentage: audit.Percent(b.Blocked, s.RateLimited)})
		}
		out.RateLimitStats = rl
	}
	c.JSON(http.StatusOK, out)
}

// keySeries is the time series of one key, which the SQL stores offer
// beside audit.AccessReader.
type keySeries interface {
	AccessTimeseriesOfKey(ctx context.Context, app, key string, since, until time.Time, interval string) ([]audit.Bucket, error)
}

func (a *API) accessTimeseries(c *gin.Context) {
	start, end, ok := window(c)
	if !ok {
		return
	}
	interval := c.DefaultQuery("interval", audit.IntervalDay)
	switch interval {
	case audit.IntervalMinute, audit.IntervalHour, audit.IntervalDay, audit.IntervalWeek, audit.IntervalMonth:
	default:
		writeError(c, http.StatusBadRequest, "interval must be one of minute, hour, day, week, month")
		return
	}
	if end.IsZero() {
		end = a.now()
	}
	if start.IsZero() {
		start = end.Add(-DefaultSeriesWindow)
	}
	if !end.After(start) {
		writeError(c, http.StatusBadRequest, "end_date must be after start_date")
		return
	}
	r, app, ok := a.accessApp(c)
	if !ok {
		return
	}
	var buckets []audit.Bucket
	var err error
	if key := c.Query("key_id"); key != "" {
		ks, ok := r.(keySeries)
		if !ok {
			writeError(c, http.StatusBadRequest, "key_id is not supported by this key store's time series")
			return
		}
		buckets, err = ks.AccessTimeseriesOfKey(c.Request.Context(), app.Slug, key, start, end, interval)
	} else {
		buckets, err = r.AccessTimeseries(c.Request.Context(), app.Slug, start, end, interval)
	}
	if err != nil {
		a.storeError(c, err, appErrText)
		return
	}
	out := wacht.Timeseries{Points: make([]wacht.TimeseriesPoint, 0, len(buckets)), Interval: interval}
	for _, b := range buckets {
		out.Points = append(out.Points, wacht.TimeseriesPoint{Timestamp: b.Start.UTC(), TotalRequests: b.Total,
			AllowedRequests: b.Allowed, BlockedRequests: b.Blocked, SuccessRate: audit.Percent(b.Allowed, b.Total)})
	}
	c.JSON(http.StatusOK, out)
}

// recordCheck hands a /v1/authz/check decision to the verification log, at
// the API's clock (Config.Now):
// the method and path (resource) the caller asked about, the end user's
// address and user agent it reported (else the caller's), and the verdict.
func (a *API) recordCheck(c *gin.Context, start time.Time, req *checkRequest, resp *checkResponse, err error) {
	if a.access == nil {
		return
	}
	e := audit.Access{
		RequestID: resp.RequestID, Time: a.now(), Latency: time.Since(start), Outcome: audit.AccessAllowed,
		Method: strings.ToUpper(strings.TrimSpace(req.Method)), Path: req.Resource,
		ClientIP: strings.TrimSpace(req.ClientIP), UserAgent: req.UserAgent,
	}
	if e.ClientIP == "" {
		e.ClientIP = clientip.Of(c, &a.log)
	}
	if id := resp.Identity; id != nil {
		e.AppSlug, e.Tenant, e.KeyID, e.KeyName = id.AppSlug, id.OrganizationID, id.KeyID, id.KeyName
	}
	if !resp.Allowed {
		e.Outcome = audit.AccessBlocked
		switch {
		case resp.BlockedRule != nil:
			e.BlockedRule = *resp.BlockedRule
			e.RateLimited = resp.Reason != nil && *resp.Reason == "rate_limited"
		case err != nil && apikey.ReasonOf(err) != "":
			e.BlockedRule = string(apikey.ReasonOf(err))
		default:
			e.BlockedRule = "unavailable"
		}
	}
	a.access.RecordAccess(e)
}
