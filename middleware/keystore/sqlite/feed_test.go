package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/sqlstore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/storetest"
)

// recorder collects the Changes a store delivers.
type recorder struct {
	mu  sync.Mutex
	got []keystore.Change
}

func (r *recorder) add(c keystore.Change) { r.mu.Lock(); r.got = append(r.got, c); r.mu.Unlock() }

// waitFor waits up to d for at least n changes and returns what arrived.
func (r *recorder) waitFor(n int, d time.Duration) []keystore.Change {
	deadline := time.Now().Add(d)
	for {
		r.mu.Lock()
		got := append([]keystore.Change(nil), r.got...)
		r.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// downgradeToV1 takes s's database back to schema version 1, as a program
// of that version wrote it: it undoes every later migration (the change
// log, the active-key index, rate-limit schemes, app rate limits and
// messages, the verification log). A new migration adds its undo here.
func downgradeToV1(t *testing.T, s *SQLite) {
	t.Helper()
	for _, q := range []string{`DROP TABLE changes`, `DROP INDEX api_keys_app_live`,
		`DROP TABLE rate_limit_schemes`, `DROP INDEX apps_scheme`, `ALTER TABLE apps DROP COLUMN rate_limits`, `ALTER TABLE apps DROP COLUMN messages`,
		`DROP TABLE access_events`, `DROP TABLE access_rollups`,
		`DELETE FROM schema_migrations WHERE version > 1`} {
		if _, err := s.w.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSQLiteChangesReachOtherStores: two stores on one file, as a server and
// the CLI (or two servers) are. Every change committed through one reaches
// the other's subscribers within a second, in order; the store that made a
// change hears it once, synchronously, not again through the feed.
func TestSQLiteChangesReachOtherStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.sqlite")
	a := openAt(t, path, keystore.Options{})
	b := openAt(t, path, keystore.Options{})
	var atA, atB recorder
	a.Subscribe(atA.add)
	b.Subscribe(atB.add)

	ctx := context.Background()
	storetest.MustApp(t, a, "aa_42", "acme")
	k, _ := storetest.MustKey(t, a, "aa_42", "k", nil)
	start := time.Now()
	if _, err := a.RevokeKey(ctx, "aa_42", k.ID, "leaked", storetest.Alice); err != nil {
		t.Fatal(err)
	}
	off := false
	if _, err := a.UpdateApp(ctx, "aa_42", keystore.AppPatch{IsActive: &off}, storetest.Alice); err != nil {
		t.Fatal(err)
	}
	want := []keystore.Change{{AppSlug: "aa_42"}, {AppSlug: "aa_42", KeyHash: k.Hash},
		{AppSlug: "aa_42", KeyHash: k.Hash}, {AppSlug: "aa_42"}}
	got := atB.waitFor(len(want), time.Second)
	if !equalChanges(got, want) {
		t.Fatalf("store B heard %+v within 1s, want %+v", got, want)
	}
	t.Logf("revocation through A heard by B after at most %v", time.Since(start))

	// And the other way round: B's changes reach A.
	if err := b.DeleteApp(ctx, "aa_42", storetest.Alice); err != nil {
		t.Fatal(err)
	}
	want = append(want, keystore.Change{AppSlug: "aa_42"})
	if got := atA.waitFor(len(want), time.Second); !equalChanges(got, want) {
		t.Fatalf("store A heard %+v, want %+v", got, want)
	}
	// Neither hears its own changes twice.
	time.Sleep(3 * DefaultPollInterval)
	if got := atA.waitFor(0, 0); len(got) != len(want) {
		t.Fatalf("store A heard %d changes, want %d: %+v", len(got), len(want), got)
	}
	if got := atB.waitFor(0, 0); len(got) != len(want) {
		t.Fatalf("store B heard %d changes, want %d: %+v", len(got), len(want), got)
	}
}

// TestSQLiteFeedGap: a store whose unread change rows were pruned (a process
// paused for long) cannot know what changed, so it tells subscribers to drop
// everything (which covers the rows it did read), then goes on with what
// follows.
func TestSQLiteFeedGap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.sqlite")
	a := openAt(t, path, keystore.Options{})
	b := openAt(t, path, keystore.Options{PollInterval: time.Hour}) // polled by hand
	var atB recorder
	b.Subscribe(atB.add)
	storetest.MustApp(t, a, "aa_42", "acme")
	k, _ := storetest.MustKey(t, a, "aa_42", "k", nil)
	// Prune what B has not read yet, as pruning does with rows past the
	// log's length.
	if _, err := a.w.Exec(`DELETE FROM changes`); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevokeKey(context.Background(), "aa_42", k.ID, "", storetest.Alice); err != nil {
		t.Fatal(err)
	}
	if err := b.feed.poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []keystore.Change{{}}
	if got := atB.waitFor(0, 0); !equalChanges(got, want) {
		t.Fatalf("after a gap B heard %+v, want only %+v (drop everything)", got, want)
	}
	// What follows is heard change by change again.
	if err := a.DeleteApp(context.Background(), "aa_42", storetest.Alice); err != nil {
		t.Fatal(err)
	}
	if err := b.feed.poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	want = append(want, keystore.Change{AppSlug: "aa_42"})
	if got := atB.waitFor(0, 0); !equalChanges(got, want) {
		t.Fatalf("after the gap B heard %+v, want %+v", got, want)
	}
}

// TestSQLiteFeedRecovers: a failed poll is reported, and the next poll that
// works delivers what was committed meanwhile.
func TestSQLiteFeedRecovers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.sqlite")
	a := openAt(t, path, keystore.Options{})
	var errs []error
	b := openAt(t, path, keystore.Options{PollInterval: time.Hour, // polled by hand
		OnFeedError: func(err error) { errs = append(errs, err) }})
	var atB recorder
	b.Subscribe(atB.add)
	ctx := context.Background()
	b.feed.conn.Close() // the connection breaks
	storetest.MustApp(t, a, "aa_42", "acme")
	b.feed.tick(ctx)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "change feed") {
		t.Fatalf("reported %v, want one change feed error", errs)
	}
	if got := atB.waitFor(0, 0); len(got) != 0 {
		t.Fatalf("heard %+v through a broken connection", got)
	}
	b.feed.tick(ctx)
	want := []keystore.Change{{AppSlug: "aa_42"}}
	if got := atB.waitFor(0, 0); !equalChanges(got, want) {
		t.Fatalf("after recovering B heard %+v, want %+v", got, want)
	}
}

