// Package sqlite is the embedded key store: one SQLite file (pure Go, no
// cgo), for one process or a few on one machine. It is a package of its own
// so that programs that do not use it (a Wacht-mode app, a Postgres
// deployment) do not link SQLite.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // pure Go SQLite driver "sqlite"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/sqlstore"
)

// SQLite is the embedded store: one database file (plus its -wal and -shm
// files) written through a single connection and read through a pool. The
// processes that open the same file hear each other's key and app changes:
// each change is logged in the file, and each store polls for the others'
// (keystore.Options.PollInterval; see Subscribe).
//
// Durability: WAL with synchronous=FULL, so a call that returned has its
// commit fsynced and survives a crash of the process or of the machine.
type SQLite struct {
	keystore.Store
	// AccessLog is the verification log: WriteAccess, QueryAccess,
	// AccessAnalytics, AccessTimeseries (audit.AccessWriter and
	// audit.AccessReader) and PruneAccess.
	sqlstore.AccessLog
	store    *sqlstore.Store
	path     string
	w, r     *sql.DB
	feed     *feed // nil for ":memory:"
	closeOne sync.Once
	closeErr error
}

// busyTimeoutMS is how long a connection waits for another process (the CLI
// beside a server) holding the write lock.
const busyTimeoutMS = 10000

// mmapBytes is how much of the database file is memory-mapped for reads.
const mmapBytes = 1 << 30

// Open opens (creating if needed, with mode 0600, and its directory with
// mode 0700) the SQLite database at path, migrates its schema and starts
// polling for other processes' changes (opts.PollInterval); ctx bounds the
// opening. path ":memory:" opens a private in-memory database on one
// connection, for tests. opts.Schema does not apply.
func Open(ctx context.Context, path string, opts keystore.Options) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("keystore: empty SQLite path")
	}
	if opts.PollInterval < 0 {
		return nil, fmt.Errorf("keystore: PollInterval must not be negative, got %s", opts.PollInterval)
	}
	if strings.ContainsAny(path, "?#") && path != ":memory:" {
		return nil, fmt.Errorf("keystore: SQLite path %q must not contain ? or #", path)
	}
	s := &SQLite{path: path}
	var readerDSN string // the read-only connections' (files only)
	pragmas := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", busyTimeoutMS)
	if path == ":memory:" {
		db, err := sql.Open("sqlite", "file::memory:?"+pragmas)
		if err != nil {
			return nil, fmt.Errorf("keystore: open SQLite: %w", err)
		}
		// One connection that never closes: each in-memory connection is
		// its own database.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxIdleTime(0)
		db.SetConnMaxLifetime(0)
		s.w, s.r = db, db
	} else {
		// Create the directory and the file ourselves so that they are
		// private: the file holds key hashes, the audit trail and the
		// server secrets.
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("keystore: open SQLite: %w", err)
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("keystore: open SQLite: %w", err)
		}
		f.Close()
		// mmap: page reads become memory loads shared by every connection
		// (through the OS page cache) instead of a pread per page.
		base := path + "?" + pragmas + "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
			fmt.Sprintf("&_pragma=mmap_size(%d)", mmapBytes)
		if s.w, err = sql.Open("sqlite", base+"&_txlock=immediate"); err != nil {
			return nil, fmt.Errorf("keystore: open SQLite %s: %w", path, err)
		}
		// A single writer: SQLite allows one write transaction at a time
		// anyway; queueing in the pool beats spinning on SQLITE_BUSY.
		s.w.SetMaxOpenConns(1)
		s.w.SetMaxIdleConns(1)
		s.w.SetConnMaxIdleTime(0)
		readerDSN = base + "&_pragma=query_only(1)"
		if s.r, err = sql.Open("sqlite", readerDSN); err != nil {
			s.w.Close()
			return nil, fmt.Errorf("keystore: open SQLite %s: %w", path, err)
		}
		n := max(4, runtime.GOMAXPROCS(0))
		s.r.SetMaxOpenConns(n)
		s.r.SetMaxIdleConns(n)
	}
	b := &backend{w: s.w, r: s.r}
	store := sqlstore.New(b, sqlstore.Dialect{Blob: "BLOB", ChangeLog: true}, opts)
	s.Store, s.AccessLog, s.store = store, store, store
	if err := ping(ctx, s.w); err != nil {
		s.Close()
		return nil, fmt.Errorf("keystore: open SQLite %s: %w", path, err)
	}
	if err := store.Migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("keystore: migrate SQLite %s: %w", path, err)
	}
	lookup, err := s.r.PrepareContext(ctx, sqlstore.LookupKeyQuery)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("keystore: prepare SQLite %s: %w", path, err)
	}
	b.lookup = lookup
	if path != ":memory:" {
		every := cmp.Or(opts.PollInterval, DefaultPollInterval)
		if s.feed, err = startFeed(ctx, readerDSN, store, every, sqlstore.Reporter(opts.OnFeedError, "keystore.feed")); err != nil {
			s.Close()
			return nil, fmt.Errorf("keystore: change feed of SQLite %s: %w", path, err)
		}
	}
	store.StartPruning()
	return s, nil
}

