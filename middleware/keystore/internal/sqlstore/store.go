package sqlstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// Store is the keystore.Store both drivers share; they differ only in how
// they connect (Backend) and in their Dialect. Build it with New, then
// Migrate.
type Store struct {
	b   Backend
	d   Dialect
	now func() time.Time
	// subs are told of committed changes.
	subs keystore.Subscribers
	// lastPurge is when expired used tickets were last deleted (unix ns).
	lastPurge atomic.Int64
	// batch group-commits audit events and used tickets.
	batch batcher
	// instance tells this store's changes from other processes' (the
	// Postgres NOTIFY payload's src, the change log's src column).
	instance string
	// maxActive is the cap on each app's active keys; 0 means none.
	maxActive int
	// Audit retention (retention.go): the maximum age (negative: keep
	// forever), the pruning period, and the loop (nil when not running).
	auditMaxAge, pruneEvery time.Duration
	onPruneError            func(error)
	pruner                  *Worker

	// Verification log retention (negative: keep forever).
	accessMaxAge, rollupMaxAge time.Duration
}

var _ keystore.Store = (*Store)(nil)

// New returns the store on b. opts.Now is its clock (nil means time.Now)
// and opts.MaxActiveKeys its cap on each app's active keys; the other
// options are the drivers'.
func New(b Backend, d Dialect, opts keystore.Options) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Store{b: b, d: d, now: now, instance: NewID("inst_"), maxActive: opts.MaxActiveKeys}
	switch {
	case s.maxActive == 0:
		s.maxActive = keystore.DefaultMaxActiveKeys
	case s.maxActive < 0:
		s.maxActive = 0
	}
	s.auditMaxAge, s.pruneEvery, s.accessMaxAge, s.rollupMaxAge = retention(opts)
	s.onPruneError = Reporter(opts.OnPruneError, "keystore.prune")
	return s
}

// Instance is the random id that tells this store's changes from those of
// other stores (processes) on the same database.
func (s *Store) Instance() string { return s.instance }

// ticketPurgeEvery is how often ConsumeTicket deletes used tickets that have
// expired; ticketPurgeMargin keeps them a while longer so that an instance
// whose clock lags cannot accept a replay of a ticket another forgot.
const (
	ticketPurgeEvery  = time.Minute
	ticketPurgeMargin = 5 * time.Minute
)

func ns(t time.Time) int64 { return t.UnixNano() }

// Stored times are int64 unix nanoseconds, so they lie between the years
// 1678 and 2262: UnixNano of a time outside wraps round. maxStored is the
// last storable instant (validNewKey refuses an expiry after it); query
// bounds are clamped to [minBound, maxBound] (queryBound), an hour inside
// the range so that the minute arithmetic of accessSource cannot overflow.
var (
	maxStored = time.Unix(0, math.MaxInt64)
	minBound  = time.Unix(0, math.MinInt64+int64(time.Hour))
	maxBound  = time.Unix(0, math.MaxInt64-int64(time.Hour))
)

// queryBound is ns of a query's time bound, clamped to the range of stored
// times, so that a bound past it (an end_date of 9999-12-31) reaches as far
// as any stored time instead of wrapping round to another window.
func queryBound(t time.Time) int64 {
	switch {
	case t.Before(minBound):
		return ns(minBound)
	case t.After(maxBound):
		return ns(maxBound)
	}
	return ns(t)
}

func fromNS(n int64) time.Time { return time.Unix(0, n).UTC() }

func nullNS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixNano()
}

func fromNullNS(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromNS(n.Int64)
	return &t
}

func dbErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("keystore: %w", err)
}

