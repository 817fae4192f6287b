package wacht

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"
)

// seedAudit records n entries of app aa_42 (key "k1"), the first blocked.
func seedAudit(f *fakeWacht, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range n {
		l := AuditLog{AppSlug: "aa_42", KeyID: "k1", KeyName: "ci", Outcome: OutcomeAllowed, Timestamp: fakeNow.Add(time.Duration(i) * time.Hour)}
		if i == 0 {
			l.Outcome, l.BlockedByRule = OutcomeBlocked, "revoked"
		}
		f.audit["aa_42"] = append(f.audit["aa_42"], l)
	}
}

func TestAuditAnalytics(t *testing.T) {
	f := newFakeWacht(t)
	c := newTestClient(t, f.URL(), Config{})
	seedAudit(f, 5)
	ctx := context.Background()
	a, err := c.AuditAnalytics(ctx, "aa_42", AnalyticsQuery{TopKeys: true, TopLimit: 3, KeyID: "k1", Start: fakeNow, End: fakeNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if a.TotalRequests != 5 || a.AllowedRequests != 4 || a.BlockedRequests != 1 || a.SuccessRate != 80 || a.KeysUsed24h != 1 ||
		len(a.TopKeys) != 1 || a.TopKeys[0] != (TopKey{KeyID: "k1", KeyName: "ci", TotalRequests: 5}) {
		t.Fatalf("AuditAnalytics = %+v", a)
	}
	q, _ := url.ParseQuery(f.last().RawQuery)
	if q.Get("include_top_keys") != "true" || q.Get("top_limit") != "3" || q.Get("key_id") != "k1" || q.Get("include_top_paths") != "" ||
		q.Get("start_date") != "2026-11-26T12:00:00Z" || q.Get("end_date") != "2026-11-26T13:00:00Z" {
		t.Fatalf("analytics query %q", f.last().RawQuery)
	}
	for _, bad := range []AnalyticsQuery{{TopLimit: 51}, {TopLimit: -1}, {Start: fakeNow, End: fakeNow.Add(-time.Second)}} {
		hits := f.hits()
		if _, err := c.AuditAnalytics(ctx, "aa_42", bad); !errors.Is(err, ErrBadRequest) || f.hits() != hits {
			t.Errorf("AuditAnalytics(%+v) = %v after %d requests, want ErrBadRequest before any", bad, err, f.hits()-hits)
		}
	}
}

func TestAuditTimeseries(t *testing.T) {
	f := newFakeWacht(t)
	c := newTestClient(t, f.URL(), Config{})
	seedAudit(f, 30) // 30 hours from fakeNow (noon): 12 today, 18 tomorrow
	ctx := context.Background()
	s, err := c.AuditTimeseries(ctx, "aa_42", TimeseriesQuery{Start: fakeNow, End: fakeNow.Add(72 * time.Hour), Interval: IntervalDay})
	if err != nil {
		t.Fatal(err)
	}
	if s.Interval != IntervalDay || len(s.Points) != 4 || s.Points[0].TotalRequests != 12 || s.Points[1].TotalRequests != 18 ||
		!s.Points[1].Timestamp.Equal(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) || s.Points[0].SuccessRate != 100 {
		t.Fatalf("AuditTimeseries = %+v", s)
	}
	if _, err := c.AuditTimeseries(ctx, "aa_42", TimeseriesQuery{Interval: "fortnight"}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("an unknown interval: %v, want ErrBadRequest", err)
	}
	// The server's refusal comes back as ErrBadRequest with its message.
	if _, err := c.AuditTimeseries(ctx, "aa_42", TimeseriesQuery{Interval: IntervalHour}); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("a request the server refuses: %v, want ErrBadRequest", err)
	}
}
