package portal

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// seedAccess records n verifications of app on day (UTC, from 01:00, one a
// minute), allowed ones by key k1/"billing worker" and blocked ones by
// k2/"old key" with reason key_revoked.
func seedAccess(f *fakeAccess, app string, day time.Time, allowed, blocked int) {
	t := day.Add(time.Hour)
	for i := range allowed + blocked {
		e := audit.Access{
			AppSlug: app, Time: t.Add(time.Duration(i) * time.Minute), Outcome: audit.AccessAllowed,
			KeyID: "k1-" + app, KeyName: "billing worker", Method: "GET", Path: fmt.Sprintf("/v1/orders/%d", i),
			ClientIP: "203.0.113.9", UserAgent: "curl/8",
		}
		if i >= allowed {
			e.Outcome, e.BlockedRule, e.KeyID, e.KeyName, e.Method = audit.AccessBlocked, "key_revoked", "k2-"+app, "old key", "POST"
		}
		f.add(e)
	}
}

type overviewBody struct {
	overviewView
	Error apiError `json:"error"`
}

type accessBody struct {
	Recorded   bool         `json:"recorded"`
	Events     []accessView `json:"events"`
	NextCursor string       `json:"next_cursor"`
	Error      apiError     `json:"error"`
}

// getAPI GETs the page API's path with the session and returns the status
// and the decoded body.
func getAPI[T any](e *env, path, sess, query string) (int, T) {
	e.t.Helper()
	var out T
	res := e.do("GET", PagePath+"/api/"+path+query, sess, "", "", &out)
	return res.StatusCode, out
}

func (e *env) overview(sess, query string) (int, overviewBody) {
	return getAPI[overviewBody](e, "overview", sess, query)
}

func (e *env) accessLog(sess, query string) (int, accessBody) {
	return getAPI[accessBody](e, "access", sess, query)
}

// newUsageEnv is a portal whose verification log is a fake on the test
// clock, with app aa_42 of tenant acme and alice's session for it.
func newUsageEnv(t *testing.T) (*env, *fakeAccess, string) {
	f := newFakeAccess(nil)
	e := newEnv(t, envOptions{access: f})
	f.now = e.clock.Now
	e.app("aa_42", "acme", originA)
	return e, f, e.session("aa_42", "acme", "alice", originA)
}

// day is a day of the test clock's month (the clock starts 2026-11-26 12:00 UTC).
func day(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }

func TestOverviewCountsTheRecordedEvents(t *testing.T) {
	e, f, sess := newUsageEnv(t)

	seedAccess(f, "aa_42", day(19), 50, 50) // before the default range
	seedAccess(f, "aa_42", day(20), 3, 1)
	seedAccess(f, "aa_42", day(23), 7, 0)
	seedAccess(f, "aa_42", day(26), 4, 2) // today, before noon
	seedAccess(f, "bb_7", day(26), 9, 9)  // another app
	f.shed["aa_42"] = 3

	code, ov := e.overview(sess, "")
	if code != 200 {
		t.Fatalf("overview: %d %+v", code, ov.Error)
	}
	if !ov.Recorded || ov.From != "2026-11-20" || ov.To != "2026-11-26" {
		t.Fatalf("default range %s..%s recorded=%v, want the last 7 days", ov.From, ov.To, ov.Recorded)
	}
	if ov.Total != 17 || ov.Allowed != 14 || ov.Blocked != 3 || ov.Shed != 3 || ov.KeysUsed24h != 1 {
		t.Fatalf("totals %+v, want 17 = 14 allowed + 3 blocked, 3 shed, 1 key used", ov.overviewView)
	}
	want := map[string][2]int64{"2026-11-20": {3, 1}, "2026-11-23": {7, 0}, "2026-11-26": {4, 2}}
	if len(ov.Days) != 7 {
		t.Fatalf("%d days, want 7 bars: %+v", len(ov.Days), ov.Days)
	}
	for i, d := range ov.Days {
		if d.Date != day(20+i).Format(dayLayout) || [2]int64{d.Allowed, d.Blocked} != want[d.Date] {
			t.Fatalf("day %d is %+v, want %s %v", i, d, day(20+i).Format(dayLayout), want[d.Date])
		}
	}
	if len(ov.Reasons) != 1 || ov.Reasons[0] != (reasonView{Name: "key_revoked", Blocked: 3}) {
		t.Fatalf("blocked reasons %+v", ov.Reasons)
	}
	// The store lists no rate limits: rules unknown, not "none".
	if ov.Rules != nil || ov.Scheme != "" {
		t.Fatalf("rate limits %q %+v from a store that has none", ov.Scheme, ov.Rules)
	}

	// An explicit range.
	if code, ov = e.overview(sess, "?from=2026-11-19&to=2026-11-19"); code != 200 || ov.Total != 100 || len(ov.Days) != 1 || ov.Days[0].Allowed != 50 {
		t.Fatalf("one day: %d %+v", code, ov.overviewView)
	}
}

