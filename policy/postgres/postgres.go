// Package postgres keeps the Casbin policy in a Postgres table shared by
// every keyportal instance, and reloads it on all of them within a moment of
// an edit (Postgres LISTEN/NOTIFY).
//
// Rows live in <schema>.casbin_rule (id, ptype, v0 … v5), the table shape
// of Casbin's database adapters, so the same rows can be read by them. On
// every load the rows are validated by package policy exactly as a policy
// file is; a mistake is reported with the row's id (a table has no line
// numbers) and the last good policy stays in force.
//
// Edit rows through Add and Remove, which notify in the same transaction,
// or write them directly and then run Notify's SQL: SELECT pg_notify(channel,
// ”) where channel is Engine.Channel.
package postgres

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/logx"
	"github.com/keyportal/keyportal/policy"
	"github.com/keyportal/keyportal/policy/internal/policytext"
)

// Table is the name of the policy table inside the schema.
const Table = "casbin_rule"

// maxFields is how many values (v0 … v5) a row holds.
const maxFields = 6

// Config configures Open.
type Config struct {
	// Pool is the connection pool; one connection of it is held for LISTEN.
	// Required. (The Pool method of keystore/postgres's store shares the
	// key store's.)
	Pool *pgxpool.Pool
	// Schema holds the table; created if missing. Required.
	Schema string
	// ModelPath is a Casbin model file; empty means policy.DefaultModel.
	ModelPath string
	// Logger receives reloads and failures. The zero Logger means JSON lines
	// at info level on os.Stderr; zerolog.Nop() silences it.
	Logger zerolog.Logger
	// RetryInterval is the wait before listening again after the LISTEN
	// connection fails, or a reload could not read the table. Default 1 s.
	RetryInterval time.Duration
}

// Rule is one row of the table.
type Rule struct {
	// ID is the row's id, named in errors.
	ID int64
	// PType is the policy type: p, g, g2, g3 ...
	PType string
	// Values are v0 … v5, trailing empty ones left out.
	Values []string
}

// RowError is a mistake in a row: the table's counterpart of
// policy.FileError. It wraps the engine's error.
type RowError struct {
	// Table is schema.casbin_rule.
	Table string
	// ID is the row's id; 0 when the mistake is not in one row.
	ID int64
	// Msg says what is wrong.
	Msg string
}

// Error returns "schema.casbin_rule id 7: msg".
func (e *RowError) Error() string {
	if e.ID == 0 {
		return e.Table + ": " + e.Msg
	}
	return fmt.Sprintf("%s id %d: %s", e.Table, e.ID, e.Msg)
}

// Engine is a policy.Engine over the table, swapped for a new one whenever
// the rows change and validate. It implements policy.Decider,
// policy.TenantStatuser and policy.RoleSource.
type Engine struct {
	cfg     Config
	log     zerolog.Logger
	table   string // quoted schema.table
	name    string // schema.table for messages
	channel string

	cur     atomic.Pointer[policy.Engine]
	lastErr atomic.Pointer[error]
	reload  sync.Mutex

	cancel   context.CancelFunc
	done     chan struct{}
	closeOne sync.Once
}

// Open creates the table if missing, loads and validates the rows, and
// starts listening for changes. A bad policy fails Open with a *RowError.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.Pool == nil {
		return nil, errors.New("policy/postgres: Config.Pool is required")
	}
	if cfg.Schema == "" {
		return nil, errors.New("policy/postgres: Config.Schema is required")
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = time.Second
	}
	e := &Engine{
		cfg:     cfg,
		log:     logx.Or(cfg.Logger, "policy"),
		table:   pgx.Identifier{cfg.Schema, Table}.Sanitize(),
		name:    cfg.Schema + "." + Table,
		channel: "keyportal_policy:" + cfg.Schema,
		done:    make(chan struct{}),
	}
	if err := e.createTable(ctx); err != nil {
		return nil, err
	}
	pe, err := e.build(ctx)
	if err != nil {
		return nil, err
	}
	e.cur.Store(pe)
	lctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	ready := make(chan struct{})
	go e.listen(lctx, ready)
	select {
	case <-ready:
	case <-ctx.Done():
		cancel()
		<-e.done
		return nil, fmt.Errorf("policy/postgres: listen: %w", ctx.Err())
	}
	return e, nil
}

