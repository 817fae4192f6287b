// Package postgres is the key store for many instances sharing one Postgres
// database (pgx). It is a package of its own so that programs that do not
// use it do not link pgx.
package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/sqlstore"
)

// Postgres is the store for many instances: they share the database, and
// each hears the others' key and app changes through LISTEN/NOTIFY on
// ChangeChannel, usually within milliseconds.
type Postgres struct {
	keystore.Store
	// AccessLog is the verification log: WriteAccess, QueryAccess,
	// AccessAnalytics, AccessTimeseries (audit.AccessWriter and
	// audit.AccessReader) and PruneAccess.
	sqlstore.AccessLog
	store  *sqlstore.Store
	pool   *pgxpool.Pool
	schema string

	feed     *sqlstore.Worker // nil until Open starts it
	closeOne sync.Once
}

// ChangeChannel is the Postgres NOTIFY channel of key and app changes. Each
// payload is JSON: {"schema", "src", "app", "key"} (the key hash, never a
// secret).
const ChangeChannel = "keyportal_changes"

var schemaRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// feed timing: how long the listener waits before checking that a silent
// connection is alive, and the bounds of its reconnect backoff.
const (
	feedIdleCheck  = 30 * time.Second
	feedMinBackoff = 100 * time.Millisecond
	feedMaxBackoff = 5 * time.Second
)

