package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyportal/keyportal/middleware/keystore"
)

// Timestamps are stored as BIGINT unix nanoseconds (UTC) in both backends, so
// that every query, index and cursor is the same in both dialects and no
// precision is lost. JSON lists and metadata are stored as TEXT.

// migration is one step of the schema; statements use {{blob}} for the
// dialect's byte-string type. The versions count from 1, and the last one
// is keystore.SchemaVersion. A changeLog step runs its statements only for
// a Dialect with ChangeLog, and is recorded as applied either way.
type migration struct {
	version    int
	name       string
	statements []string
	changeLog  bool
}

var migrations = []migration{
	{1, "initial schema", []string{
		`CREATE TABLE apps (
			slug                   TEXT PRIMARY KEY,
			deployment_id          TEXT NOT NULL DEFAULT '',
			tenant                 TEXT NOT NULL,
			name                   TEXT NOT NULL,
			key_prefix             TEXT NOT NULL,
			description            TEXT NOT NULL DEFAULT '',
			is_active              BOOLEAN NOT NULL,
			permissions            TEXT NOT NULL DEFAULT '[]',
			resources              TEXT NOT NULL DEFAULT '[]',
			rate_limit_scheme_slug TEXT NOT NULL DEFAULT '',
			allowed_origins        TEXT NOT NULL DEFAULT '[]',
			created_at             BIGINT NOT NULL,
			updated_at             BIGINT NOT NULL,
			deleted_at             BIGINT
		)`,
		`CREATE INDEX apps_tenant ON apps (tenant, created_at)`,
		`CREATE TABLE api_keys (
			id             TEXT PRIMARY KEY,
			app_slug       TEXT NOT NULL REFERENCES apps (slug),
			deployment_id  TEXT NOT NULL DEFAULT '',
			tenant         TEXT NOT NULL,
			name           TEXT NOT NULL,
			key_prefix     TEXT NOT NULL,
			key_suffix     TEXT NOT NULL,
			hash           TEXT NOT NULL,
			permissions    TEXT NOT NULL DEFAULT '[]',
			metadata       TEXT NOT NULL DEFAULT '{}',
			expires_at     BIGINT,
			last_used_at   BIGINT,
			is_active      BOOLEAN NOT NULL,
			created_at     BIGINT NOT NULL,
			updated_at     BIGINT NOT NULL,
			revoked_at     BIGINT,
			revoked_reason TEXT NOT NULL DEFAULT '',
			created_by     TEXT NOT NULL DEFAULT '',
			rotated_from   TEXT NOT NULL DEFAULT '',
			grace_until    BIGINT
		)`,
		`CREATE UNIQUE INDEX api_keys_hash ON api_keys (hash)`,
		`CREATE INDEX api_keys_app ON api_keys (app_slug, created_at)`,
		`CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at)`,
		`CREATE TABLE audit_events (
			id          TEXT PRIMARY KEY,
			occurred_at BIGINT NOT NULL,
			action      TEXT NOT NULL,
			outcome     TEXT NOT NULL DEFAULT '',
			reason      TEXT NOT NULL DEFAULT '',
			actor       TEXT NOT NULL DEFAULT '',
			tenant      TEXT NOT NULL DEFAULT '',
			resource    TEXT NOT NULL DEFAULT '',
			app_slug    TEXT NOT NULL DEFAULT '',
			key_id      TEXT NOT NULL DEFAULT '',
			ticket_fp   TEXT NOT NULL DEFAULT '',
			request_id  TEXT NOT NULL DEFAULT '',
			client_ip   TEXT NOT NULL DEFAULT '',
			latency_ns  BIGINT NOT NULL DEFAULT 0,
			detail      TEXT NOT NULL DEFAULT ''
		)`,
		`CREATE INDEX audit_events_time ON audit_events (occurred_at, id)`,
		`CREATE INDEX audit_events_tenant_time ON audit_events (tenant, occurred_at, id)`,
		`CREATE INDEX audit_events_app_time ON audit_events (app_slug, occurred_at, id)`,
		`CREATE TABLE used_tickets (
			id_hash    TEXT PRIMARY KEY,
			expires_at BIGINT NOT NULL
		)`,
		`CREATE INDEX used_tickets_expiry ON used_tickets (expires_at)`,
		`CREATE TABLE server_secrets (
			name       TEXT PRIMARY KEY,
			value      {{blob}} NOT NULL,
			created_at BIGINT NOT NULL
		)`,
	}, false},
	// The change log (changelog.go): seq orders the changes and never
	// goes back (AUTOINCREMENT), src is the store that made the change, so
	// that it skips its own; app_slug and key_hash are a keystore.Change.
	{2, "change log", []string{
		`CREATE TABLE changes (
			seq      INTEGER PRIMARY KEY AUTOINCREMENT,
			src      TEXT NOT NULL,
			app_slug TEXT NOT NULL,
			key_hash TEXT NOT NULL DEFAULT '',
			at       BIGINT NOT NULL
		)`,
	}, true},
	// CreateKey counts an app's keys under the cap (countedSQL) in every
	// create: this index holds what the count reads, so its cost follows
	// the app's active keys, not the revoked ones that pile up.
	{3, "index of the keys the cap counts", []string{
		`CREATE INDEX api_keys_app_live ON api_keys (app_slug, is_active, grace_until, expires_at)`,
	}, false},
	// An app's own texts of the portal page (keystore.App.Messages), a
	// JSON object by key.
	{4, "app messages", []string{
		`ALTER TABLE apps ADD COLUMN messages TEXT NOT NULL DEFAULT '{}'`,
	}, false},
	// Rate-limit schemes (schemes.go), as Wacht has them: rules is the
	// JSON list of ratelimit.SchemeRule. An app's own rules (Wacht's
	// rate_limits) are a JSON list in apps.
	{5, "rate-limit schemes", []string{
		`CREATE TABLE rate_limit_schemes (
			slug          TEXT PRIMARY KEY,
			id            TEXT NOT NULL,
			deployment_id TEXT NOT NULL DEFAULT '',
			name          TEXT NOT NULL,
			description   TEXT NOT NULL DEFAULT '',
			rules         TEXT NOT NULL DEFAULT '[]',
			created_at    BIGINT NOT NULL,
			updated_at    BIGINT NOT NULL
		)`,
		`ALTER TABLE apps ADD COLUMN rate_limits TEXT NOT NULL DEFAULT '[]'`,
		`CREATE INDEX apps_scheme ON apps (rate_limit_scheme_slug)`,
	}, false},
	// The verification log (access.go): every decision of RequireAPIKey
	// and /v1/authz/check, and its per-minute rollups (the shed counts are
	// rollup rows with outcome "shed").
	{6, "verification log", []string{
		`CREATE TABLE access_events (
			id           TEXT PRIMARY KEY,
			occurred_at  BIGINT NOT NULL,
			request_id   TEXT NOT NULL,
			latency_ns   BIGINT NOT NULL DEFAULT 0,
			app_slug     TEXT NOT NULL,
			tenant       TEXT NOT NULL DEFAULT '',
			key_id       TEXT NOT NULL DEFAULT '',
			key_name     TEXT NOT NULL DEFAULT '',
			outcome      TEXT NOT NULL,
			blocked_rule TEXT NOT NULL DEFAULT '',
			limited      BOOLEAN NOT NULL DEFAULT FALSE,
			method       TEXT NOT NULL DEFAULT '',
			path         TEXT NOT NULL DEFAULT '',
			client_ip    TEXT NOT NULL DEFAULT '',
			user_agent   TEXT NOT NULL DEFAULT ''
		)`,
		`CREATE INDEX access_events_app_time ON access_events (app_slug, occurred_at, id)`,
		`CREATE INDEX access_events_time ON access_events (occurred_at)`,
		`CREATE TABLE access_rollups (
			app_slug TEXT NOT NULL,
			minute   BIGINT NOT NULL,
			key_id   TEXT NOT NULL,
			key_name TEXT NOT NULL DEFAULT '',
			path     TEXT NOT NULL,
			outcome  TEXT NOT NULL,
			rule     TEXT NOT NULL,
			limited  BOOLEAN NOT NULL DEFAULT FALSE,
			n        BIGINT NOT NULL,
			PRIMARY KEY (app_slug, minute, key_id, path, outcome, rule)
		)`,
		`CREATE INDEX access_rollups_minute ON access_rollups (minute)`,
	}, false},
}

