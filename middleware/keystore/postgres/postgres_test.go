package postgres

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/internal/testenv/pgtest"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/sqlstore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/storetest"
)

// freshSchema returns a new random schema name, dropped when t ends.
func freshSchema(t *testing.T, dsn string) string {
	t.Helper()
	return pgtest.Schema(t, dsn, "ks_test_")
}

func openPostgres(t testing.TB, dsn, schema string, opts keystore.Options) *Postgres {
	t.Helper()
	opts.Schema = schema
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgresContract(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	storetest.Run(t, func(t *testing.T, opts keystore.Options) keystore.Store {
		return openPostgres(t, dsn, freshSchema(t, dsn), opts)
	}, nil)
}

// TestPostgresChangesReachOtherInstances: a revocation on one instance is
// heard by another sharing the schema within a second, and an instance on
// another schema hears nothing.
func TestPostgresChangesReachOtherInstances(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	schema := freshSchema(t, dsn)
	a := openPostgres(t, dsn, schema, keystore.Options{})
	b := openPostgres(t, dsn, schema, keystore.Options{})
	stranger := openPostgres(t, dsn, freshSchema(t, dsn), keystore.Options{})

	var mu sync.Mutex
	var atB, atStranger, atA []keystore.Change
	b.Subscribe(func(c keystore.Change) { mu.Lock(); atB = append(atB, c); mu.Unlock() })
	stranger.Subscribe(func(c keystore.Change) { mu.Lock(); atStranger = append(atStranger, c); mu.Unlock() })
	a.Subscribe(func(c keystore.Change) { mu.Lock(); atA = append(atA, c); mu.Unlock() })

	ctx := context.Background()
	storetest.MustApp(t, a, "aa_42", "acme")
	k, _ := storetest.MustKey(t, a, "aa_42", "k", nil)
	if _, err := a.RevokeKey(ctx, "aa_42", k.ID, "", storetest.Alice); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		mu.Lock()
		n := len(atB)
		mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []keystore.Change{{AppSlug: "aa_42"}, {AppSlug: "aa_42", KeyHash: k.Hash}, {AppSlug: "aa_42", KeyHash: k.Hash}}
	if len(atB) != 3 || atB[0] != want[0] || atB[1] != want[1] || atB[2] != want[2] {
		t.Fatalf("instance B heard %+v within 1s, want %+v", atB, want)
	}
	// A hears its own changes once (locally), not again through NOTIFY.
	if len(atA) != 3 {
		t.Fatalf("instance A heard %d changes, want 3: %+v", len(atA), atA)
	}
	if len(atStranger) != 0 {
		t.Fatalf("a store on another schema heard %+v", atStranger)
	}
}

// TestPostgresFeedReconnects kills the listening connection from the server
// side; the store reconnects, tells subscribers to drop everything, and
// hears later changes again.
func TestPostgresFeedReconnects(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	schema := freshSchema(t, dsn)
	a := openPostgres(t, dsn, schema, keystore.Options{})
	feedErrs := make(chan error, 10)
	b := openPostgres(t, dsn, schema, keystore.Options{OnFeedError: func(err error) { feedErrs <- err }})
	changes := make(chan keystore.Change, 100)
	b.Subscribe(func(c keystore.Change) { changes <- c })

	ctx := context.Background()
	tag, err := a.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
		b.FeedName())
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("terminate the feed connection: %v, %d rows", err, tag.RowsAffected())
	}
	select {
	case err := <-feedErrs:
		t.Logf("feed error reported: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("lost feed connection was not reported")
	}
	select {
	case c := <-changes:
		if c != (keystore.Change{}) {
			t.Fatalf("after reconnect got %+v, want the drop-everything Change{}", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no drop-everything change after reconnect")
	}
	storetest.MustApp(t, a, "aa_42", "acme")
	deadline := time.After(2 * time.Second)
	for {
		select {
		case c := <-changes:
			if c == (keystore.Change{AppSlug: "aa_42"}) {
				return
			}
		case <-deadline:
			t.Fatal("no change heard after reconnect")
		}
	}
}

// TestPostgresConcurrentOpen: instances starting together on a new schema
// create it and migrate it once, without errors.
func TestPostgresConcurrentOpen(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	schema := freshSchema(t, dsn)
	const n = 4
	stores := make([]*Postgres, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			stores[i], errs[i] = Open(ctx, dsn, keystore.Options{Schema: schema})
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("open %d: %v", i, errs[i])
		}
		defer stores[i].Close()
	}
	var rows, version int
	if err := stores[0].pool.QueryRow(context.Background(),
		`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&rows, &version); err != nil || rows != keystore.SchemaVersion || version != keystore.SchemaVersion {
		t.Fatalf("schema_migrations: %d rows, version %d, %v", rows, version, err)
	}
	// A ticket consumed through one instance is refused by another.
	exp := time.Now().Add(time.Minute)
	if err := stores[0].ConsumeTicket(context.Background(), "tkt_shared", exp); err != nil {
		t.Fatal(err)
	}
	storetest.WantErr(t, "replay on another instance", stores[1].ConsumeTicket(context.Background(), "tkt_shared", exp), keystore.ErrTicketUsed)
}

func TestPostgresBadOptions(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "postgres://postgres@127.0.0.1:5432/test", keystore.Options{Schema: "x; DROP TABLE y"}); err == nil {
		t.Fatal("accepted a schema name that is not an identifier")
	}
	if _, err := Open(ctx, "::not a dsn::", keystore.Options{}); err == nil {
		t.Fatal("accepted a malformed DSN")
	}
}

// BenchmarkPostgresRevocationPropagation measures how long a revocation on
// one instance takes to reach another instance's subscribers: from the call
// of RevokeKey on A to the Change arriving at B (p50 and p99 reported).
func BenchmarkPostgresRevocationPropagation(b *testing.B) {
	dsn := testenv.PostgresDSN(b)
	schema := "ks_bench_" + sqlstore.NewID("")[:20]
	ctx := context.Background()
	open := func() *Postgres {
		s, err := Open(ctx, dsn, keystore.Options{Schema: schema})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	a, bb := open(), open()
	defer func() {
		bb.Close()
		a.pool.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
		a.Close()
	}()
	if _, err := a.CreateApp(ctx, storetest.DemoApp("aa_42", "acme"), storetest.Alice); err != nil {
		b.Fatal(err)
	}
	keys := make([]keystore.Key, b.N)
	for i := range keys {
		k, _, err := a.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: "k"}, storetest.Alice)
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = k
	}
	heard := make(chan string, 1024)
	bb.Subscribe(func(c keystore.Change) { heard <- c.KeyHash })
	drain := time.After(200 * time.Millisecond) // the creations' notifications
	for done := false; !done; {
		select {
		case <-heard:
		case <-drain:
			done = true
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for _, k := range keys {
		start := time.Now()
		if _, err := a.RevokeKey(ctx, "aa_42", k.ID, "", storetest.Alice); err != nil {
			b.Fatal(err)
		}
		timeout := time.After(5 * time.Second)
		for got := ""; got != k.Hash; {
			select {
			case got = <-heard:
			case <-timeout:
				b.Fatalf("revocation of %s not heard within 5s", k.ID)
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds()), "p99-µs")
}

// TestPostgresInstancesPruneTogether: three instances on one schema prune
// the same backlog at once; every old event is deleted exactly once, none
// fails, and the recent one stays.
func TestPostgresInstancesPruneTogether(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	schema := freshSchema(t, dsn)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	opts := keystore.Options{Now: func() time.Time { return now }, AuditMaxAge: 24 * time.Hour, AuditPruneEvery: time.Hour}
	stores := []*Postgres{openPostgres(t, dsn, schema, opts), openPostgres(t, dsn, schema, opts), openPostgres(t, dsn, schema, opts)}
	ctx := context.Background()
	const old = 3500
	if _, err := stores[0].Pool().Exec(ctx, `INSERT INTO audit_events (id, occurred_at, action, outcome)
		SELECT 'evt_old_' || g, $1, 'ticket.issue', 'denied' FROM generate_series(1, $2) AS g`,
		now.Add(-48*time.Hour).UnixNano(), old); err != nil {
		t.Fatal(err)
	}
	if err := stores[0].Record(ctx, audit.Event{Time: now.Add(-time.Hour), Action: audit.ActionTicketIssue, Outcome: audit.OutcomeIssued}); err != nil {
		t.Fatal(err)
	}
	var deleted [3]int64
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			n, err := s.PruneAudit(ctx)
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
			deleted[i] = n
		})
	}
	wg.Wait()
	if sum := deleted[0] + deleted[1] + deleted[2]; sum != old {
		t.Fatalf("instances deleted %v (%d in all), want %d", deleted, sum, old)
	}
	page, err := stores[1].QueryAudit(ctx, audit.Query{Limit: 10})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("after pruning: %d events, %v; want the recent one", len(page.Events), err)
	}
}