// Open connects to dsn (a pgx/libpq URL or key=value string), creates
// opts.Schema when set, migrates the schema, and starts listening for other
// instances' changes before it returns; ctx bounds the opening.
func Open(ctx context.Context, dsn string, opts keystore.Options) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("keystore: Postgres DSN: %w", err)
	}
	schema := opts.Schema
	if schema != "" {
		if !schemaRE.MatchString(schema) {
			return nil, fmt.Errorf("keystore: Postgres schema %q must match %s", schema, schemaRE)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("keystore: connect to Postgres: %w", err)
	}
	p := &Postgres{pool: pool, schema: schema}
	p.store = sqlstore.New(backend{querier{pool}, pool}, sqlstore.Dialect{
		Blob:        "BYTEA",
		MigrateLock: `SELECT pg_advisory_xact_lock(hashtext('keyportal.migrate.' || current_schema()))`,
		LockRow:     " FOR UPDATE",
		ShareRow:    " FOR SHARE",
		SkipLocked:  " FOR UPDATE SKIP LOCKED",
		Publish:     p.notifyChanges,
		TouchAll: func(ctx context.Context, tx sqlstore.Querier, ids []string, times []int64) error {
			_, err := tx.Exec(ctx, `UPDATE api_keys AS k SET last_used_at = v.t
				FROM unnest(?::text[], ?::bigint[]) AS v (id, t)
				WHERE k.id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.t)`, ids, times)
			return err
		},
		CopyRows: func(ctx context.Context, tx sqlstore.Querier, table string, cols []string, rows [][]any) error {
			t, ok := tx.(txn)
			if !ok {
				return fmt.Errorf("CopyRows outside a transaction")
			}
			_, err := t.tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
			return err
		},
		AsyncCommit: "SET LOCAL synchronous_commit = off",
		Unnest:      true,
	}, opts)
	p.Store, p.AccessLog = p.store, p.store
	if schema != "" {
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
			// Two instances creating it at once: one loses, and that is fine.
			var exists bool
			if qerr := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`,
				schema).Scan(&exists); qerr != nil || !exists {
				pool.Close()
				return nil, fmt.Errorf("keystore: create Postgres schema %s: %w", schema, err)
			}
		}
	}
	if err := p.store.Migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("keystore: migrate Postgres: %w", err)
	}
	p.store.StartPruning()
	ready := make(chan error, 1)
	feedCfg := cfg.ConnConfig.Copy()
	// Named, so that operators (and tests) can find the listener.
	feedCfg.RuntimeParams["application_name"] = p.FeedName()
	onErr := sqlstore.Reporter(opts.OnFeedError, "keystore.feed")
	p.feed = sqlstore.StartWorker(func(ctx context.Context) { p.listen(ctx, feedCfg, onErr, ready) })
	select {
	case err = <-ready:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("keystore: LISTEN %s: %w", ChangeChannel, err)
	}
	return p, nil
}

// PruneAudit deletes the audit events older than Options.AuditMaxAge now,
// in batches, and returns how many; the store also does so in the
// background every Options.AuditPruneEvery. Instances pruning at once
// skip each other's rows.
func (p *Postgres) PruneAudit(ctx context.Context) (int64, error) { return p.store.PruneAudit(ctx) }

// Schema returns the schema the store uses ("" for the search_path's).
func (p *Postgres) Schema() string { return p.schema }

// FeedName is the application_name of the connection that listens for other
// instances' changes (visible in pg_stat_activity).
func (p *Postgres) FeedName() string { return "keyportal-feed " + p.store.Instance() }

// Pool returns the connection pool, for callers that keep their own tables
// (the Casbin adapter) in the same database.
func (p *Postgres) Pool() *pgxpool.Pool { return p.pool }

// Close stops the change feed and closes the pool.
func (p *Postgres) Close() error {
	p.closeOne.Do(func() {
		p.feed.Stop()
		p.store.Close()
	})
	return nil
}

type changeMsg struct {
	Schema string `json:"schema"`
	Src    string `json:"src"`
	App    string `json:"app"`
	Key    string `json:"key,omitempty"`
}

// notifyChanges queues a NOTIFY per change in the transaction: Postgres
// delivers it only if, and when, the transaction commits.
func (p *Postgres) notifyChanges(ctx context.Context, tx sqlstore.Querier, changes []keystore.Change) error {
	for _, c := range changes {
		b, _ := json.Marshal(changeMsg{Schema: p.schema, Src: p.store.Instance(), App: c.AppSlug, Key: c.KeyHash})
		if _, err := tx.Exec(ctx, `SELECT pg_notify(?, ?)`, ChangeChannel, string(b)); err != nil {
			return fmt.Errorf("keystore: %w", err)
		}
	}
	return nil
}

// listen listens on a dedicated connection and hands other instances' changes
// to subscribers, reconnecting with backoff when the connection drops. The
// first outcome of connecting goes to ready.
func (p *Postgres) listen(ctx context.Context, cfg *pgx.ConnConfig, onErr func(error), ready chan<- error) {
	backoff := feedMinBackoff
	connected := false
	for ctx.Err() == nil {
		err := p.listenOnce(ctx, cfg, func() {
			if !connected {
				connected = true
				ready <- nil
			} else {
				// Changes made while we were away are lost: say so.
				p.store.Notify(keystore.Change{})
			}
			backoff = feedMinBackoff
		})
		if ctx.Err() != nil {
			return
		}
		if !connected {
			ready <- err
			return
		}
		if onErr != nil {
			onErr(fmt.Errorf("keystore: change feed: %w", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, feedMaxBackoff)
	}
}

// listenOnce connects, LISTENs, calls listening, and delivers notifications
// until the connection fails or ctx ends.
func (p *Postgres) listenOnce(ctx context.Context, cfg *pgx.ConnConfig, listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+ChangeChannel); err != nil {
		return err
	}
	listening()
	for {
		wctx, cancel := context.WithTimeout(ctx, feedIdleCheck)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if wctx.Err() != nil && !conn.PgConn().IsClosed() {
				// Quiet for a while: make sure the connection still works.
				pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err = conn.Ping(pctx)
				cancel()
				if err == nil {
					continue
				}
			}
			return err
		}
		var m changeMsg
		if json.Unmarshal([]byte(n.Payload), &m) != nil || m.Schema != p.schema || m.Src == p.store.Instance() {
			continue
		}
		p.store.Notify(keystore.Change{AppSlug: m.App, KeyHash: m.Key})
	}
}

// backend is the sqlstore.Backend of a pool.
type backend struct {
	querier
	pool *pgxpool.Pool
}

func (b backend) Begin(ctx context.Context) (sqlstore.Tx, error) {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return txn{querier{tx}, tx}, nil
}

func (b backend) Ping(ctx context.Context) error { return b.pool.Ping(ctx) }

func (b backend) Close() error {
	b.pool.Close()
	return nil
}

type txn struct {
	querier
	tx pgx.Tx
}

func (t txn) Commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t txn) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }

// querier adapts a pool or a transaction to sqlstore.Querier: it numbers
// the placeholders.
type querier struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (q querier) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.q.Exec(ctx, rebind(sql), args...)
	return tag.RowsAffected(), err
}

func (q querier) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	return q.q.Query(ctx, rebind(sql), args...)
}

func (q querier) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return q.q.QueryRow(ctx, rebind(sql), args...)
}

// rebind rewrites the store's ? placeholders to $1, $2... (its SQL has no ?
// in literals).
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