func (e *Engine) createTable(ctx context.Context) error {
	// Serialised by an advisory lock: instances starting together would
	// otherwise race on CREATE ... IF NOT EXISTS.
	tx, err := e.cfg.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("policy/postgres: %w", err)
	}
	defer tx.Rollback(ctx)
	stmts := []string{
		`SELECT pg_advisory_xact_lock(hashtext('keyportal-pgpolicy:' || $1))`,
		`CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{e.cfg.Schema}.Sanitize(),
		`CREATE TABLE IF NOT EXISTS ` + e.table + ` (
			id bigserial PRIMARY KEY,
			ptype text NOT NULL,
			v0 text NOT NULL DEFAULT '', v1 text NOT NULL DEFAULT '', v2 text NOT NULL DEFAULT '',
			v3 text NOT NULL DEFAULT '', v4 text NOT NULL DEFAULT '', v5 text NOT NULL DEFAULT '')`,
	}
	for i, q := range stmts {
		var args []any
		if i == 0 {
			args = []any{e.cfg.Schema}
		}
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("policy/postgres: create %s: %w", e.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("policy/postgres: create %s: %w", e.name, err)
	}
	return nil
}

// Channel is the NOTIFY channel that makes every instance reload.
func (e *Engine) Channel() string { return e.channel }

// Rules returns the rows in id order.
func (e *Engine) Rules(ctx context.Context) ([]Rule, error) {
	rows, err := e.cfg.Pool.Query(ctx, `SELECT id, ptype, v0, v1, v2, v3, v4, v5 FROM `+e.table+` ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("policy/postgres: read %s: %w", e.name, err)
	}
	defer rows.Close()
	var out []Rule
	for rows.Next() {
		var r Rule
		v := make([]string, maxFields)
		if err := rows.Scan(&r.ID, &r.PType, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]); err != nil {
			return nil, fmt.Errorf("policy/postgres: read %s: %w", e.name, err)
		}
		for len(v) > 0 && v[len(v)-1] == "" {
			v = v[:len(v)-1]
		}
		r.Values = v
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("policy/postgres: read %s: %w", e.name, err)
	}
	return out, nil
}

// build reads the rows and builds an engine over them, or says which row is
// wrong.
func (e *Engine) build(ctx context.Context) (*policy.Engine, error) {
	rules, err := e.Rules(ctx)
	if err != nil {
		return nil, err
	}
	var sb strings.Builder
	w := csv.NewWriter(&sb)
	for _, r := range rules {
		if err := checkRule(r.PType, r.Values); err != nil {
			return nil, &RowError{Table: e.name, ID: r.ID, Msg: err.Error()}
		}
		_ = w.Write(append([]string{r.PType}, r.Values...))
	}
	w.Flush()
	// The snapshot's own engine logs nothing: this Engine logs its reloads.
	pe, err := policy.New(policy.Config{ModelPath: e.cfg.ModelPath, PolicyText: sb.String(), Logger: zerolog.Nop()})
	if err != nil {
		var fe *policy.FileError
		// Row i is line i+1 of the text: name the row, not the line.
		if errors.As(err, &fe) && fe.Path != e.cfg.ModelPath && fe.Line >= 1 && fe.Line <= len(rules) {
			return nil, &RowError{Table: e.name, ID: rules[fe.Line-1].ID, Msg: fe.Msg}
		}
		if errors.As(err, &fe) && fe.Path != e.cfg.ModelPath {
			return nil, &RowError{Table: e.name, Msg: fe.Msg}
		}
		return nil, err
	}
	return pe, nil
}

// checkRule refuses what could not be written as one line of a policy
// file, or would be read as a comment.
func checkRule(ptype string, values []string) error {
	if ptype == "" {
		return errors.New("ptype is empty")
	}
	for _, c := range ptype {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("ptype %q must be lower-case letters, digits or _", ptype)
		}
	}
	if len(values) > maxFields {
		return fmt.Errorf("%d values; at most %d", len(values), maxFields)
	}
	for i, v := range values {
		if strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("v%d holds a line break", i)
		}
		if policytext.TrailingComment(v) != "" {
			return fmt.Errorf("v%d holds a # after a space, which a policy file reads as a comment after the row", i)
		}
	}
	return nil
}

// Reload reads the table again. If the rows do not validate, the last good
// policy stays in force, the error is logged and kept for LastError, and a
// *RowError is returned.
func (e *Engine) Reload(ctx context.Context) error {
	e.reload.Lock()
	defer e.reload.Unlock()
	pe, err := e.build(ctx)
	if err != nil {
		e.lastErr.Store(&err)
		ev := e.log.Error().Err(err).Str("event", "policy.reload").Str("policy", e.name)
		var re *RowError
		if errors.As(err, &re) {
			ev = ev.Int64("row_id", re.ID)
		}
		ev.Msg("policy reload failed; keeping the last good policy")
		return err
	}
	old := e.cur.Swap(pe)
	if old != nil {
		_ = old.Close()
	}
	e.lastErr.Store(nil)
	e.log.Info().Str("event", "policy.reload").Str("policy", e.name).Msg("policy reloaded")
	return nil
}