// TestUsageIsScopedToTheSessionsApp attacks the scoping: a session for app A
// asks, every way it can, for app B's verifications.
func TestUsageIsScopedToTheSessionsApp(t *testing.T) {
	e, f, a := newUsageEnv(t)
	e.app("bb_7", "globex", originB)
	b := e.session("bb_7", "globex", "mallory", originB)
	seedAccess(f, "aa_42", day(25), 2, 1)
	seedAccess(f, "bb_7", day(25), 40, 20)

	for _, q := range []string{"", "?app=bb_7", "?app_slug=bb_7&AppSlug=bb_7", "?outcome=blocked&app=bb_7"} {
		code, log := e.accessLog(b, q)
		if code != 200 {
			t.Fatalf("%s: %d %+v", q, code, log.Error)
		}
		for _, ev := range log.Events {
			if !strings.HasSuffix(ev.KeyID, "-bb_7") {
				t.Fatalf("B's session %q read another app's event %+v", q, ev)
			}
		}
		code, log = e.accessLog(a, q)
		if code != 200 || len(log.Events) == 0 {
			t.Fatalf("%s: %d %+v", q, code, log)
		}
		for _, ev := range log.Events {
			if !strings.HasSuffix(ev.KeyID, "-aa_42") {
				t.Fatalf("A's session with %q read B's event %+v", q, ev)
			}
		}
		if _, ov := e.overview(a, q); ov.Total > 3 {
			t.Fatalf("A's overview with %q counts %d requests, A has 3", q, ov.Total)
		}
	}
	// B's cursor, replayed by A, pages A's events only.
	_, bl := e.accessLog(b, "")
	if bl.NextCursor == "" {
		t.Fatal("B's log has one page only; the test needs two")
	}
	if code, log := e.accessLog(a, "?cursor="+bl.NextCursor); code != 200 || len(log.Events) != 0 {
		t.Fatalf("A with B's cursor: %d %+v", code, log.Events)
	}
	// Without a session, or across sites, nothing.
	if code, _ := e.accessLog("", ""); code != http.StatusUnauthorized {
		t.Fatalf("no session: %d", code)
	}
	if code, _ := e.overview("kps1.forged", ""); code != http.StatusUnauthorized {
		t.Fatalf("forged session: %d", code)
	}
}

