package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/sqlstore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/storetest"
)

// benchKeys is the size of the LookupKey fixture.
const benchKeys = 1_000_000

var lookupFixture struct {
	once   sync.Once
	dir    string
	s      *SQLite
	hashes []string
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if lookupFixture.s != nil {
		lookupFixture.s.Close()
	}
	if lookupFixture.dir != "" {
		os.RemoveAll(lookupFixture.dir)
	}
	os.Exit(code)
}

// sqliteWithKeys returns a SQLite store holding benchKeys keys of one app, and
// their hashes; it is built once per test binary with a bulk insert in one
// transaction. KEYSTORE_BENCH_FIXTURE=/path/file.sqlite keeps the fixture
// there and reuses it on the next run.
func sqliteWithKeys(b *testing.B) (*SQLite, []string) {
	if testing.Short() {
		b.Skip("skipped under -short: builds a 1,000,000-key database")
	}
	f := &lookupFixture
	f.once.Do(func() {
		start := time.Now()
		ctx := context.Background()
		path := os.Getenv("KEYSTORE_BENCH_FIXTURE")
		if path == "" {
			if f.dir, f.err = os.MkdirTemp("", "keystore-bench"); f.err != nil {
				return
			}
			path = filepath.Join(f.dir, "bench.sqlite")
		}
		if f.s, f.err = Open(context.Background(), path, keystore.Options{}); f.err != nil {
			return
		}
		var have int
		if f.err = f.s.r.QueryRow(`SELECT COUNT(*) FROM api_keys`).Scan(&have); f.err != nil {
			return
		}
		if have == benchKeys { // a kept fixture (KEYSTORE_BENCH_FIXTURE) from an earlier run
			f.hashes = make([]string, benchKeys)
			for i := range benchKeys {
				f.hashes[i] = keystore.HashSecret(benchSecret(i))
			}
			return
		}
		app := storetest.DemoApp("aa_42", "acme")
		if _, f.err = f.s.CreateApp(ctx, app, storetest.Alice); f.err != nil {
			return
		}
		// Keys go in hash order (and ids in the same order), so that both
		// unique indexes grow at their right edge: a minute faster than
		// random order with SQLite's small default page cache.
		f.hashes = make([]string, benchKeys)
		for i := range benchKeys {
			f.hashes[i] = keystore.HashSecret(benchSecret(i))
		}
		order := make([]int, benchKeys)
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return f.hashes[order[a]] < f.hashes[order[b]] })
		tx, err := f.s.w.BeginTx(ctx, nil)
		if f.err = err; err != nil {
			return
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO api_keys (`+sqlstore.KeyCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 1, ?, ?, NULL, '', 'bench', '', NULL, ?)`)
		if f.err = err; err != nil {
			tx.Rollback()
			return
		}
		now := time.Now().UnixNano()
		for n, i := range order {
			if _, f.err = stmt.ExecContext(ctx, fmt.Sprintf("key_bench%017d", n), "42", "aa_42", "acme",
				"bench key", "acme", benchSecret(i)[len(benchSecret(i))-keystore.SuffixLen:], `["read"]`, `{}`, now, now, f.hashes[i]); f.err != nil {
				tx.Rollback()
				return
			}
		}
		stmt.Close()
		if f.err = tx.Commit(); f.err != nil {
			return
		}
		fmt.Fprintf(os.Stderr, "keystore bench: built %d-key SQLite fixture in %v\n", benchKeys, time.Since(start).Round(time.Millisecond))
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f.s, f.hashes
}

func benchSecret(i int) string { return fmt.Sprintf("acme_bench%033d", i) }

// BenchmarkSQLiteLookupKey measures LookupKey (a key and its app by hash) in
// a database of 1,000,000 keys, with no cache in front.
func BenchmarkSQLiteLookupKey(b *testing.B) {
	s, hashes := sqliteWithKeys(b)
	ctx := context.Background()
	b.Run("hit", func(b *testing.B) {
		defer testenv.StartCPU().Report(b, b.N)
		i := 0
		for b.Loop() {
			i = (i + 7919) % len(hashes) // spread over the index
			if _, _, err := s.LookupKey(ctx, hashes[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		defer testenv.StartCPU().Report(b, b.N)
		unknown := keystore.HashSecret("acme_not-a-key")
		for b.Loop() {
			if _, _, err := s.LookupKey(ctx, unknown); err == nil {
				b.Fatal("found a key that does not exist")
			}
		}
	})
	b.Run("hit-parallel", func(b *testing.B) {
		defer testenv.StartCPU().Report(b, b.N)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				i = (i + 7919) % len(hashes)
				if _, _, err := s.LookupKey(ctx, hashes[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkSQLiteRecord measures durable audit inserts, one caller at a time
// and 32 at once (group commit shares each fsync among the waiting callers).
func BenchmarkSQLiteRecord(b *testing.B) {
	s := openAt(b, filepath.Join(b.TempDir(), "record.sqlite"), keystore.Options{})
	ctx := context.Background()
	e := audit.Event{Action: audit.ActionTicketIssue, Outcome: audit.OutcomeIssued, Actor: "alice", Tenant: "acme", AppSlug: "aa_42"}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := s.Record(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel-32", func(b *testing.B) {
		b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Record(ctx, e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