// LastError returns the error of the last reload, or nil.
func (e *Engine) LastError() error {
	if p := e.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// listen holds one connection in LISTEN and reloads on every notification.
// After a lost connection it listens again and reloads once, since
// notifications sent meanwhile were missed. A reload that could not read the
// table ends the connection the same way, so the change it was told of is
// loaded once the table answers, not at the next edit.
func (e *Engine) listen(ctx context.Context, ready chan struct{}) {
	defer close(e.done)
	first := true
	for ctx.Err() == nil {
		err := e.listenOnce(ctx, func() error {
			if first {
				first = false
				close(ready)
				return nil
			}
			return e.reloadFeed(ctx)
		})
		if ctx.Err() != nil {
			return
		}
		e.log.Warn().Err(err).Str("event", "policy.listen").Msg("policy/postgres: change feed lost or table unreadable; listening again")
		select {
		case <-ctx.Done():
			return
		case <-time.After(e.cfg.RetryInterval):
		}
	}
}

// reloadFeed is Reload for the change feed. It returns the error of a
// reload that could not read the table, which must be tried again; a bad row
// or model is not (Reload logged it and keeps it for LastError), since only
// an edit, which notifies, mends it.
func (e *Engine) reloadFeed(ctx context.Context) error {
	err := e.Reload(ctx)
	var re *RowError
	var fe *policy.FileError
	if err == nil || errors.As(err, &re) || errors.As(err, &fe) {
		return nil
	}
	return err
}

func (e *Engine) listenOnce(ctx context.Context, listening func() error) error {
	conn, err := e.cfg.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection will be in LISTEN state: never give it back to the pool.
	pc := conn.Hijack()
	defer pc.Close(context.Background())
	if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{e.channel}.Sanitize()); err != nil {
		return err
	}
	if err := listening(); err != nil {
		return err
	}
	for {
		if _, err := pc.WaitForNotification(ctx); err != nil {
			return err
		}
		// Errors are logged and kept by Reload; the old policy stays.
		if err := e.reloadFeed(ctx); err != nil {
			return err
		}
	}
}

// Add inserts a row and notifies every instance, in one transaction.
// The row is checked for shape here; whether it fits the model is checked
// by every instance's reload (see LastError).
func (e *Engine) Add(ctx context.Context, ptype string, values ...string) (int64, error) {
	if err := checkRule(ptype, values); err != nil {
		return 0, fmt.Errorf("policy/postgres: %w", err)
	}
	v := make([]any, maxFields)
	for i := range v {
		v[i] = ""
		if i < len(values) {
			v[i] = values[i]
		}
	}
	var id int64
	err := pgx.BeginFunc(ctx, e.cfg.Pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO `+e.table+` (ptype, v0, v1, v2, v3, v4, v5)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, append([]any{ptype}, v...)...).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, e.channel)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("policy/postgres: add to %s: %w", e.name, err)
	}
	return id, nil
}

// Remove deletes row id and notifies every instance, in one transaction.
func (e *Engine) Remove(ctx context.Context, id int64) error {
	return pgx.BeginFunc(ctx, e.cfg.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM `+e.table+` WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("policy/postgres: remove from %s: %w", e.name, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("policy/postgres: %s has no row with id %s", e.name, strconv.FormatInt(id, 10))
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, '')`, e.channel)
		return err
	})
}

// Decide answers r with the policy in force.
func (e *Engine) Decide(ctx context.Context, r policy.Request) (policy.Decision, error) {
	return e.cur.Load().Decide(ctx, r)
}

// TenantStatus tells a tenant's status under the policy in force.
func (e *Engine) TenantStatus(ctx context.Context, tenant string) (policy.TenantStatus, error) {
	return e.cur.Load().TenantStatus(ctx, tenant)
}

// Roles returns the roles subject holds in tenant under the policy in force.
func (e *Engine) Roles(ctx context.Context, subject, tenant string) ([]string, error) {
	return e.cur.Load().Roles(ctx, subject, tenant)
}

// Close stops listening and releases its connection.
func (e *Engine) Close() error {
	e.closeOne.Do(func() {
		e.cancel()
		<-e.done
	})
	return nil
}