func TestAccessLogsPageFilterAndRange(t *testing.T) {
	e, f, sess := newUsageEnv(t)
	seedAccess(f, "aa_42", day(24), 20, 10)
	seedAccess(f, "aa_42", day(25), 25, 5)
	seedAccess(f, "aa_42", day(10), 1, 0) // outside the default range

	var all []accessView
	cursor, pages := "", 0
	for {
		code, log := e.accessLog(sess, "?cursor="+cursor)
		if code != 200 || !log.Recorded {
			t.Fatalf("page %d: %d %+v", pages, code, log)
		}
		pages++
		if log.NextCursor != "" && len(log.Events) != accessPageSize {
			t.Fatalf("page %d holds %d events, want %d", pages, len(log.Events), accessPageSize)
		}
		all = append(all, log.Events...)
		if cursor = log.NextCursor; cursor == "" {
			break
		}
	}
	if pages != 3 || len(all) != 60 {
		t.Fatalf("%d pages, %d events; want 3 pages of the 60 events in range", pages, len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Time.After(all[i-1].Time) {
			t.Fatalf("event %d is newer than the one before it", i)
		}
	}
	if all[0].Path != "/v1/orders/29" || all[0].Outcome != audit.AccessBlocked || all[0].BlockedRule != "key_revoked" || all[0].KeyName != "old key" || all[0].Method != "POST" {
		t.Fatalf("newest event %+v", all[0])
	}

	_, blocked := e.accessLog(sess, "?outcome=blocked")
	_, allowed := e.accessLog(sess, "?outcome=allowed&from=2026-11-25&to=2026-11-25")
	if len(blocked.Events) != 15 || blocked.NextCursor != "" || len(allowed.Events) != 25 || allowed.NextCursor != "" {
		t.Fatalf("blocked: %d (cursor %q), allowed on the 25th: %d (cursor %q)", len(blocked.Events), blocked.NextCursor, len(allowed.Events), allowed.NextCursor)
	}
	for _, ev := range blocked.Events {
		if ev.Outcome != audit.AccessBlocked {
			t.Fatalf("the blocked filter let through %+v", ev)
		}
	}
	for _, ev := range allowed.Events {
		if ev.Outcome != audit.AccessAllowed || !ev.Time.Truncate(24*time.Hour).Equal(day(25)) {
			t.Fatalf("the allowed filter on the 25th let through %+v", ev)
		}
	}
	// The client's IP and user agent stay out of the page.
	res := e.do("GET", PagePath+"/api/access", sess, "", "", nil)
	if body, _ := io.ReadAll(res.Body); strings.Contains(string(body), "203.0.113.9") || strings.Contains(string(body), "curl/8") {
		t.Fatalf("the page's log carries the client's IP or user agent: %s", body)
	}
}

func TestUsageParamsAreValidated(t *testing.T) {
	e, f, sess := newUsageEnv(t)
	for _, c := range []struct{ path, query, message string }{
		{"overview", "?from=2026-13-01", "from must be a date written YYYY-MM-DD"},
		{"overview", "?to=26.11.2026", "to must be a date written YYYY-MM-DD"},
		{"access", "?from=2026-11-27&to=2026-11-26", "from must not be after to"},
		{"overview", "?from=2026-01-01&to=2026-11-26", "the range must be at most 92 days"},
		{"access", "?outcome=denied", "outcome must be all, allowed or blocked"},
		{"access", "?cursor=" + strings.Repeat("x", 513), "cursor is not one this API gave"},
		{"access", "?cursor=garbage", "bad cursor"}, // the reader's own refusal
	} {
		var out errBody
		res := e.do("GET", PagePath+"/api/"+c.path+c.query, sess, "", "", &out)
		if res.StatusCode != http.StatusBadRequest || out.Error.Code != "bad_request" || !strings.Contains(out.Error.Message, c.message) {
			t.Errorf("%s%s: %d %+v, want 400 %q", c.path, c.query, res.StatusCode, out.Error, c.message)
		}
	}
	if code, ov := e.overview(sess, "?from=2026-08-27&to=2026-11-26"); code != 200 || len(ov.Days) != maxRangeDays {
		t.Fatalf("a %d-day range: %d, %d days", maxRangeDays, code, len(ov.Days))
	}

	// A reader that fails: 503 with the portal's message, the detail logged.
	f.err = errors.New("disk on fire")
	for _, path := range []string{"overview", "access"} {
		var out errBody
		if res := e.do("GET", PagePath+"/api/"+path, sess, "", "", &out); res.StatusCode != http.StatusServiceUnavailable || strings.Contains(out.Error.Message, "fire") {
			t.Fatalf("%s with a failing reader: %d %+v", path, res.StatusCode, out.Error)
		}
	}
}

// TestUsageNotRecordedAndRateLimits: without an AccessReader both tabs say
// usage is not recorded; a store that lists rate limits has them shown, and a
// store that is an AccessReader is used as one.
func TestUsageNotRecordedAndRateLimits(t *testing.T) {
	rules := map[string][]ratelimit.Rule{"aa_42": {{Max: 100, Per: time.Minute}, {Max: 5000, Per: 24 * time.Hour, Scope: ratelimit.ScopeApp}}}
	e := newEnv(t, envOptions{wrapStore: func(st keystore.Store) keystore.Store {
		return storeWithLimits{Store: bareStore(st), rules: rules}
	}})
	e.standardScheme()
	if _, err := e.store.CreateApp(t.Context(), keystore.App{
		Slug: "aa_42", Name: "App aa_42", KeyPrefix: "kp_aa_42", Tenant: "acme", AllowedOrigins: []string{originA},
		RateLimitSchemeSlug: "standard",
	}, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	sess := e.session("aa_42", "acme", "alice", originA)
	code, ov := e.overview(sess, "")
	if code != 200 || ov.Recorded || ov.Total != 0 || len(ov.Days) != 0 {
		t.Fatalf("overview without a reader: %d %+v", code, ov.overviewView)
	}
	want := []ruleView{{Max: 100, PerMS: 60_000, Scope: ratelimit.ScopeKey}, {Max: 5000, PerMS: 86_400_000, Scope: ratelimit.ScopeApp}}
	if ov.Scheme != "standard" || fmt.Sprint(ov.Rules) != fmt.Sprint(want) {
		t.Fatalf("rate limits %q %+v, want standard %+v", ov.Scheme, ov.Rules, want)
	}
	if code, log := e.accessLog(sess, "?outcome=blocked"); code != 200 || log.Recorded || len(log.Events) != 0 {
		t.Fatalf("access log without a reader: %d %+v", code, log)
	}
	// Params are still checked.
	if code, _ := e.accessLog(sess, "?outcome=nope"); code != http.StatusBadRequest {
		t.Fatalf("bad outcome without a reader: %d", code)
	}

	// A Store that is an AccessReader is the default Config.Access.
	f := newFakeAccess(time.Now)
	e2 := newEnv(t, envOptions{wrapStore: func(st keystore.Store) keystore.Store {
		return struct {
			keystore.Store
			*fakeAccess
		}{bareStore(st), f}
	}})
	e2.app("aa_42", "acme", originA)
	seedAccess(f, "aa_42", day(26), 1, 1)
	if code, ov := e2.overview(e2.session("aa_42", "acme", "alice", originA), ""); code != 200 || !ov.Recorded || ov.Total != 2 {
		t.Fatalf("the store as reader: %d %+v", code, ov.overviewView)
	}
}
