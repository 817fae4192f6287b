package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/internal/testenv/pgtest"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/audit/accesslog"
	"github.com/keyportal/keyportal/middleware/keystore"
)

// BenchmarkAccessRecorderPostgres measures how many verifications a second
// the recorder writes to Postgres: b.N events (one app, 1,000 keys, 20
// paths, one in ten blocked, spread over ten minutes) are recorded into a
// buffer that holds them all, then Close writes them, in batches of
// accesslog.DefaultBatch (one multi-row INSERT of the events and one upsert
// of the rollups per transaction). events/s is b.N over that time. Run with:
//
//	KEYPORTAL_REQUIRE_SERVICES=1 go test ./middleware/keystore/postgres -run '^$' -bench AccessRecorder -benchtime 200000x -count 3
func BenchmarkAccessRecorderPostgres(b *testing.B) {
	dsn := testenv.PostgresDSN(b)
	s := openPostgres(b, dsn, pgtest.Schema(b, dsn, "ks_bench_"), keystore.Options{})
	events := make([]audit.Access, 0, min(b.N, 100_000))
	base := time.Now().Add(-10 * time.Minute)
	for i := range cap(events) {
		e := audit.Access{
			Time: base.Add(time.Duration(i%600) * time.Second), Latency: 40 * time.Microsecond,
			AppSlug: "aa_42", Tenant: "acme", KeyID: fmt.Sprintf("key_%04d", i%1000), KeyName: "key", Outcome: audit.AccessAllowed,
			Method: "GET", Path: fmt.Sprintf("/v1/things/%d", i%20), ClientIP: "203.0.113.7", UserAgent: "bench/1",
		}
		if i%10 == 0 {
			e.Outcome, e.BlockedRule = audit.AccessBlocked, "revoked"
		}
		events = append(events, e)
	}
	rec, err := accesslog.New(s, accesslog.Config{Buffer: b.N})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		rec.RecordAccess(events[i%len(events)])
	}
	if err := rec.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	elapsed := b.Elapsed()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if rec.Shed() != 0 {
		b.Fatalf("%d events shed", rec.Shed())
	}
	a, err := s.AccessAnalytics(context.Background(), audit.AnalyticsQuery{AppSlug: "aa_42"})
	if err != nil || a.Total != int64(b.N) {
		b.Fatalf("the rollups count %d events (%v), want %d", a.Total, err, b.N)
	}
}