// write runs fn in a write transaction, publishes the changes it returns in
// that transaction and, once committed, tells local subscribers.
func (s *Store) write(ctx context.Context, fn func(tx Querier) ([]keystore.Change, error)) error {
	tx, err := s.b.Begin(ctx)
	if err != nil {
		return dbErr(err)
	}
	changes, err := fn(tx)
	if err == nil && len(changes) > 0 && s.d.ChangeLog {
		err = s.logChanges(ctx, tx, changes)
	}
	if err == nil && len(changes) > 0 && s.d.Publish != nil {
		err = s.d.Publish(ctx, tx, changes)
	}
	if err != nil {
		tx.Rollback(ctx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return dbErr(err)
	}
	s.subs.Notify(changes...)
	return nil
}

// --- apps ---

const appCols = `slug, deployment_id, tenant, name, key_prefix, description, is_active, permissions,
	resources, rate_limit_scheme_slug, allowed_origins, created_at, updated_at, deleted_at, messages, rate_limits`

type appScan struct {
	a                                     keystore.App
	perms, res, origins, messages, limits string
	created, updated                      int64
	deleted                               sql.NullInt64
}

func (s *appScan) dest() []any {
	a := &s.a
	return []any{&a.Slug, &a.DeploymentID, &a.Tenant, &a.Name, &a.KeyPrefix, &a.Description, &a.IsActive,
		&s.perms, &s.res, &a.RateLimitSchemeSlug, &s.origins, &s.created, &s.updated, &s.deleted, &s.messages, &s.limits}
}

func (s *appScan) value() (keystore.App, error) {
	a := s.a
	var err error
	if err := decodeList(s.perms, &a.Permissions); err != nil {
		return keystore.App{}, err
	}
	if err := decodeList(s.res, &a.Resources); err != nil {
		return keystore.App{}, err
	}
	if err := decodeList(s.origins, &a.AllowedOrigins); err != nil {
		return keystore.App{}, err
	}
	if err := decodeRules(s.limits, &a.RateLimits); err != nil {
		return keystore.App{}, err
	}
	if a.Messages, err = decodeMessages(s.messages); err != nil {
		return keystore.App{}, err
	}
	a.CreatedAt, a.UpdatedAt, a.DeletedAt = fromNS(s.created), fromNS(s.updated), fromNullNS(s.deleted)
	return a, nil
}

// decodeMessages reads the messages column: nil for none.
func decodeMessages(s string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("keystore: corrupt messages column: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// encodeMessages is the messages column of m.
func encodeMessages(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func decodeList(s string, into *[]string) error {
	*into = []string{}
	if err := json.Unmarshal([]byte(s), into); err != nil {
		return fmt.Errorf("keystore: corrupt list column %q: %w", s, err)
	}
	return nil
}

func (s *Store) getApp(ctx context.Context, q Querier, slug, lock string) (keystore.App, error) {
	notFound := fmt.Errorf("%w: app %q", keystore.ErrNotFound, slug)
	if cleanText(slug) != slug { // not storable, so not stored; Postgres would fail the query
		return keystore.App{}, notFound
	}
	return getRow[keystore.App, appScan](ctx, q, notFound, `SELECT `+appCols+` FROM apps WHERE slug = ?`+lock, slug)
}

func appEvent(action string, a keystore.App, by keystore.Actor, now time.Time) audit.Event {
	return audit.Event{Time: now, Action: action, Outcome: audit.OutcomeSuccess, Actor: by.Name,
		Tenant: a.Tenant, Resource: a.DeploymentID, AppSlug: a.Slug, RequestID: by.RequestID, ClientIP: by.ClientIP}
}

// CreateApp creates an active app; IsActive, CreatedAt, UpdatedAt and
// DeletedAt of app are ignored. ErrConflict if the slug is taken (also by a
// deleted app), ErrInvalid if a field breaks a rule.
func (s *Store) CreateApp(ctx context.Context, app keystore.App, by keystore.Actor) (keystore.App, error) {
	if err := validApp(&app, nil); err != nil {
		return keystore.App{}, err
	}
	now := s.now()
	app.IsActive, app.CreatedAt, app.UpdatedAt, app.DeletedAt = true, now.UTC(), now.UTC(), nil
	if app.Permissions == nil {
		app.Permissions = []string{}
	}
	if app.Resources == nil {
		app.Resources = []string{}
	}
	if app.RateLimits == nil {
		app.RateLimits = []ratelimit.SchemeRule{}
	}
	err := s.write(ctx, func(tx Querier) ([]keystore.Change, error) {
		if err := s.schemeExists(ctx, tx, app.RateLimitSchemeSlug); err != nil {
			return nil, err
		}
		n, err := tx.Exec(ctx, `INSERT INTO apps (`+appCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)
			ON CONFLICT (slug) DO NOTHING`,
			app.Slug, app.DeploymentID, app.Tenant, app.Name, app.KeyPrefix, app.Description, app.IsActive,
			encodeList(app.Permissions), encodeList(app.Resources), app.RateLimitSchemeSlug,
			encodeList(app.AllowedOrigins), ns(now), ns(now), encodeMessages(app.Messages), encodeRules(app.RateLimits))
		if err != nil {
			return nil, dbErr(err)
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: app %q", keystore.ErrConflict, app.Slug)
		}
		if err := s.insertEvent(ctx, tx, appEvent(audit.ActionAppCreated, app, by, now)); err != nil {
			return nil, err
		}
		return []keystore.Change{{AppSlug: app.Slug}}, nil
	})
	if err != nil {
		return keystore.App{}, err
	}
	return app, nil
}

// GetApp returns the app, deleted or not; ErrNotFound if there is none.
func (s *Store) GetApp(ctx context.Context, slug string) (keystore.App, error) {
	return s.getApp(ctx, s.b, slug, "")
}

// ListApps returns the apps f selects, oldest first.
func (s *Store) ListApps(ctx context.Context, f keystore.AppFilter) ([]keystore.App, error) {
	var c conds
	if f.Tenant != "" {
		c.add("tenant = ?", cleanText(f.Tenant))
	}
	if !f.IncludeInactive {
		c.add("is_active = ? AND deleted_at IS NULL", true)
	}
	return queryAll(ctx, s.b, `SELECT `+appCols+` FROM apps`+c.clause()+` ORDER BY created_at, slug`, c.args,
		scanRow[keystore.App, appScan])
}

// UpdateApp applies p; ErrNotFound for an unknown app, ErrInactive for a
// deleted one.
func (s *Store) UpdateApp(ctx context.Context, slug string, p keystore.AppPatch, by keystore.Actor) (keystore.App, error) {
	var out keystore.App
	err := s.write(ctx, func(tx Querier) ([]keystore.Change, error) {
		a, err := s.getApp(ctx, tx, slug, s.d.LockRow)
		if err != nil {
			return nil, err
		}
		prev := a
		if a.DeletedAt != nil {
			return nil, fmt.Errorf("%w: app %q is deleted", keystore.ErrInactive, slug)
		}
		var changed []string
		if p.Name != nil {
			a.Name, changed = *p.Name, append(changed, "name")
		}
		if p.Description != nil {
			a.Description, changed = *p.Description, append(changed, "description")
		}
		if p.IsActive != nil {
			a.IsActive, changed = *p.IsActive, append(changed, "is_active="+strconv.FormatBool(*p.IsActive))
		}
		if p.Permissions != nil {
			a.Permissions, changed = append([]string{}, *p.Permissions...), append(changed, "permissions")
		}
		if p.Resources != nil {
			a.Resources, changed = append([]string{}, *p.Resources...), append(changed, "resources")
		}
		if p.AllowedOrigins != nil {
			a.AllowedOrigins, changed = append([]string{}, *p.AllowedOrigins...), append(changed, "allowed_origins")
		}
		if p.Messages != nil {
			a.Messages, changed = maps.Clone(*p.Messages), append(changed, "messages")
			if len(a.Messages) == 0 {
				a.Messages = nil
			}
		}
		if p.RateLimitSchemeSlug != nil {
			a.RateLimitSchemeSlug, changed = *p.RateLimitSchemeSlug, append(changed, "rate_limit_scheme_slug")
		}
		if p.RateLimits != nil {
			a.RateLimits, changed = append([]ratelimit.SchemeRule{}, *p.RateLimits...), append(changed, "rate_limits")
		}
		if err := validApp(&a, &prev); err != nil {
			return nil, err
		}
		if a.RateLimitSchemeSlug != prev.RateLimitSchemeSlug {
			if err := s.schemeExists(ctx, tx, a.RateLimitSchemeSlug); err != nil {
				return nil, err
			}
		}
		now := s.now()
		a.UpdatedAt = now.UTC()
		if _, err := tx.Exec(ctx, `UPDATE apps SET name = ?, description = ?, is_active = ?, permissions = ?,
			resources = ?, allowed_origins = ?, messages = ?, rate_limit_scheme_slug = ?, rate_limits = ?, updated_at = ? WHERE slug = ?`,
			a.Name, a.Description, a.IsActive, encodeList(a.Permissions), encodeList(a.Resources),
			encodeList(a.AllowedOrigins), encodeMessages(a.Messages), a.RateLimitSchemeSlug, encodeRules(a.RateLimits), ns(now), slug); err != nil {
			return nil, dbErr(err)
		}
		ev := appEvent(audit.ActionAppUpdated, a, by, now)
		ev.Detail = "changed: " + strings.Join(changed, ", ")
		if err := s.insertEvent(ctx, tx, ev); err != nil {
			return nil, err
		}
		out = a
		return []keystore.Change{{AppSlug: slug}}, nil
	})
	return out, err
}

// DeleteApp soft-deletes the app (deleted_at set, is_active false); its keys
// stay, unusable. ErrInactive if it was deleted already.
func (s *Store) DeleteApp(ctx context.Context, slug string, by keystore.Actor) error {
	return s.write(ctx, func(tx Querier) ([]keystore.Change, error) {
		a, err := s.getApp(ctx, tx, slug, s.d.LockRow)
		if err != nil {
			return nil, err
		}
		if a.DeletedAt != nil {
			return nil, fmt.Errorf("%w: app %q is deleted already", keystore.ErrInactive, slug)
		}
		now := s.now()
		if _, err := tx.Exec(ctx, `UPDATE apps SET is_active = ?, deleted_at = ?, updated_at = ? WHERE slug = ?`,
			false, ns(now), ns(now), slug); err != nil {
			return nil, dbErr(err)
		}
		if err := s.insertEvent(ctx, tx, appEvent(audit.ActionAppDeleted, a, by, now)); err != nil {
			return nil, err
		}
		return []keystore.Change{{AppSlug: slug}}, nil
	})
}

// --- keys ---

// KeyCols are the columns of api_keys, in the order the store reads and
// writes them.
const KeyCols = `id, deployment_id, app_slug, tenant, name, key_prefix, key_suffix, permissions, metadata,
	expires_at, last_used_at, is_active, created_at, updated_at, revoked_at, revoked_reason, created_by,
	rotated_from, grace_until, hash`

type keyScan struct {
	k                                 keystore.Key
	perms, meta                       string
	expires, lastUsed, revoked, grace sql.NullInt64
	created, updated                  int64
}

func (s *keyScan) dest() []any {
	k := &s.k
	return []any{&k.ID, &k.DeploymentID, &k.AppSlug, &k.Tenant, &k.Name, &k.KeyPrefix, &k.KeySuffix,
		&s.perms, &s.meta, &s.expires, &s.lastUsed, &k.IsActive, &s.created, &s.updated, &s.revoked,
		&k.RevokedReason, &k.CreatedBy, &k.RotatedFrom, &s.grace, &k.Hash}
}

func (s *keyScan) value() (keystore.Key, error) {
	k := s.k
	if err := decodeList(s.perms, &k.Permissions); err != nil {
		return keystore.Key{}, err
	}
	k.Metadata = map[string]any{}
	if err := json.Unmarshal([]byte(s.meta), &k.Metadata); err != nil {
		return keystore.Key{}, fmt.Errorf("keystore: corrupt metadata of key %s: %w", k.ID, err)
	}
	k.ExpiresAt, k.LastUsedAt = fromNullNS(s.expires), fromNullNS(s.lastUsed)
	k.CreatedAt, k.UpdatedAt = fromNS(s.created), fromNS(s.updated)
	k.RevokedAt, k.GraceUntil = fromNullNS(s.revoked), fromNullNS(s.grace)
	return k, nil
}

func (s *Store) getKey(ctx context.Context, q Querier, appSlug, id, lock string) (keystore.Key, error) {
	notFound := fmt.Errorf("%w: key %q of app %q", keystore.ErrNotFound, id, appSlug)
	if cleanText(appSlug) != appSlug || cleanText(id) != id {
		return keystore.Key{}, notFound
	}
	return getRow[keystore.Key, keyScan](ctx, q, notFound,
		`SELECT `+KeyCols+` FROM api_keys WHERE id = ? AND app_slug = ?`+lock, id, appSlug)
}

func (s *Store) insertKey(ctx context.Context, tx Querier, k keystore.Key) error {
	meta, err := encodeMetadata(k.Metadata)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO api_keys (`+KeyCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.DeploymentID, k.AppSlug, k.Tenant, k.Name, k.KeyPrefix, k.KeySuffix,
		encodeList(k.Permissions), meta, nullNS(k.ExpiresAt), nullNS(k.LastUsedAt), k.IsActive,
		ns(k.CreatedAt), ns(k.UpdatedAt), nullNS(k.RevokedAt), k.RevokedReason, k.CreatedBy,
		k.RotatedFrom, nullNS(k.GraceUntil), k.Hash)
	return dbErr(err)
}

func keyEvent(action string, k keystore.Key, by keystore.Actor, now time.Time) audit.Event {
	return audit.Event{Time: now, Action: action, Outcome: audit.OutcomeSuccess, Actor: by.Name,
		Tenant: k.Tenant, Resource: k.DeploymentID, AppSlug: k.AppSlug, KeyID: k.ID,
		RequestID: by.RequestID, ClientIP: by.ClientIP}
}

// newKey builds a fresh active key of app and its secret.
func newKey(app keystore.App, name string, perms []string, meta map[string]any, expires *time.Time, by keystore.Actor, now time.Time) (keystore.Key, string) {
	secret := newSecret(app.KeyPrefix)
	if perms == nil {
		perms = []string{}
	}
	if meta == nil {
		meta = map[string]any{}
	}
	k := keystore.Key{
		ID: NewID("key_"), DeploymentID: app.DeploymentID, AppSlug: app.Slug, Tenant: app.Tenant,
		Name: name, KeyPrefix: app.KeyPrefix, KeySuffix: keySuffix(secret), Permissions: perms,
		Metadata: meta, IsActive: true, CreatedAt: now.UTC(), UpdatedAt: now.UTC(), CreatedBy: cleanText(by.Name),
		Hash: keystore.HashSecret(secret),
	}
	if expires != nil {
		e := expires.UTC()
		k.ExpiresAt = &e
	}
	return k, secret
}

// CreateKey makes a key of an active app and returns it with its secret.
// ErrNotFound for an unknown app, ErrInactive for a disabled or deleted one,
// a *keystore.KeyLimitError (ErrKeyLimit) when the app is at the cap.
func (s *Store) CreateKey(ctx context.Context, nk keystore.NewKey, by keystore.Actor) (keystore.Key, string, error) {
	now := s.now()
	if _, err := validNewKey(nk, now); err != nil {
		return keystore.Key{}, "", err
	}
	var k keystore.Key
	var secret string
	// Under a cap, creates of one app take turns on the app's row (SQLite's
	// write transactions take turns anyway), so that each counts the keys
	// the one before it committed.
	lock := s.d.ShareRow
	if s.maxActive > 0 {
		lock = s.d.LockRow
	}
	err := s.write(ctx, func(tx Querier) ([]keystore.Change, error) {
		app, err := s.getApp(ctx, tx, nk.AppSlug, lock)
		if err != nil {
			return nil, err
		}
		if !app.Usable() {
			return nil, fmt.Errorf("%w: app %q is disabled or deleted", keystore.ErrInactive, app.Slug)
		}
		if s.maxActive > 0 {
			var n int
			if err := tx.QueryRow(ctx, CountCappedQuery, app.Slug, true, ns(now)).Scan(&n); err != nil {
				return nil, dbErr(err)
			}
			if n >= s.maxActive {
				return nil, &keystore.KeyLimitError{AppSlug: app.Slug, Max: s.maxActive}
			}
		}
		k, secret = newKey(app, nk.Name, append([]string(nil), nk.Permissions...), nk.Metadata, nk.ExpiresAt, by, now)
		if err := s.insertKey(ctx, tx, k); err != nil {
			return nil, err
		}
		if err := s.insertEvent(ctx, tx, keyEvent(audit.ActionKeyCreated, k, by, now)); err != nil {
			return nil, err
		}
		return []keystore.Change{{AppSlug: k.AppSlug, KeyHash: k.Hash}}, nil
	})
	if err != nil {
		return keystore.Key{}, "", err
	}
	return k, secret, nil
}

// GetKey returns a key of the app; ErrNotFound if the app has no such key.
func (s *Store) GetKey(ctx context.Context, appSlug, id string) (keystore.Key, error) {
	return s.getKey(ctx, s.b, appSlug, id, "")
}

// Key.StatusAt as SQL, each condition with one ? for the time (unix ns).
// storetest's KeyStatusInSQL holds the two in step: a key is listed under
// a status exactly when StatusAt gives it that status.
const (
	// aliveSQL: neither revoked nor past the grace of a rotation.
	aliveSQL   = `((is_active AND grace_until IS NULL) OR (grace_until IS NOT NULL AND grace_until > ?))`
	activeSQL  = aliveSQL + ` AND (expires_at IS NULL OR expires_at > ?)`
	expiredSQL = aliveSQL + ` AND expires_at IS NOT NULL AND expires_at <= ?`
	revokedSQL = `NOT ` + aliveSQL
	// countedSQL: the keys the cap on active keys counts: active, and not
	// ending in a rotation grace (so that a rotation changes no count).
	countedSQL = `is_active = ? AND grace_until IS NULL AND (expires_at IS NULL OR expires_at > ?)`
)

// CountCappedQuery is the count CreateKey takes under the cap, with the
// arguments app slug, true and the time (unix ns); the index
// api_keys_app_live covers it, so that its cost follows the app's active
// keys, not the revoked ones that pile up.
const CountCappedQuery = `SELECT COUNT(*) FROM api_keys WHERE app_slug = ? AND ` + countedSQL

// statusWhere is the condition selecting keys of status st at now, with
// its arguments; "" for every key.
func statusWhere(st keystore.KeyStatus, now int64) (string, []any) {
	switch st {
	case keystore.KeyActive:
		return activeSQL, []any{now, now}
	case keystore.KeyExpired:
		return expiredSQL, []any{now, now}
	case keystore.KeyRevoked:
		return revokedSQL, []any{now}
	}
	return "", nil
}

// ListKeys returns one page of the keys f selects, newest first by
// (created_at, id), so that keys created at the same moment are neither lost
// nor repeated across pages; Status is judged at the store's clock.
func (s *Store) ListKeys(ctx context.Context, f keystore.KeyFilter) (keystore.KeyPage, error) {
	switch f.Status {
	case "", keystore.KeyAll, keystore.KeyActive, keystore.KeyRevoked, keystore.KeyExpired:
	default:
		return keystore.KeyPage{}, invalid("key status %q must be active, revoked, expired or all", f.Status)
	}
	limit, err := pageSize("key", f.Limit, keystore.DefaultKeyLimit, keystore.MaxKeyLimit)
	if err != nil {
		return keystore.KeyPage{}, err
	}
	var c conds
	if f.AppSlug != "" {
		c.add("app_slug = ?", cleanText(f.AppSlug))
	}
	if f.Tenant != "" {
		c.add("tenant = ?", cleanText(f.Tenant))
	}
	if cond, a := statusWhere(f.Status, ns(s.now())); cond != "" {
		c.add(cond, a...)
	}
	if err := c.window("created_at", time.Time{}, time.Time{}, f.Cursor); err != nil {
		return keystore.KeyPage{}, err
	}
	q := `SELECT ` + KeyCols + ` FROM api_keys` + c.clause()
	keys, next, err := readPage(ctx, s, q+` ORDER BY created_at DESC, id DESC`, c.args, limit,
		scanRow[keystore.Key, keyScan],
		func(k keystore.Key) (int64, string) { return ns(k.CreatedAt), k.ID })
	if err != nil {
		return keystore.KeyPage{}, err
	}
	return keystore.KeyPage{Keys: keys, NextCursor: next}, nil
}

// RotateKey replaces an active key of an active app by a new one with the
// same name, permissions, metadata and expiry, and ends the old one: at once
// (grace 0: is_active false, revoked_reason "Rotated") or at now+grace
// (GraceUntil and RevokedAt both set to that moment). ErrInactive if the key is
// not active (revoked, expired, or rotated already) or the app is not usable.
func (s *Store) RotateKey(ctx context.Context, appSlug, id string, grace time.Duration, by keystore.Actor) (keystore.Key, string, error) {
	if grace < 0 {
		return keystore.Key{}, "", invalid("rotation grace %s must not be negative", grace)
	}
	var nk keystore.Key
	var secret string
	err := s.write(ctx, func(tx Querier) ([]keystore.Change, error) {
		old, err := s.getKey(ctx, tx, appSlug, id, s.d.LockRow)
		if err != nil {
			return nil, err
		}
		app, err := s.getApp(ctx, tx, appSlug, s.d.ShareRow)
		if err != nil {
			return nil, err
		}
		if !app.Usable() {
			return nil, fmt.Errorf("%w: app %q is disabled or deleted", keystore.ErrInactive, app.Slug)
		}
		now := s.now()
		if st := old.StatusAt(now); st != keystore.KeyActive {
			return nil, fmt.Errorf("%w: key %s is %s", keystore.ErrInactive, id, st)
		}
		if old.GraceUntil != nil {
			return nil, fmt.Errorf("%w: key %s was rotated already", keystore.ErrInactive, id)
		}
		nk, secret = newKey(app, old.Name, old.Permissions, old.Metadata, old.ExpiresAt, by, now)
		nk.RotatedFrom = old.ID
		if err := s.insertKey(ctx, tx, nk); err != nil {
			return nil, err
		}
		if grace == 0 {
			_, err = tx.Exec(ctx, `UPDATE api_keys SET is_active = ?, revoked_at = ?, revoked_reason = ?,
				updated_at = ? WHERE id = ?`, false, ns(now), "Rotated", ns(now), old.ID)
		} else {
			until := ns(now.Add(grace))
			_, err = tx.Exec(ctx, `UPDATE api_keys SET grace_until = ?, revoked_at = ?, revoked_reason = ?,
				updated_at = ? WHERE id = ?`, until, until, "Rotated", ns(now), old.ID)
		}
		if err != nil {
			return nil, dbErr(err)
		}
		ev := keyEvent(audit.ActionKeyRotated, old, by, now)
		ev.Detail = fmt.Sprintf("new key %s; old key ends %s", nk.ID, now.Add(grace).UTC().Format(time.RFC3339))
		if grace == 0 {
			ev.Detail = fmt.Sprintf("new key %s; old key ended at once", nk.ID)
		}
		if err := s.insertEvent(ctx, tx, ev); err != nil {
			return nil, err
		}
		return []keystore.Change{{AppSlug: appSlug, KeyHash: old.Hash}, {AppSlug: appSlug, KeyHash: nk.Hash}}, nil
	})
	if err != nil {
		return keystore.Key{}, "", err
	}
	return nk, secret, nil
}

// RevokeKey ends the key at once (also one in a rotation grace) and returns
// it; ErrInactive if it was revoked already. It works on disabled apps too:
// revoking must always be possible.
func (s *Store) RevokeKey(ctx context.Context, appSlug, id, reason string, by keystore.Actor) (keystore.Key, error) {
	if err := validText("reason", reason, maxReasonLen); err != nil {
		return keystore.Key{}, err
	}
	var k keystore.Key
	err := s.write(ctx, func(tx Querier) ([]keystore.Change, error) {
		var err error
		k, err = s.getKey(ctx, tx, appSlug, id, s.d.LockRow)
		if err != nil {
			return nil, err
		}
		now := s.now()
		if k.StatusAt(now) == keystore.KeyRevoked {
			return nil, fmt.Errorf("%w: key %s is revoked already", keystore.ErrInactive, id)
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET is_active = ?, revoked_at = ?, revoked_reason = ?,
			grace_until = NULL, updated_at = ? WHERE id = ?`, false, ns(now), reason, ns(now), id); err != nil {
			return nil, dbErr(err)
		}
		t := now.UTC()
		k.IsActive, k.RevokedAt, k.RevokedReason, k.GraceUntil, k.UpdatedAt = false, &t, reason, nil, t
		ev := keyEvent(audit.ActionKeyRevoked, k, by, now)
		if reason != "" {
			ev.Detail = "reason: " + reason
		}
		if err := s.insertEvent(ctx, tx, ev); err != nil {
			return nil, err
		}
		return []keystore.Change{{AppSlug: appSlug, KeyHash: k.Hash}}, nil
	})
	if err != nil {
		return keystore.Key{}, err
	}
	return k, nil
}

// LookupKeyQuery is LookupKey's query, the hot path: a Backend may prepare
// it once (SQLite does) and answer QueryRow with it from the statement.
const LookupKeyQuery = `SELECT k.id, k.deployment_id, k.app_slug, k.tenant, k.name, k.key_prefix, k.key_suffix,
	k.permissions, k.metadata, k.expires_at, k.last_used_at, k.is_active, k.created_at, k.updated_at,
	k.revoked_at, k.revoked_reason, k.created_by, k.rotated_from, k.grace_until, k.hash,
	a.slug, a.deployment_id, a.tenant, a.name, a.key_prefix, a.description, a.is_active, a.permissions,
	a.resources, a.rate_limit_scheme_slug, a.allowed_origins, a.created_at, a.updated_at, a.deleted_at, a.messages, a.rate_limits
	FROM api_keys k JOIN apps a ON a.slug = k.app_slug WHERE k.hash = ?`

// LookupKey finds a key and its app by the hex SHA-256 of the secret,
// whatever their state; ErrNotFound if no key has that hash.
func (s *Store) LookupKey(ctx context.Context, hash string) (keystore.Key, keystore.App, error) {
	if !isHexHash(hash) {
		return keystore.Key{}, keystore.App{}, fmt.Errorf("%w: no key has that hash", keystore.ErrNotFound)
	}
	var ks keyScan
	var as appScan
	err := s.b.QueryRow(ctx, LookupKeyQuery, hash).Scan(append(ks.dest(), as.dest()...)...)
	if isNoRows(err) {
		return keystore.Key{}, keystore.App{}, fmt.Errorf("%w: no key has that hash", keystore.ErrNotFound)
	}
	if err != nil {
		return keystore.Key{}, keystore.App{}, dbErr(err)
	}
	k, err := ks.value()
	if err != nil {
		return keystore.Key{}, keystore.App{}, err
	}
	a, err := as.value()
	if err != nil {
		return keystore.Key{}, keystore.App{}, err
	}
	return k, a, nil
}

// TouchKeys records last_used_at for many keys in one transaction; a time
// older than the recorded one is ignored, as are unknown ids.
func (s *Store) TouchKeys(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	ids := make([]string, 0, len(used))
	for id := range used {
		ids = append(ids, id)
	}
	sort.Strings(ids) // one lock order, so concurrent batches cannot deadlock
	if s.d.TouchAll != nil {
		times := make([]int64, len(ids))
		for i, id := range ids {
			times[i] = ns(used[id])
		}
		return s.write(ctx, func(tx Querier) ([]keystore.Change, error) {
			return nil, dbErr(s.d.TouchAll(ctx, tx, ids, times))
		})
	}
	return s.write(ctx, func(tx Querier) ([]keystore.Change, error) {
		for _, id := range ids {
			t := ns(used[id])
			if _, err := tx.Exec(ctx, `UPDATE api_keys SET last_used_at = ?
				WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`, t, id, t); err != nil {
				return nil, dbErr(err)
			}
		}
		return nil, nil
	})
}

// --- audit ---

func (s *Store) insertEvent(ctx context.Context, tx Querier, e audit.Event) error {
	if e.ID == "" {
		e.ID = NewID("evt_")
	}
	for _, f := range []*string{&e.Action, &e.Outcome, &e.Reason, &e.Actor, &e.Tenant, &e.Resource, &e.AppSlug,
		&e.KeyID, &e.TicketFingerprint, &e.RequestID, &e.ClientIP, &e.Detail} {
		*f = cleanText(*f)
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_events (id, occurred_at, action, outcome, reason, actor, tenant,
		resource, app_slug, key_id, ticket_fp, request_id, client_ip, latency_ns, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, ns(e.Time), e.Action, e.Outcome, e.Reason, e.Actor, e.Tenant, e.Resource, e.AppSlug, e.KeyID,
		e.TicketFingerprint, e.RequestID, e.ClientIP, int64(e.Latency), e.Detail)
	return dbErr(err)
}

// Record stores an event durably (it returns after the commit; concurrent
// calls share one); the store assigns its ID, and its Time when zero.
// ErrInvalid without an Action.
func (s *Store) Record(ctx context.Context, e audit.Event) error {
	if strings.TrimSpace(e.Action) == "" {
		return invalid("audit event without an action")
	}
	e.ID = ""
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	return s.batched(ctx, func(ctx context.Context, tx Querier) (error, error) {
		return nil, s.insertEvent(ctx, tx, e)
	})
}

const (
	defaultAuditLimit = 50
	maxAuditLimit     = 1000
)

// pageSize is the page size a listing of what asks for: def when it asks
// none, at most max, ErrInvalid when negative.
func pageSize(what string, limit, def, max int) (int, error) {
	switch {
	case limit < 0:
		return 0, invalid("%s limit %d must not be negative", what, limit)
	case limit == 0:
		return def, nil
	case limit > max:
		return max, nil
	}
	return limit, nil
}

// queryAll runs q on db and returns every row, read by scan (never nil).
func queryAll[T any](ctx context.Context, db Querier, q string, args []any, scan func(Row) (T, error)) ([]T, error) {
	r, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer r.Close()
	rows := []T{}
	for r.Next() {
		row, err := scan(r)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, dbErr(r.Err())
}

// tableScan is what reads a row of one table's column list: dest are the
// Scan targets, value builds the row's value from them (appScan, keyScan,
// schemeScan).
type tableScan[T, S any] interface {
	*S
	dest() []any
	value() (T, error)
}

// scanRow reads the row r holds through a new S.
func scanRow[T, S any, P tableScan[T, S]](r Row) (T, error) {
	var sc S
	if err := r.Scan(P(&sc).dest()...); err != nil {
		var zero T
		return zero, dbErr(err)
	}
	return P(&sc).value()
}

// getRow reads the one row q selects through a new S; notFound when there
// is none.
func getRow[T, S any, P tableScan[T, S]](ctx context.Context, db Querier, notFound error, q string, args ...any) (T, error) {
	v, err := scanRow[T, S, P](db.QueryRow(ctx, q, args...))
	if isNoRows(err) {
		return v, notFound
	}
	return v, err
}

// readPage runs q, whose rows come newest first by (time, id), for one page
// of limit rows: it reads one row more to learn whether another page
// follows, and returns the rows with the cursor of the next page ("" on the
// last). scan reads a row; at gives a row's time and id.
func readPage[T any](ctx context.Context, s *Store, q string, args []any, limit int,
	scan func(Row) (T, error), at func(T) (int64, string)) ([]T, string, error) {
	rows, err := queryAll(ctx, s.b, q+" LIMIT "+strconv.Itoa(limit+1), args, scan)
	if err != nil {
		return nil, "", err
	}
	if len(rows) <= limit {
		return rows, "", nil
	}
	rows = rows[:limit]
	return rows, encodeCursor(at(rows[limit-1])), nil
}

// conds gathers the WHERE conditions of a query with their arguments.
type conds struct {
	where []string
	args  []any
}

func (c *conds) add(cond string, a ...any) {
	c.where, c.args = append(c.where, cond), append(c.args, a...)
}

// window adds the range [since, until) of the time column col (a zero
// bound: unbounded) and, with a cursor, the rows after it, newest first by
// (col, id). The error is ErrInvalid for a cursor this store did not issue.
func (c *conds) window(col string, since, until time.Time, cursor string) error {
	if !since.IsZero() {
		c.add(col+" >= ?", queryBound(since))
	}
	if !until.IsZero() {
		c.add(col+" < ?", queryBound(until))
	}
	if cursor == "" {
		return nil
	}
	cond, a, err := afterCursor(col, cursor)
	if err != nil {
		return err
	}
	c.add(cond, a...)
	return nil
}

// clause is " WHERE " and the conditions joined by AND, or "" without any.
func (c *conds) clause() string {
	if len(c.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.where, " AND ")
}

// afterCursor is the condition selecting the rows after a cursor, newest
// first by (col, id), with its arguments.
func afterCursor(col, cursor string) (string, []any, error) {
	t, id, err := decodeCursor(cursor)
	if err != nil {
		return "", nil, err
	}
	return "(" + col + " < ? OR (" + col + " = ? AND id < ?))", []any{t, t, id}, nil
}

// encodeCursor and decodeCursor carry the (time, id) of the last row of a
// page, newest first, to the next page: audit events and keys.
func encodeCursor(t int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t, 10) + "." + id))
}

func decodeCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		if ts, id, ok := strings.Cut(string(b), "."); ok && id != "" && cleanText(id) == id {
			if t, err := strconv.ParseInt(ts, 10, 64); err == nil {
				return t, id, nil
			}
		}
	}
	return 0, "", invalid("the cursor is not one this store issued: start again without one")
}

// QueryAudit returns one page of the events q selects, newest first, paged by
// (time, id) so that events with equal times are neither lost nor repeated.
func (s *Store) QueryAudit(ctx context.Context, q audit.Query) (audit.Page, error) {
	limit, err := pageSize("audit", q.Limit, defaultAuditLimit, maxAuditLimit)
	if err != nil {
		return audit.Page{}, err
	}
	var c conds
	// Stored events were cleaned the same way (insertEvent).
	q.Tenant, q.AppSlug, q.Action, q.Actor, q.KeyID = cleanText(q.Tenant), cleanText(q.AppSlug),
		cleanText(q.Action), cleanText(q.Actor), cleanText(q.KeyID)
	if q.Tenant != "" {
		c.add("tenant = ?", q.Tenant)
	}
	if q.AppSlug != "" {
		c.add("app_slug = ?", q.AppSlug)
	}
	if q.Action != "" {
		if strings.HasSuffix(q.Action, ".") {
			// Not LIKE, which SQLite matches in any case and Postgres does not.
			c.add("substr(action, 1, ?) = ?", utf8.RuneCountInString(q.Action), q.Action)
		} else {
			c.add("action = ?", q.Action)
		}
	}
	if q.Actor != "" {
		c.add("actor = ?", q.Actor)
	}
	if q.KeyID != "" {
		c.add("key_id = ?", q.KeyID)
	}
	if err := c.window("occurred_at", q.Since, q.Until, q.Cursor); err != nil {
		return audit.Page{}, err
	}
	sqlq := `SELECT id, occurred_at, action, outcome, reason, actor, tenant, resource, app_slug, key_id,
		ticket_fp, request_id, client_ip, latency_ns, detail FROM audit_events` + c.clause()
	events, next, err := readPage(ctx, s, sqlq+" ORDER BY occurred_at DESC, id DESC", c.args, limit,
		func(r Row) (audit.Event, error) {
			var e audit.Event
			var t, lat int64
			if err := r.Scan(&e.ID, &t, &e.Action, &e.Outcome, &e.Reason, &e.Actor, &e.Tenant, &e.Resource,
				&e.AppSlug, &e.KeyID, &e.TicketFingerprint, &e.RequestID, &e.ClientIP, &lat, &e.Detail); err != nil {
				return audit.Event{}, dbErr(err)
			}
			e.Time, e.Latency = fromNS(t), time.Duration(lat)
			return e, nil
		},
		func(e audit.Event) (int64, string) { return ns(e.Time), e.ID })
	if err != nil {
		return audit.Page{}, err
	}
	return audit.Page{Events: events, NextCursor: next}, nil
}

// --- tickets and secrets ---

// ConsumeTicket marks a ticket id used (it stores only a hash of the id);
// exactly one of any number of concurrent calls with one id returns nil, the
// others ErrTicketUsed.
func (s *Store) ConsumeTicket(ctx context.Context, id string, expiresAt time.Time) error {
	if id == "" {
		return invalid("empty ticket id")
	}
	now := s.now()
	purge := false
	if last := s.lastPurge.Load(); ns(now)-last >= int64(ticketPurgeEvery) && s.lastPurge.CompareAndSwap(last, ns(now)) {
		purge = true
	}
	return s.batched(ctx, func(ctx context.Context, tx Querier) (error, error) {
		n, err := tx.Exec(ctx, `INSERT INTO used_tickets (id_hash, expires_at) VALUES (?, ?)
			ON CONFLICT (id_hash) DO NOTHING`, hashTicket(id), ns(expiresAt))
		if err != nil {
			return nil, dbErr(err)
		}
		if n == 0 {
			return keystore.ErrTicketUsed, nil
		}
		if purge {
			if _, err := tx.Exec(ctx, `DELETE FROM used_tickets WHERE expires_at < ?`,
				ns(now.Add(-ticketPurgeMargin))); err != nil {
				return nil, dbErr(err)
			}
		}
		return nil, nil
	})
}

// Secret returns the server secret of that name, creating it with size random
// bytes on first use; concurrent first calls (from any instance) get the same
// bytes.
func (s *Store) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	if err := validName("secret name", name); err != nil {
		return nil, err
	}
	if size < 16 || size > 1024 {
		return nil, invalid("secret size %d must be between 16 and 1024 bytes", size)
	}
	fresh := make([]byte, size)
	randRead(fresh)
	var value []byte
	err := s.write(ctx, func(tx Querier) ([]keystore.Change, error) {
		if _, err := tx.Exec(ctx, `INSERT INTO server_secrets (name, value, created_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, name, fresh, ns(s.now())); err != nil {
			return nil, dbErr(err)
		}
		if err := tx.QueryRow(ctx, `SELECT value FROM server_secrets WHERE name = ?`, name).Scan(&value); err != nil {
			return nil, dbErr(err)
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	if len(value) != size {
		return nil, fmt.Errorf("%w: secret %q has %d bytes, not %d", keystore.ErrInvalid, name, len(value), size)
	}
	return value, nil
}

// --- subscriptions ---

// Subscribe calls fn after every committed key or app change, synchronously
// in the goroutine that made it (so a revocation has reached every cache by
// the time RevokeKey returns); fn must be quick and must not block. Changes
// from other instances arrive from a background goroutine. A Change with an
// empty AppSlug means anything may have changed (the change feed was
// interrupted or fell behind): drop everything cached.
func (s *Store) Subscribe(fn func(keystore.Change)) (cancel func()) {
	return s.subs.Subscribe(fn)
}

// Notify tells subscribers of changes made elsewhere (another process, as
// heard by a change feed: Postgres NOTIFY, the SQLite change log); an empty
// Change means anything may have changed.
func (s *Store) Notify(changes ...keystore.Change) { s.subs.Notify(changes...) }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return dbErr(s.b.Ping(ctx)) }

// Close stops the audit pruning loop and closes the Backend; the store must
// not be used afterwards.
func (s *Store) Close() error {
	s.stopPruning()
	return s.b.Close()
}
