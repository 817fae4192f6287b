// Package sqlstore is the key store both SQL drivers share: every query,
// the schema and its migrations, validation, group commit and change
// subscriptions. The driver packages (keystore/sqlite, keystore/postgres)
// connect, hand it a Backend and a Dialect, and embed the Store it returns.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/keyportal/keyportal/middleware/keystore"
)

// Every query is written with ? placeholders; a Backend whose database
// numbers them ($1, $2...) rewrites them.

// Querier runs queries, on the database or in a transaction.
type Querier interface {
	Exec(ctx context.Context, q string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, q string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) Row
}

// Tx is a write transaction.
type Tx interface {
	Querier
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Rows is the result of Query.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is the result of QueryRow; its Scan returns an error wrapping
// sql.ErrNoRows when there is no row.
type Row interface {
	Scan(dest ...any) error
}

// Backend is one database: reads go to Query and QueryRow, writes to a
// transaction from Begin.
type Backend interface {
	Querier
	Begin(ctx context.Context) (Tx, error)
	Ping(ctx context.Context) error
	// Close releases the connections; the Store's Close calls it.
	Close() error
}

// Dialect is what differs between the databases beyond the connection.
type Dialect struct {
	// Blob is the column type of byte strings ("BLOB", "BYTEA").
	Blob string
	// MigrateLock, when set, runs first in the migration transaction
	// (Postgres takes an advisory lock, so that instances starting
	// together do not race); "" when write transactions are exclusive
	// already (SQLite).
	MigrateLock string
	// LockRow and ShareRow end a SELECT that must lock the row it reads
	// (" FOR UPDATE", " FOR SHARE"); "" when write transactions are
	// exclusive (SQLite).
	LockRow, ShareRow string
	// SkipLocked ends the SELECT of the rows a pruning DELETE removes
	// (" FOR UPDATE SKIP LOCKED", so that instances pruning at once take
	// disjoint rows instead of waiting); "" when write transactions are
	// exclusive (SQLite).
	SkipLocked string
	// Publish, when set, runs inside the transaction of every change (the
	// Postgres NOTIFY); local subscribers are called after commit.
	Publish func(ctx context.Context, tx Querier, changes []keystore.Change) error
	// ChangeLog keeps the change log: the table changes exists, every
	// change is appended to it in its own transaction, and other processes
	// read it with ChangesSince (SQLite, whose processes cannot notify each
	// other). false leaves the table out of the schema (Postgres, which has
	// NOTIFY).
	ChangeLog bool
	// TouchAll, when set, updates last_used_at of many keys in one
	// statement (Postgres); nil means one UPDATE per key (cheap in SQLite,
	// where there is no round trip).
	TouchAll func(ctx context.Context, tx Querier, ids []string, times []int64) error
	// CopyRows, when set, inserts many rows into table in one bulk
	// statement (Postgres COPY): the verification log's raw events. Nil
	// means multi-row INSERTs.
	CopyRows func(ctx context.Context, tx Querier, table string, cols []string, rows [][]any) error
	// AsyncCommit, when set, runs first in the verification log's write
	// transactions so that they do not wait for the WAL flush (Postgres
	// "SET LOCAL synchronous_commit = off"): the log is best effort (it
	// sheds under overload), and a crash loses at most the last fraction
	// of a second of it, never a key or audit change.
	AsyncCommit string
	// Unnest, when true, passes the rows of the rollup upsert as one array
	// per column (Postgres unnest) instead of a parameter per value.
	Unnest bool
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