// Migrate applies the missing migrations and records them in
// schema_migrations, all in one transaction: a failed step leaves the
// database as it was. Dialect.MigrateLock, when set, runs first.
func (s *Store) Migrate(ctx context.Context) error {
	tx, err := s.b.Begin(ctx)
	if err != nil {
		return err
	}
	if s.d.MigrateLock != "" {
		if _, err := tx.Exec(ctx, s.d.MigrateLock); err != nil {
			tx.Rollback(ctx)
			return err
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		tx.Rollback(ctx)
		return err
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		tx.Rollback(ctx)
		return err
	}
	if current > keystore.SchemaVersion {
		tx.Rollback(ctx)
		return fmt.Errorf("keystore: database schema version %d is newer than this program's %d; upgrade the program", current, keystore.SchemaVersion)
	}
	for _, m := range migrations {
		if m.version <= current {
			continue
		}
		stmts := m.statements
		if m.changeLog && !s.d.ChangeLog {
			stmts = nil
		}
		for _, stmt := range stmts {
			if _, err := tx.Exec(ctx, strings.ReplaceAll(stmt, "{{blob}}", s.d.Blob)); err != nil {
				tx.Rollback(ctx)
				return fmt.Errorf("keystore: migration %d (%s): %w", m.version, m.name, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, ns(s.now())); err != nil {
			tx.Rollback(ctx)
			return err
		}
	}
	return tx.Commit(ctx)
}
