package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keyportal/keyportal/middleware/keystore/internal/sqlstore"
)

// DefaultPollInterval is how often a store looks for other processes'
// changes when keystore.Options.PollInterval is zero.
const DefaultPollInterval = 100 * time.Millisecond

// feed hands the changes other processes commit to the file (the CLI, a
// second server) to this store's subscribers, as the Postgres feed does with
// NOTIFY. Every interval it asks a connection of its own for PRAGMA
// data_version, which moves when any other connection has committed; only
// then does it read the change log past the last row it saw. A quiet file
// costs one pragma per interval, and requests never wait for the feed.
type feed struct {
	store *sqlstore.Store
	db    *sql.DB // one read-only connection, the feed's own
	onErr func(error)

	conn    *sql.Conn // nil after a failure: reconnect at the next poll
	version int64     // conn's data_version when the log was last read
	known   bool      // version is conn's (false after a reconnect)
	seq     int64     // the last change-log row read
	failing bool      // the last poll failed

	poller *sqlstore.Worker
}

// startFeed opens the feed's connection on dsn, notes where the change log
// ends, and polls every interval until close.
func startFeed(ctx context.Context, dsn string, store *sqlstore.Store, every time.Duration, onErr func(error)) (*feed, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	f := &feed{store: store, db: db, onErr: onErr}
	// The version first: a commit between the two reads is then read
	// again at the first poll, never missed.
	if err := f.connect(ctx); err == nil {
		f.known = true
		err = f.conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&f.version)
	}
	if err == nil {
		f.seq, err = store.LastChange(ctx, querier{f.conn})
	}
	if err != nil {
		f.dropConn()
		db.Close()
		return nil, err
	}
	f.poller = sqlstore.StartWorker(func(ctx context.Context) { sqlstore.Every(ctx, every, every, f.tick) })
	return f, nil
}

// tick polls once and reports the first failure of a run of them: the log
// keeps what is missed meanwhile, and the next poll that works delivers it.
func (f *feed) tick(ctx context.Context) {
	err := f.poll(ctx)
	if ctx.Err() != nil {
		return
	}
	if err != nil && !f.failing && f.onErr != nil {
		f.onErr(fmt.Errorf("keystore: change feed of SQLite: %w", err))
	}
	f.failing = err != nil
}

// poll delivers the changes other processes committed since the last poll.
func (f *feed) poll(ctx context.Context) error {
	if f.conn == nil {
		if err := f.connect(ctx); err != nil {
			return err
		}
	}
	var v int64
	if err := f.conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		f.dropConn()
		return err
	}
	if f.known && v == f.version {
		return nil
	}
	changes, seq, err := f.store.ChangesSince(ctx, querier{f.conn}, f.seq)
	if err != nil {
		f.dropConn()
		return err
	}
	f.version, f.known, f.seq = v, true, seq
	f.store.Notify(changes...)
	return nil
}

// connect takes the feed's connection. data_version is per connection, so
// a new one's is not comparable with the last: the next poll reads the log.
func (f *feed) connect(ctx context.Context) error {
	conn, err := f.db.Conn(ctx)
	if err != nil {
		return err
	}
	f.conn, f.known = conn, false
	return nil
}

func (f *feed) dropConn() {
	if f.conn != nil {
		f.conn.Close()
		f.conn = nil
	}
}

// close stops polling and closes the feed's connection.
func (f *feed) close() error {
	f.poller.Stop()
	f.dropConn()
	return f.db.Close()
}
