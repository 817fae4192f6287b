package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
)

// accessStore is what a driver offers of the verification log.
type accessStore interface {
	keystore.Store
	audit.AccessWriter
	audit.AccessReader
	PruneAccess(ctx context.Context) (int64, error)
}

func openAccess(t *testing.T, open Opener, opts keystore.Options) accessStore {
	t.Helper()
	s, ok := open(t, opts).(accessStore)
	if !ok {
		t.Fatalf("the store is not an audit.AccessWriter and AccessReader with PruneAccess")
	}
	return s
}

// accessLog runs the verification log's contract.
func accessLog(t *testing.T, open Opener) {
	t.Run("Paging", func(t *testing.T) { accessPaging(t, open) })
	t.Run("SumsEqualEvents", func(t *testing.T) { accessSums(t, open) })
	t.Run("Retention", func(t *testing.T) { accessRetention(t, open) })
}

// accessPaging: events come back newest first, filtered, paged by cursor
// without loss or repeat (also among equal times), with their fields.
func accessPaging(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := newFakeClock()
	s := openAccess(t, open, keystore.Options{Now: clock.Now})
	base := clock.Now()
	var events []audit.Access
	for i := range 25 {
		e := audit.Access{
			RequestID: fmt.Sprintf("req_%02d", i), Time: base.Add(time.Duration(i/2) * time.Second), Latency: time.Millisecond,
			AppSlug: "aa_1", Tenant: "acme", KeyID: fmt.Sprintf("key_%d", i%3), KeyName: "ci", Outcome: audit.AccessAllowed,
			Method: "GET", Path: "/v1/things", ClientIP: "203.0.113.7", UserAgent: "curl/8",
		}
		if i%4 == 0 {
			e.Outcome, e.BlockedRule = audit.AccessBlocked, "revoked"
		}
		events = append(events, e)
	}
	// Another app's events never show.
	events = append(events, audit.Access{AppSlug: "aa_2", Outcome: audit.AccessAllowed, Time: base})
	if err := s.WriteAccess(ctx, events, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, err := s.QueryAccess(ctx, audit.AccessQuery{AppSlug: "aa_1", Limit: 4, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			got = append(got, e.RequestID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(got) != 25 {
		t.Fatalf("paged %d events of aa_1, want 25: %v", len(got), got)
	}
	seen := map[string]bool{}
	for i, id := range got {
		if seen[id] {
			t.Fatalf("event %s listed twice", id)
		}
		seen[id] = true
		if i > 0 {
			var a, b int
			fmt.Sscanf(id, "req_%d", &a)
			fmt.Sscanf(got[i-1], "req_%d", &b)
			if a/2 > b/2 { // the event i happened at second i/2
				t.Fatalf("not newest first: %v", got)
			}
		}
	}
	page, err := s.QueryAccess(ctx, audit.AccessQuery{AppSlug: "aa_1", Outcome: audit.AccessBlocked, KeyID: "key_0"})
	if err != nil {
		t.Fatal(err)
	}
	// Blocked are i%4==0; key_0 is i%3==0: i = 0, 12, 24.
	if len(page.Events) != 3 || page.NextCursor != "" {
		t.Fatalf("blocked events of key_0: %+v", page)
	}
	e := page.Events[0]
	if e.RequestID != "req_24" || e.BlockedRule != "revoked" || e.Tenant != "acme" || e.KeyName != "ci" || e.Method != "GET" ||
		e.Path != "/v1/things" || e.ClientIP != "203.0.113.7" || e.UserAgent != "curl/8" || e.Latency != time.Millisecond ||
		!e.Time.Equal(base.Add(12*time.Second)) {
		t.Fatalf("stored event %+v does not hold what was written", e)
	}
	// Bounds past the range of stored times (int64 unix ns: 1678-2262)
	// select as far as any stored time, not a wrapped-round window.
	early, late := time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	if page, err := s.QueryAccess(ctx, audit.AccessQuery{AppSlug: "aa_1", Since: early, Until: late, Limit: 100}); err != nil || len(page.Events) != 25 {
		t.Fatalf("events from year 1000 to 9999: %d, %v; want 25", len(page.Events), err)
	}
	if a, err := s.AccessAnalytics(ctx, audit.AnalyticsQuery{AppSlug: "aa_1", Since: early, Until: late}); err != nil || a.Total != 25 {
		t.Fatalf("analytics from year 1000 to 9999: %+v, %v; want 25 requests", a, err)
	}
	_, err = s.QueryAccess(ctx, audit.AccessQuery{AppSlug: "aa_1", Outcome: "maybe"})
	WantErr(t, "unknown outcome", err, keystore.ErrInvalid)
	_, err = s.QueryAccess(ctx, audit.AccessQuery{AppSlug: "aa_1", Cursor: "bm9wZQ"})
	WantErr(t, "forged cursor", err, keystore.ErrInvalid)
	_, err = s.AccessTimeseries(ctx, "aa_1", base, base.Add(time.Hour), "fortnight")
	WantErr(t, "unknown interval", err, keystore.ErrInvalid)
	_, err = s.AccessTimeseries(ctx, "aa_1", base, base.Add(-time.Hour), audit.IntervalHour)
	WantErr(t, "reversed window", err, keystore.ErrInvalid)
}

// accessSums: for random events, random windows (not aligned to minutes)
// and every interval, the sums, top lists and time series equal a count of
// the raw events.
func accessSums(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := newFakeClock()
	s := openAccess(t, open, keystore.Options{Now: clock.Now})
	rng := rand.New(rand.NewPCG(16, 1))
	start := clock.Now().Add(-40 * 24 * time.Hour)
	span := int64(45 * 24 * time.Hour)
	keys := []string{"key_a", "key_b", "key_c", "key_d", ""}
	paths := []string{"/v1/a", "/v1/b", "/v1/c"}
	rules := []string{"revoked", "unknown", "100/1m0s/key", "permission_denied"}
	var events []audit.Access
	for range 3000 {
		e := audit.Access{
			AppSlug: "aa_1", Time: start.Add(time.Duration(rng.Int64N(span))),
			KeyID: keys[rng.IntN(len(keys))], Path: paths[rng.IntN(len(paths))], Outcome: audit.AccessAllowed,
		}
		if e.KeyID != "" {
			e.KeyName = "name of " + e.KeyID
		}
		if e.KeyID == "" || rng.IntN(3) == 0 {
			e.Outcome = audit.AccessBlocked
			e.BlockedRule = rules[rng.IntN(len(rules))]
			e.RateLimited = e.BlockedRule == "100/1m0s/key"
		}
		if rng.IntN(10) == 0 {
			e.AppSlug = "aa_other"
		}
		events = append(events, e)
	}
	for i := 0; i < len(events); i += 700 { // several batches, as a recorder writes
		if err := s.WriteAccess(ctx, events[i:min(i+700, len(events))], nil); err != nil {
			t.Fatal(err)
		}
	}
	shedAt := clock.Now().Add(-time.Hour)
	if err := s.WriteAccess(ctx, nil, []audit.Shed{{AppSlug: "aa_1", Minute: shedAt, Count: 7}, {AppSlug: "aa_1", Minute: shedAt, Count: 2}}); err != nil {
		t.Fatal(err)
	}

	type sums struct{ total, allowed, blocked, limited int64 }
	count := func(since, until time.Time, key string, keep func(audit.Access) bool) (out sums) {
		for _, e := range events {
			if e.AppSlug != "aa_1" || e.Time.Before(since) || !e.Time.Before(until) || (key != "" && e.KeyID != key) || (keep != nil && !keep(e)) {
				continue
			}
			out.total++
			if e.Outcome == audit.AccessAllowed {
				out.allowed++
			} else {
				out.blocked++
				if e.RateLimited {
					out.limited++
				}
			}
		}
		return out
	}
	windows := [][2]time.Time{
		{start, clock.Now().Add(time.Hour)},
	}
	for range 12 {
		a := start.Add(time.Duration(rng.Int64N(span)))
		b := a.Add(time.Duration(rng.Int64N(int64(10 * 24 * time.Hour))))
		windows = append(windows, [2]time.Time{a, b})
	}
	a0 := start.Add(time.Duration(rng.Int64N(span)))
	windows = append(windows, [2]time.Time{a0, a0.Add(37 * time.Second)}) // within a minute or two
	for wi, w := range windows {
		for _, key := range []string{"", "key_b"} {
			got, err := s.AccessAnalytics(ctx, audit.AnalyticsQuery{AppSlug: "aa_1", KeyID: key, Since: w[0], Until: w[1], TopLimit: 50})
			if err != nil {
				t.Fatal(err)
			}
			want := count(w[0], w[1], key, nil)
			if got.Total != want.total || got.Allowed != want.allowed || got.Blocked != want.blocked || got.RateLimited != want.limited {
				t.Fatalf("window %d key %q: analytics %d/%d/%d/%d, raw events %d/%d/%d/%d (total/allowed/blocked/rate-limited)",
					wi, key, got.Total, got.Allowed, got.Blocked, got.RateLimited, want.total, want.allowed, want.blocked, want.limited)
			}
			for _, c := range got.TopKeys {
				if want := count(w[0], w[1], key, func(e audit.Access) bool { return e.KeyID == c.Name }); c.Total != want.total ||
					c.Allowed != want.allowed || c.Label != "name of "+c.Name {
					t.Fatalf("window %d: top key %+v, raw %+v", wi, c, want)
				}
			}
			for _, c := range got.TopPaths {
				if want := count(w[0], w[1], key, func(e audit.Access) bool { return e.Path == c.Name }); c.Total != want.total {
					t.Fatalf("window %d: top path %+v, raw %+v", wi, c, want)
				}
			}
			var reasons int64
			for _, c := range got.BlockedReasons {
				reasons += c.Total
				if want := count(w[0], w[1], key, func(e audit.Access) bool { return e.Outcome == audit.AccessBlocked && e.BlockedRule == c.Name }); c.Blocked != want.total {
					t.Fatalf("window %d: blocked reason %+v, raw %+v", wi, c, want)
				}
			}
			if reasons != got.Blocked {
				t.Fatalf("window %d: blocked reasons sum to %d, blocked %d", wi, reasons, got.Blocked)
			}
			if len(got.RateLimitStats) > 1 || (len(got.RateLimitStats) == 1 && (got.RateLimitStats[0].Name != "100/1m0s/key" || got.RateLimitStats[0].Total != want.limited)) {
				t.Fatalf("window %d: rate limit stats %+v, want the one rule with %d", wi, got.RateLimitStats, want.limited)
			}
			if !sort.SliceIsSorted(got.TopKeys, func(i, j int) bool { return got.TopKeys[i].Total > got.TopKeys[j].Total }) {
				t.Fatalf("top keys not most first: %+v", got.TopKeys)
			}
		}
		for _, iv := range []string{audit.IntervalMinute, audit.IntervalHour, audit.IntervalDay, audit.IntervalWeek, audit.IntervalMonth} {
			if iv == audit.IntervalMinute && w[1].Sub(w[0]) > 2*24*time.Hour {
				continue
			}
			buckets, err := s.AccessTimeseries(ctx, "aa_1", w[0], w[1], iv)
			if err != nil {
				t.Fatal(err)
			}
			var sum int64
			for i, b := range buckets {
				end := w[1]
				if i+1 < len(buckets) {
					end = buckets[i+1].Start
					if !end.After(b.Start) {
						t.Fatalf("%s buckets out of order: %v then %v", iv, b.Start, end)
					}
				}
				from := b.Start
				if from.Before(w[0]) {
					from = w[0]
				}
				want := count(from, end, "", nil)
				if b.Total != want.total || b.Allowed != want.allowed || b.Blocked != want.blocked {
					t.Fatalf("window %d, %s bucket %v: %d/%d/%d, raw events %d/%d/%d", wi, iv, b.Start, b.Total, b.Allowed, b.Blocked, want.total, want.allowed, want.blocked)
				}
				sum += b.Total
			}
			if len(buckets) == 0 || buckets[0].Start.After(w[0]) || sum != count(w[0], w[1], "", nil).total {
				t.Fatalf("window %d, %s: %d buckets summing to %d, want from %v summing to %d", wi, iv, len(buckets), sum, w[0], count(w[0], w[1], "", nil).total)
			}
		}
	}
	// Weeks start on Monday, months on the 1st.
	buckets, err := s.AccessTimeseries(ctx, "aa_1", start, clock.Now(), audit.IntervalWeek)
	if err != nil || buckets[0].Start.Weekday() != time.Monday {
		t.Fatalf("week buckets %v, %v: want each starting on Monday", buckets, err)
	}
	buckets, err = s.AccessTimeseries(ctx, "aa_1", start, clock.Now(), audit.IntervalMonth)
	if err != nil || buckets[0].Start.Day() != 1 || len(buckets) != 3 {
		t.Fatalf("month buckets %v, %v: want 3 starting on the 1st", buckets, err)
	}

	all, err := s.AccessAnalytics(ctx, audit.AnalyticsQuery{AppSlug: "aa_1"})
	if err != nil || all.Shed != 9 || all.TopKeys != nil {
		t.Fatalf("analytics without a window: shed %d, top keys %v, %v; want 9 shed and no top lists", all.Shed, all.TopKeys, err)
	}
	var used []string
	for _, e := range events {
		if e.AppSlug == "aa_1" && e.Outcome == audit.AccessAllowed && !e.Time.Before(clock.Now().Add(-24*time.Hour)) && !slices.Contains(used, e.KeyID) {
			used = append(used, e.KeyID)
		}
	}
	if all.KeysUsed24h != int64(len(used)) {
		t.Fatalf("keys used in 24 h = %d, want %d (%v)", all.KeysUsed24h, len(used), used)
	}
}

// accessRetention: raw events and rollups are pruned each at its own age.
func accessRetention(t *testing.T, open Opener) {
	ctx := context.Background()
	clock := newFakeClock()
	s := openAccess(t, open, keystore.Options{Now: clock.Now, AccessMaxAge: 24 * time.Hour, AccessRollupMaxAge: 10 * 24 * time.Hour, AuditPruneEvery: time.Hour})
	var events []audit.Access
	for _, age := range []time.Duration{time.Hour, 2 * 24 * time.Hour, 20 * 24 * time.Hour} {
		for range 3 {
			events = append(events, audit.Access{AppSlug: "aa_1", Outcome: audit.AccessAllowed, Time: clock.Now().Add(-age)})
		}
	}
	if err := s.WriteAccess(ctx, events, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PruneAccess(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := s.QueryAccess(ctx, audit.AccessQuery{AppSlug: "aa_1"})
	if err != nil || len(page.Events) != 3 {
		t.Fatalf("after pruning %d raw events (%v), want the 3 of the last day", len(page.Events), err)
	}
	// The rollups keep 10 days: the 2-day-old events still count.
	a, err := s.AccessAnalytics(ctx, audit.AnalyticsQuery{AppSlug: "aa_1", Since: clock.Now().Add(-30 * 24 * time.Hour).Truncate(time.Minute)})
	if err != nil || a.Total != 6 {
		t.Fatalf("after pruning the rollups count %d (%v), want 6: raw events and rollups have their own retention", a.Total, err)
	}
	if err := s.WriteAccess(ctx, nil, nil); err != nil {
		t.Fatalf("an empty write: %v", err)
	}
}
