package wachtapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/audit/accesslog"
	"github.com/keyportal/keyportal/middleware/portal/wachtapi"
	"github.com/keyportal/keyportal/middleware/wacht"
)

// seedAccess writes verifications of the test app: per hour of the last
// day, 3 allowed of key "ci" on /v1/a, 1 blocked (revoked) on /v1/b, and
// every fourth hour 1 rate-limited of "ci".
func seedAccess(t *testing.T, w *world) (keyID string, allowed, blocked, limited int64) {
	t.Helper()
	k, _ := w.env.NewKey(t, "ci", []string{"deploy:read"}, nil)
	now := w.env.Clock.Now()
	var events []audit.Access
	for h := range 24 {
		at := now.Add(-time.Duration(h)*time.Hour - time.Minute)
		for range 3 {
			events = append(events, audit.Access{RequestID: fmt.Sprintf("req_%d", h), Time: at, AppSlug: apikeytest.AppSlug, Tenant: apikeytest.Tenant,
				KeyID: k.ID, KeyName: "ci", Outcome: audit.AccessAllowed, Method: "GET", Path: "/v1/a", ClientIP: "198.51.100.4", UserAgent: "sdk/1", Latency: 1500 * time.Microsecond})
			allowed++
		}
		events = append(events, audit.Access{Time: at, AppSlug: apikeytest.AppSlug, Outcome: audit.AccessBlocked, BlockedRule: "revoked", Method: "GET", Path: "/v1/b"})
		blocked++
		if h%4 == 0 {
			events = append(events, audit.Access{Time: at, AppSlug: apikeytest.AppSlug, KeyID: k.ID, KeyName: "ci", Outcome: audit.AccessBlocked,
				BlockedRule: "100/1m0s/key", RateLimited: true, Method: "POST", Path: "/v1/a"})
			blocked++
			limited++
		}
	}
	if err := w.env.Store.(audit.AccessWriter).WriteAccess(context.Background(), events, nil); err != nil {
		t.Fatal(err)
	}
	return k.ID, allowed, blocked, limited
}