// TestSQLiteFeedReportsOncePerOutage: a run of failed polls is reported
// once, not every PollInterval.
func TestSQLiteFeedReportsOncePerOutage(t *testing.T) {
	var errs []error
	b := openAt(t, filepath.Join(t.TempDir(), "k.sqlite"), keystore.Options{PollInterval: time.Hour,
		OnFeedError: func(err error) { errs = append(errs, err) }})
	b.feed.conn.Close()
	b.feed.db.Close() // no reconnecting either
	for range 3 {
		b.feed.tick(context.Background())
	}
	if len(errs) != 1 {
		t.Fatalf("reported %d errors over 3 failed polls, want 1: %v", len(errs), errs)
	}
}

// TestSQLiteChangeLogPruned: the log keeps its last sqlstore.ChangeLogKeep rows.
func TestSQLiteChangeLogPruned(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.sqlite")
	a := openAt(t, path, keystore.Options{})
	// Fill the log past its length directly: thousands of committed
	// changes would take a while.
	if _, err := a.w.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO changes (src, app_slug, key_hash, at) SELECT 'old', 'aa_1', '', 0 FROM n`, sqlstore.ChangeLogKeep+500); err != nil {
		t.Fatal(err)
	}
	storetest.MustApp(t, a, "aa_42", "acme")
	var n, last int
	if err := a.r.QueryRow(`SELECT COUNT(*), MAX(seq) FROM changes`).Scan(&n, &last); err != nil {
		t.Fatal(err)
	}
	if n != sqlstore.ChangeLogKeep || last != sqlstore.ChangeLogKeep+501 {
		t.Fatalf("change log holds %d rows up to seq %d, want the last %d up to %d", n, last, sqlstore.ChangeLogKeep, sqlstore.ChangeLogKeep+501)
	}
}

// TestSQLiteUpgradesToTheChangeLog: a file written by a program of schema
// version 1 gets the change log on open, and its processes hear each other.
func TestSQLiteUpgradesToTheChangeLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.sqlite")
	old := openAt(t, path, keystore.Options{})
	storetest.MustApp(t, old, "aa_42", "acme")
	downgradeToV1(t, old)
	old.Close()
	a := openAt(t, path, keystore.Options{})
	b := openAt(t, path, keystore.Options{})
	var atB recorder
	b.Subscribe(atB.add)
	if err := a.DeleteApp(context.Background(), "aa_42", storetest.Alice); err != nil {
		t.Fatal(err)
	}
	want := []keystore.Change{{AppSlug: "aa_42"}}
	if got := atB.waitFor(1, time.Second); !equalChanges(got, want) {
		t.Fatalf("after the upgrade B heard %+v, want %+v", got, want)
	}
}

func TestSQLitePollIntervalValidated(t *testing.T) {
	_, err := Open(context.Background(), filepath.Join(t.TempDir(), "k.sqlite"), keystore.Options{PollInterval: -time.Second})
	if err == nil {
		t.Fatal("a negative PollInterval was accepted")
	}
}

func equalChanges(a, b []keystore.Change) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