// Close stops the change feed and closes the database; it is idempotent.
func (s *SQLite) Close() error {
	s.closeOne.Do(func() {
		var errs []error
		if s.feed != nil {
			errs = append(errs, s.feed.close())
		}
		errs = append(errs, s.Store.Close())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// ping opens the writer's first connection, whose pragmas switch a new file
// to WAL. When two processes open the same new file at once, that switch
// can answer SQLITE_BUSY at once instead of waiting out busy_timeout, so it
// is retried for as long as busy_timeout would wait.
func ping(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(busyTimeoutMS * time.Millisecond)
	for {
		err := db.PingContext(ctx)
		var coded interface{ Code() int }
		busy := errors.As(err, &coded) && coded.Code()&0xff == sqliteBusy
		if !busy || time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sqliteBusy is SQLITE_BUSY, the primary result code of a locked database.
const sqliteBusy = 5

// PruneAudit deletes the audit events older than Options.AuditMaxAge now,
// in batches, and returns how many; the store also does so in the
// background every Options.AuditPruneEvery.
func (s *SQLite) PruneAudit(ctx context.Context) (int64, error) { return s.store.PruneAudit(ctx) }

// Path returns the database file's path.
func (s *SQLite) Path() string { return s.path }

// backend is the sqlstore.Backend of one database: writes through the
// single writer connection, reads through the pool.
type backend struct {
	w, r   *sql.DB
	lookup *sql.Stmt // LookupKey, the hot path, prepared once per connection
}

func (b *backend) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	return querier{b.w}.Exec(ctx, q, args...)
}

func (b *backend) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	return querier{b.r}.Query(ctx, q, args...)
}

func (b *backend) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	if q == sqlstore.LookupKeyQuery && b.lookup != nil {
		return b.lookup.QueryRowContext(ctx, args...)
	}
	return querier{b.r}.QueryRow(ctx, q, args...)
}

func (b *backend) Begin(ctx context.Context) (sqlstore.Tx, error) {
	tx, err := b.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return txn{querier{tx}, tx}, nil
}

func (b *backend) Ping(ctx context.Context) error {
	if err := b.w.PingContext(ctx); err != nil {
		return err
	}
	return b.r.PingContext(ctx)
}

func (b *backend) Close() error {
	var errs []error
	if b.lookup != nil {
		errs = append(errs, b.lookup.Close())
	}
	if b.r != nil && b.r != b.w {
		errs = append(errs, b.r.Close())
	}
	if b.w != nil {
		errs = append(errs, b.w.Close())
	}
	return errors.Join(errs...)
}

// querier adapts a *sql.DB or *sql.Tx to sqlstore.Querier.
type querier struct {
	q interface {
		ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	}
}

func (s querier) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := s.q.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s querier) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	r, err := s.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

func (s querier) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return s.q.QueryRowContext(ctx, q, args...)
}

// rows drops the error of (*sql.Rows).Close, which Err reports.
type rows struct{ *sql.Rows }

func (r rows) Close() { r.Rows.Close() }

type txn struct {
	querier
	tx *sql.Tx
}

func (t txn) Commit(context.Context) error   { return t.tx.Commit() }
func (t txn) Rollback(context.Context) error { return t.tx.Rollback() }
