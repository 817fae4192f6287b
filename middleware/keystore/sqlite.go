package keystore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // pure Go SQLite driver "sqlite"
)

// SQLite is the embedded store: one database file (plus its -wal and -shm
// files) written through a single connection and read through a pool.
//
// Durability: WAL with synchronous=FULL, so a call that returned has its
// commit fsynced and survives a crash of the process or of the machine.
type SQLite struct {
	*store
	path string
	w, r *sql.DB
}

var _ Store = (*SQLite)(nil)

// sqliteBusyTimeoutMS is how long a connection waits for another process
// (the CLI beside a server) holding the write lock.
const sqliteBusyTimeoutMS = 10000

// sqliteMmapBytes is how much of the database file is memory-mapped for reads.
const sqliteMmapBytes = 1 << 30

// OpenSQLite opens (creating if needed, with mode 0600) the SQLite database at
// path and migrates its schema. path ":memory:" opens a private in-memory
// database on one connection, for tests.
func OpenSQLite(path string, opts Options) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("keystore: empty SQLite path")
	}
	if strings.ContainsAny(path, "?#") && path != ":memory:" {
		return nil, fmt.Errorf("keystore: SQLite path %q must not contain ? or #", path)
	}
	s := &SQLite{path: path}
	pragmas := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", sqliteBusyTimeoutMS)
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
		// Create the file ourselves so that it is private: it holds key
		// hashes, the audit trail and the server secrets.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("keystore: open SQLite: %w", err)
		}
		f.Close()
		// mmap: page reads become memory loads shared by every connection
		// (through the OS page cache) instead of a pread per page.
		base := path + "?" + pragmas + "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
			fmt.Sprintf("&_pragma=mmap_size(%d)", sqliteMmapBytes)
		if s.w, err = sql.Open("sqlite", base+"&_txlock=immediate"); err != nil {
			return nil, fmt.Errorf("keystore: open SQLite %s: %w", path, err)
		}
		// A single writer: SQLite allows one write transaction at a time
		// anyway; queueing in the pool beats spinning on SQLITE_BUSY.
		s.w.SetMaxOpenConns(1)
		s.w.SetMaxIdleConns(1)
		s.w.SetConnMaxIdleTime(0)
		if s.r, err = sql.Open("sqlite", base+"&_pragma=query_only(1)"); err != nil {
			s.w.Close()
			return nil, fmt.Errorf("keystore: open SQLite %s: %w", path, err)
		}
		n := max(4, runtime.GOMAXPROCS(0))
		s.r.SetMaxOpenConns(n)
		s.r.SetMaxIdleConns(n)
	}
	s.store = newStore(&sqliteBackend{w: s.w, r: s.r}, opts)
	ctx := context.Background()
	if err := pingSQLite(ctx, s.w); err != nil {
		s.Close()
		return nil, fmt.Errorf("keystore: open SQLite %s: %w", path, err)
	}
	if err := migrate(ctx, s.b, "BLOB", "", ns(s.now())); err != nil {
		s.Close()
		return nil, fmt.Errorf("keystore: migrate SQLite %s: %w", path, err)
	}
	lookup, err := s.r.PrepareContext(ctx, lookupKeyQuery)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("keystore: prepare SQLite %s: %w", path, err)
	}
	s.b.(*sqliteBackend).lookup = lookup
	return s, nil
}

// pingSQLite opens the writer's first connection, whose pragmas switch a
// new file to WAL. When two processes open the same new file at once, that
// switch can answer SQLITE_BUSY at once instead of waiting out
// busy_timeout, so it is retried for as long as busy_timeout would wait.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(sqliteBusyTimeoutMS * time.Millisecond)
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

// Path returns the database file's path.
func (s *SQLite) Path() string { return s.path }

// Close closes the database; the store must not be used afterwards.
func (s *SQLite) Close() error {
	var errs []error
	if b, ok := s.b.(*sqliteBackend); ok && b != nil && b.lookup != nil {
		errs = append(errs, b.lookup.Close())
	}
	if s.r != nil && s.r != s.w {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	return errors.Join(errs...)
}

type sqliteBackend struct {
	w, r   *sql.DB
	lookup *sql.Stmt // LookupKey, the hot path, prepared once per connection
}

func (b *sqliteBackend) exec(ctx context.Context, q string, args ...any) (int64, error) {
	return sqlQ{b.w}.exec(ctx, q, args...)
}

func (b *sqliteBackend) query(ctx context.Context, q string, args ...any) (rows, error) {
	return sqlQ{b.r}.query(ctx, q, args...)
}

func (b *sqliteBackend) queryRow(ctx context.Context, q string, args ...any) row {
	if q == lookupKeyQuery && b.lookup != nil {
		return b.lookup.QueryRowContext(ctx, args...)
	}
	return sqlQ{b.r}.queryRow(ctx, q, args...)
}

func (b *sqliteBackend) begin(ctx context.Context) (txn, error) {
	tx, err := b.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return sqlTxn{sqlQ{tx}, tx}, nil
}

func (b *sqliteBackend) ping(ctx context.Context) error {
	if err := b.w.PingContext(ctx); err != nil {
		return err
	}
	return b.r.PingContext(ctx)
}