func (w *world) getJSON(t *testing.T, path string, into any) {
	t.Helper()
	status, body, _ := w.do("GET", path, "Bearer "+backendKey, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal(body, into); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

func TestAuditLogsAreVerifications(t *testing.T) {
	w := newWorld(t)
	keyID, allowed, blocked, _ := seedAccess(t, w)
	base := "/api-auth/apps/" + apikeytest.AppSlug + "/audit/logs"
	type page struct {
		Data       []map[string]any `json:"data"`
		Limit      int              `json:"limit"`
		HasMore    bool             `json:"has_more"`
		NextCursor string           `json:"next_cursor"`
	}
	var seen, pages int
	cursor := ""
	for {
		var p page
		w.getJSON(t, base+"?limit=40&cursor="+cursor, &p)
		seen += len(p.Data)
		pages++
		if p.Limit != 40 || p.HasMore != (p.NextCursor != "") {
			t.Fatalf("page %d: limit %d, has_more %v, next_cursor %q", pages, p.Limit, p.HasMore, p.NextCursor)
		}
		if !p.HasMore {
			break
		}
		cursor = p.NextCursor
	}
	if int64(seen) != allowed+blocked || pages != 3 {
		t.Fatalf("paged %d events in %d pages, want %d in 3", seen, pages, allowed+blocked)
	}

	var p page
	w.getJSON(t, base+"?outcome=allowed&key_id="+keyID+"&limit=1", &p)
	want := map[string]any{"request_id": "req_0", "deployment_id": "42", "app_slug": apikeytest.AppSlug, "key_id": keyID, "key_name": "ci",
		"outcome": "allowed", "client_ip": "198.51.100.4", "path": "/v1/a", "user_agent": "sdk/1", "method": "GET", "latency_ms": 1.5,
		"organization_id": apikeytest.Tenant, "timestamp": w.env.Clock.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}
	if len(p.Data) != 1 {
		t.Fatalf("outcome=allowed&key_id: %+v", p)
	}
	for k, v := range want {
		if fmt.Sprint(p.Data[0][k]) != fmt.Sprint(v) {
			t.Fatalf("log entry %s = %v, want %v (entry %v)", k, p.Data[0][k], v, p.Data[0])
		}
	}
	if _, ok := p.Data[0]["blocked_by_rule"]; ok {
		t.Fatalf("an allowed entry has blocked_by_rule: %v", p.Data[0])
	}
	w.getJSON(t, base+"?outcome=blocked&limit=1000", &p)
	if int64(len(p.Data)) != blocked || p.Data[0]["blocked_by_rule"] == nil {
		t.Fatalf("outcome=blocked: %d entries, want %d, each with blocked_by_rule: %v", len(p.Data), blocked, p.Data[0])
	}
	w.getJSON(t, base+"?start_date="+w.env.Clock.Now().Add(-150*time.Minute).Format(time.RFC3339), &p)
	if len(p.Data) != 3*(3+1)+1 {
		t.Fatalf("start_date 2.5 h ago: %d entries, want 13", len(p.Data))
	}
}

func TestAuditAnalytics(t *testing.T) {
	w := newWorld(t)
	keyID, allowed, blocked, limited := seedAccess(t, w)
	var a struct {
		Total       int64   `json:"total_requests"`
		Allowed     int64   `json:"allowed_requests"`
		Blocked     int64   `json:"blocked_requests"`
		SuccessRate float64 `json:"success_rate"`
		KeysUsed24h int64   `json:"keys_used_24h"`
		TopKeys     []struct {
			KeyID         string `json:"key_id"`
			KeyName       string `json:"key_name"`
			TotalRequests int64  `json:"total_requests"`
		} `json:"top_keys"`
		TopPaths []struct {
			Path          string
			TotalRequests int64 `json:"total_requests"`
		} `json:"top_paths"`
		BlockedReasons []struct {
			Rule       string  `json:"blocked_by_rule"`
			Count      int64   `json:"count"`
			Percentage float64 `json:"percentage"`
		} `json:"blocked_reasons"`
		RateLimitStats *struct {
			TotalHits int64 `json:"total_hits"`
			TopRules  []struct {
				Rule     string `json:"rule"`
				HitCount int64  `json:"hit_count"`
			} `json:"top_rules"`
		} `json:"rate_limit_stats"`
	}
	base := "/api-auth/apps/" + apikeytest.AppSlug + "/audit/analytics"
	w.getJSON(t, base, &a)
	if a.Total != allowed+blocked || a.Allowed != allowed || a.Blocked != blocked || a.KeysUsed24h != 1 || a.TopKeys != nil || a.RateLimitStats != nil {
		t.Fatalf("analytics %+v, want %d allowed, %d blocked, 1 key used, no top lists", a, allowed, blocked)
	}
	if want := float64(allowed*10000/(allowed+blocked)) / 100; a.SuccessRate != want {
		t.Fatalf("success_rate %v, want %v", a.SuccessRate, want)
	}
	w.getJSON(t, base+"?include_top_keys=true&include_top_paths=true&include_blocked_reasons=true&include_rate_limits=true&top_limit=1", &a)
	if len(a.TopKeys) != 1 || a.TopKeys[0].TotalRequests != allowed+limited || len(a.TopPaths) != 1 || a.TopPaths[0].Path != "/v1/a" ||
		len(a.BlockedReasons) != 1 || a.BlockedReasons[0].Rule != "revoked" || a.BlockedReasons[0].Count != 24 ||
		a.RateLimitStats == nil || a.RateLimitStats.TotalHits != limited || a.RateLimitStats.TopRules[0].Rule != "100/1m0s/key" {
		t.Fatalf("top lists: %+v", a)
	}
	if a.TopKeys[0].KeyID != keyID {
		t.Fatalf("top key %+v, want %s", a.TopKeys[0], keyID)
	}
}

func TestAuditTimeseries(t *testing.T) {
	w := newWorld(t)
	keyID, allowed, blocked, limited := seedAccess(t, w)
	var s struct {
		Data []struct {
			Timestamp time.Time `json:"timestamp"`
			Total     int64     `json:"total_requests"`
			Allowed   int64     `json:"allowed_requests"`
			Blocked   int64     `json:"blocked_requests"`
			Rate      float64   `json:"success_rate"`
		} `json:"data"`
		Interval string `json:"interval"`
	}
	now := w.env.Clock.Now()
	path := "/api-auth/apps/" + apikeytest.AppSlug + "/audit/timeseries?interval=hour&start_date=" +
		now.Add(-48*time.Hour).Format(time.RFC3339) + "&end_date=" + now.Format(time.RFC3339)
	w.getJSON(t, path, &s)
	var total, empty int64
	for _, p := range s.Data {
		total += p.Total
		if p.Total == 0 {
			empty++
		}
		if p.Total != p.Allowed+p.Blocked {
			t.Fatalf("point %+v does not add up", p)
		}
	}
	if s.Interval != "hour" || len(s.Data) < 48 || total != allowed+blocked || empty < 24 {
		t.Fatalf("hourly series: interval %q, %d points (%d empty) summing to %d, want ≥ 48 points, ≥ 24 empty, summing to %d", s.Interval, len(s.Data), empty, total, allowed+blocked)
	}
	w.getJSON(t, path+"&key_id="+keyID, &s)
	total = 0
	for _, p := range s.Data {
		total += p.Total
	}
	if total != allowed+limited {
		t.Fatalf("the key's hourly series sums to %d, want its %d requests", total, allowed+limited)
	}
	w.getJSON(t, strings.Replace(path, "interval=hour", "interval=week", 1), &s)
	if len(s.Data) == 0 || s.Data[0].Timestamp.Weekday() != time.Monday || s.Interval != "week" {
		t.Fatalf("weekly series %+v", s)
	}
}

func TestAuditBadParams(t *testing.T) {
	w := newWorld(t)
	base := "/api-auth/apps/" + apikeytest.AppSlug + "/audit/"
	for _, tc := range []struct{ name, path, msg string }{
		{"logs: limit 0", "logs?limit=0", "limit must be 1..1000"},
		{"logs: limit 1001", "logs?limit=1001", "limit must be 1..1000"},
		{"logs: outcome", "logs?outcome=maybe", `outcome must be \"allowed\" or \"blocked\"`},
		{"logs: cursor", "logs?cursor=bm9wZQ", "invalid cursor"},
		{"logs: offset", "logs?offset=10", "offset is not supported"},
		{"events: offset", "events?offset=10", "offset is not supported"},
		{"events: cursor_ts", "events?cursor_ts=2026-01-01T00:00:00Z", "cursor_ts is not supported"},
		{"logs: date", "logs?start_date=yesterday", "start_date must be an RFC 3339 time"},
		{"logs: reversed", "logs?start_date=2026-01-02&end_date=2026-01-01", "end_date must be after start_date"},
		{"analytics: top_limit", "analytics?top_limit=51", "top_limit must be 1..50"},
		{"analytics: include", "analytics?include_top_keys=maybe", "include_top_keys must be true or false"},
		{"timeseries: interval", "timeseries?interval=fortnight", "interval must be one of minute, hour, day, week, month"},
		{"timeseries: too many", "timeseries?interval=minute&start_date=2020-01-01&end_date=2026-01-01", "more than 50000 minute buckets"},
	} {
		status, body, _ := w.do("GET", base+tc.path, "Bearer "+backendKey, nil)
		if status != http.StatusBadRequest || !strings.Contains(string(body), tc.msg) {
			t.Errorf("%s: %d %s, want 400 saying %q", tc.name, status, body, tc.msg)
		}
	}
	for _, p := range []string{"logs", "analytics", "timeseries"} {
		if status, _, _ := w.do("GET", "/api-auth/apps/aa_404/audit/"+p, "Bearer "+backendKey, nil); status != http.StatusNotFound {
			t.Errorf("%s of an unknown app: %d, want 404", p, status)
		}
		if status, _, _ := w.do("GET", base+p, "", nil); status != http.StatusUnauthorized {
			t.Errorf("%s without the backend key: %d, want 401", p, status)
		}
	}
}

// Every /v1/authz/check decision is recorded, with the method and path the
// caller asked about and the end user it reported.
func TestCheckIsRecorded(t *testing.T) {
	var rec *accesslog.Recorder
	w := newWorld(t, func(c *wachtapi.Config) {
		var err error
		if rec, err = accesslog.New(c.Store.(audit.AccessWriter), accesslog.Config{}); err != nil {
			t.Fatal(err)
		}
		c.AccessLog = rec
	})
	defer rec.Close(context.Background())
	k, secret := w.env.NewKey(t, "ci", []string{"deploy:read"}, nil)
	check := func(secret string, perms ...string) {
		t.Helper()
		body := map[string]any{"principal": map[string]string{"type": "api_key", "value": secret}, "resource": "/v1/deploys",
			"method": "post", "client_ip": "203.0.113.50", "user_agent": "end-user/2", "required_permissions": perms}
		w.do("POST", "/v1/authz/check", "Bearer "+backendKey, body)
	}
	check(secret)
	check(secret, "deploy:write")
	check(apikeytest.KeyPrefix + "_" + strings.Repeat("A", 43))
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	page, err := w.env.Store.(audit.AccessReader).QueryAccess(context.Background(), audit.AccessQuery{})
	if err != nil || len(page.Events) != 3 {
		t.Fatalf("%d events recorded (%v), want 3", len(page.Events), err)
	}
	rules := map[string]audit.Access{}
	for _, e := range page.Events {
		rules[e.Outcome+":"+e.BlockedRule] = e
	}
	ok := rules["allowed:"]
	if ok.KeyID != k.ID || ok.Method != "POST" || ok.Path != "/v1/deploys" || ok.ClientIP != "203.0.113.50" || ok.UserAgent != "end-user/2" || !strings.HasPrefix(ok.RequestID, "req_") {
		t.Fatalf("allowed check recorded as %+v", ok)
	}
	if e, found := rules["blocked:permission_denied"]; !found || e.KeyID != k.ID {
		t.Fatalf("no permission_denied event of the key: %+v", page.Events)
	}
	if _, found := rules["blocked:unknown"]; !found {
		t.Fatalf("no event for the unknown key: %+v", page.Events)
	}
}

// middleware/wacht's client reads keyportal's verification log as Wacht's.
func TestWachtClientReadsAccess(t *testing.T) {
	w := newWorld(t)
	keyID, allowed, blocked, _ := seedAccess(t, w)
	c := w.client(t, backendKey)
	ctx := context.Background()
	a, err := c.AuditAnalytics(ctx, apikeytest.AppSlug, wacht.AnalyticsQuery{TopKeys: true, RateLimits: true})
	if err != nil || a.TotalRequests != allowed+blocked || len(a.TopKeys) != 1 || a.TopKeys[0].KeyID != keyID || a.RateLimitStats == nil {
		t.Fatalf("AuditAnalytics = %+v, %v", a, err)
	}
	s, err := c.AuditTimeseries(ctx, apikeytest.AppSlug, wacht.TimeseriesQuery{Interval: wacht.IntervalDay})
	if err != nil || len(s.Points) != 8 {
		t.Fatalf("AuditTimeseries = %+v, %v; want 8 daily points (7 days back from now)", s, err)
	}
	page, err := c.AuditLogs(ctx, apikeytest.AppSlug, wacht.AuditQuery{Outcome: wacht.OutcomeBlocked, Limit: 1000})
	if err != nil || int64(len(page.Logs)) != blocked || page.Logs[0].BlockedByRule == "" {
		t.Fatalf("AuditLogs = %+v, %v", page, err)
	}
}
