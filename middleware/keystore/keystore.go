// Package keystore keeps API auth apps, their keys (hashed), rate-limit
// schemes, the audit trail and the set of used tickets, behind one Store
// interface with two drivers, each a package of its own so that a program
// links only the database it uses:
// keystore/sqlite (the embedded default) and keystore/postgres (many
// instances). This package holds what they share: the interface, its types
// and errors, and how secrets are hashed.
//
// Secrets never reach the database: a key is stored as the hex SHA-256 of its
// secret, and a ticket as the hash of its id.
//
// sqlite.Open opens the embedded store: one file, WAL, synchronous=FULL (a
// call that returned survives a crash), one writer connection and a reader
// pool; processes on one file hear each other's key and app changes through
// a change log in the file, polled (Options.PollInterval). postgres.Open
// opens the shared store: instances hear each other's key and app changes
// through LISTEN/NOTIFY (see Subscribe). Both validate
// input the same way, migrate their schema on open (table
// schema_migrations, up to SchemaVersion) and share every query. Audit
// events and used tickets are group-committed: concurrent callers share one
// transaction, and each returns once its own row is durable.
package keystore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// SchemaVersion is the schema version the drivers migrate databases to; a
// database of a newer version is refused.
const SchemaVersion = 6

// Sentinel errors, usable with errors.Is.
var (
	// ErrNotFound means the app or key does not exist (or, for a key lookup,
	// no key has that hash).
	ErrNotFound = errors.New("keystore: not found")
	// ErrConflict means an app with that slug already exists.
	ErrConflict = errors.New("keystore: already exists")
	// ErrInactive means the key is already revoked or the app is disabled or
	// deleted, so the change cannot apply.
	ErrInactive = errors.New("keystore: inactive")
	// ErrTicketUsed means the ticket was consumed before.
	ErrTicketUsed = errors.New("keystore: ticket already used")
	// ErrInvalid means the input breaks a rule (empty name, bad prefix, a
	// control, bidi or invisible format character in text...); its message
	// says which field is wrong and why, in words fit for the client.
	ErrInvalid = errors.New("keystore: invalid input")
	// ErrKeyLimit means the app already has as many active keys as the
	// store allows (Options.MaxActiveKeys): one must be revoked before
	// another is created. The error is a *KeyLimitError, which names the
	// app and the cap.
	ErrKeyLimit = errors.New("keystore: active key limit reached")
)

// KeyLimitError is the error of a CreateKey refused because the app is at
// the cap on active keys; errors.Is(err, ErrKeyLimit) holds for it.
type KeyLimitError struct {
	// AppSlug is the app.
	AppSlug string
	// Max is the cap (Options.MaxActiveKeys) the app is at.
	Max int
}

func (e *KeyLimitError) Error() string {
	return fmt.Sprintf("%v: app %q has %d active keys, the most allowed; revoke one before creating another", ErrKeyLimit, e.AppSlug, e.Max)
}

// Is reports whether target is ErrKeyLimit.
func (e *KeyLimitError) Is(target error) bool { return target == ErrKeyLimit }

// Key limits.
const (
	// DefaultMaxActiveKeys is the cap on each app's active keys when
	// Options.MaxActiveKeys is zero.
	DefaultMaxActiveKeys = 100
	// NoKeyLimit, as Options.MaxActiveKeys, lifts the cap.
	NoKeyLimit = -1
)

// App is an API auth app: the Wacht fields plus the tenant it belongs to and
// the origins allowed to embed its portal page.
type App struct {
	DeploymentID        string   `json:"deployment_id"`
	Slug                string   `json:"app_slug"`
	Name                string   `json:"name"`
	KeyPrefix           string   `json:"key_prefix"`
	Description         string   `json:"description"`
	IsActive            bool     `json:"is_active"`
	Permissions         []string `json:"permissions"`
	Resources           []string `json:"resources"`
	RateLimitSchemeSlug string   `json:"rate_limit_scheme_slug,omitempty"`
	Tenant              string   `json:"tenant"`
	AllowedOrigins      []string `json:"allowed_origins"`
	// Messages are the portal page's texts for this app that differ from
	// the portal's, by key (the json names of portal.Messages; "lang" is
	// their language). The store bounds each text as it bounds a name;
	// which keys exist is the portal's to check (portal.ParseMessages).
	Messages  map[string]string `json:"messages,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	DeletedAt *time.Time        `json:"deleted_at"`

	// RateLimits are the app's own rules (Wacht's rate_limits), counted
	// besides those of the scheme RateLimitSchemeSlug names.
	RateLimits []ratelimit.SchemeRule `json:"rate_limits"`
}

// Usable reports whether keys of the app may be used and managed: it is
// active and not deleted.
func (a App) Usable() bool { return a.IsActive && a.DeletedAt == nil }

// AppPatch changes some fields of an app; nil fields stay as they are.
type AppPatch struct {
	Name           *string
	Description    *string
	IsActive       *bool
	Permissions    *[]string
	Resources      *[]string
	AllowedOrigins *[]string
	// Messages replaces the app's texts (an empty map removes them).
	Messages *map[string]string

	// RateLimitSchemeSlug names the scheme to apply ("" for none); it must
	// name an existing scheme (else ErrInvalid).
	RateLimitSchemeSlug *string
	// RateLimits replaces the app's own rules.
	RateLimits *[]ratelimit.SchemeRule
}

// AppFilter selects apps; zero fields do not filter.
type AppFilter struct {
	// Tenant restricts to one tenant.
	Tenant string
	// IncludeInactive includes disabled and deleted apps.
	IncludeInactive bool
}

// Key is an API key: the Wacht fields plus who created it and its rotation
// history. The secret is never part of it.
type Key struct {
	ID            string         `json:"id"`
	DeploymentID  string         `json:"deployment_id"`
	AppSlug       string         `json:"app_slug"`
	Tenant        string         `json:"tenant"`
	Name          string         `json:"name"`
	KeyPrefix     string         `json:"key_prefix"`
	KeySuffix     string         `json:"key_suffix"`
	Permissions   []string       `json:"permissions"`
	Metadata      map[string]any `json:"metadata"`
	ExpiresAt     *time.Time     `json:"expires_at"`
	LastUsedAt    *time.Time     `json:"last_used_at"`
	IsActive      bool           `json:"is_active"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
	RevokedAt     *time.Time     `json:"revoked_at"`
	RevokedReason string         `json:"revoked_reason,omitempty"`
	CreatedBy     string         `json:"created_by"`
	RotatedFrom   string         `json:"rotated_from,omitempty"`
	GraceUntil    *time.Time     `json:"grace_until,omitempty"`
	// Hash is the hex SHA-256 of the secret. It is not secret, but it is not
	// part of the wire format either.
	Hash string `json:"-"`
}

// KeyStatus is a key's state at a moment, as the portal lists it.
type KeyStatus string

// Key states.
const (
	KeyActive  KeyStatus = "active"  // usable now (possibly within a rotation grace)
	KeyRevoked KeyStatus = "revoked" // revoked, or rotated and past its grace
	KeyExpired KeyStatus = "expired" // past expires_at
	KeyAll     KeyStatus = "all"     // filter value: every key
)

// StatusAt returns the key's state at now.
func (k Key) StatusAt(now time.Time) KeyStatus {
	switch {
	case !k.IsActive && (k.GraceUntil == nil || !now.Before(*k.GraceUntil)):
		return KeyRevoked
	case k.IsActive && k.GraceUntil != nil && !now.Before(*k.GraceUntil):
		return KeyRevoked
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return KeyExpired
	default:
		return KeyActive
	}
}

// KeyFilter selects keys, and which page of them ListKeys returns; zero
// fields do not filter (Status "" means KeyAll).
type KeyFilter struct {
	AppSlug string
	Tenant  string
	Status  KeyStatus
	// Limit is the page size. Zero means DefaultKeyLimit; more than
	// MaxKeyLimit means MaxKeyLimit; a negative limit is ErrInvalid.
	Limit int
	// Cursor continues a listing after the last key of a previous page
	// (its KeyPage.NextCursor); "" starts at the newest key. A cursor the
	// store did not issue is ErrInvalid.
	Cursor string
}

// Page sizes of ListKeys.
const (
	// DefaultKeyLimit is the page size when KeyFilter.Limit is zero; it is
	// DefaultMaxActiveKeys, so that listing an app's active keys at the
	// default cap takes one page.
	DefaultKeyLimit = 100
	// MaxKeyLimit is the largest page.
	MaxKeyLimit = 1000
)

// KeyPage is one page of keys, newest first.
type KeyPage struct {
	Keys []Key `json:"keys"`
	// NextCursor continues the listing (as KeyFilter.Cursor); "" on the
	// last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// NewKey is what CreateKey needs; the store generates the id and the secret.
type NewKey struct {
	AppSlug     string
	Name        string
	Permissions []string
	Metadata    map[string]any
	ExpiresAt   *time.Time
}

// Actor says who makes a change, for the audit event the store writes in the
// same transaction as the change.
type Actor struct {
	// Name is the user (or "backend-api", "cli") making the change.
	Name string
	// RequestID and ClientIP correlate the event with a request.
	RequestID string
	ClientIP  string
}

// Change tells subscribers that a key or an app changed, so that caches of
// verified keys can drop it at once. A Change with an empty AppSlug means
// anything may have changed (changes from other instances may have been
// missed): drop everything cached.
type Change struct {
	// AppSlug is the app that changed, or the app of the key that changed.
	AppSlug string
	// KeyHash is the hash of the key that changed; empty for an app change.
	KeyHash string
}

// Apps manages API auth apps.
type Apps interface {
	// CreateApp creates an active app (IsActive and the timestamps of app
	// are ignored); ErrConflict if the slug is taken, also by a deleted app.
	CreateApp(ctx context.Context, app App, by Actor) (App, error)
	// GetApp returns the app, deleted or not.
	GetApp(ctx context.Context, slug string) (App, error)
	// ListApps returns the apps f selects, oldest first.
	ListApps(ctx context.Context, f AppFilter) ([]App, error)
	// UpdateApp applies the patch; ErrInactive for a deleted app.
	UpdateApp(ctx context.Context, slug string, p AppPatch, by Actor) (App, error)
	// DeleteApp soft-deletes the app: it sets deleted_at and is_active=false.
	// ErrInactive if it was deleted already.
	DeleteApp(ctx context.Context, slug string, by Actor) error
}

// Keys manages API keys. Every change writes its audit event (key.created,
// key.rotated, key.revoked) in the same transaction.
type Keys interface {
	// CreateKey makes a key and returns it with its secret, which is shown
	// once and never stored.
	// ErrNotFound for an unknown app, ErrInactive for a disabled or deleted
	// one, ErrKeyLimit when the app has Options.MaxActiveKeys active keys,
	// ErrInvalid for a field that breaks a rule (an expiry not in the future
	// or past 2262, the last year the store's times can hold).
	CreateKey(ctx context.Context, k NewKey, by Actor) (Key, string, error)
	// GetKey returns a key of the app; ErrNotFound if the app has no such key.
	GetKey(ctx context.Context, appSlug, id string) (Key, error)
	// ListKeys returns one page of the keys f selects, newest first by
	// (created_at, id); the status is judged at the store's clock. A
	// listing that follows NextCursor returns no key twice and misses none
	// that f selected when it began and still selects when its page is
	// read, however keys are created, rotated or revoked meanwhile: a key
	// created meanwhile is newer than the cursor, so it is on the first
	// page of the next listing, not on a later page of this one.
	ListKeys(ctx context.Context, f KeyFilter) (KeyPage, error)
	// RotateKey makes a new key with the old one's name, permissions and
	// metadata (RotatedFrom = old id) and ends the old one: at once when grace
	// is 0 (is_active false, revoked_reason "Rotated"), else at now+grace
	// (GraceUntil and RevokedAt set to that moment, reason "Rotated"). The new
	// key keeps the old one's expiry. ErrInactive if the key is not active
	// (revoked, expired, or rotated already) or the app is not usable.
	RotateKey(ctx context.Context, appSlug, id string, grace time.Duration, by Actor) (Key, string, error)
	// RevokeKey ends the key at once, also one within a rotation grace and
	// also on a disabled app; ErrInactive if it already was.
	RevokeKey(ctx context.Context, appSlug, id, reason string, by Actor) (Key, error)
	// LookupKey finds a key and its app by the hex SHA-256 of the secret,
	// whatever their state: the caller decides what is usable.
	LookupKey(ctx context.Context, hash string) (Key, App, error)
	// TouchKeys records last_used_at for many keys at once (key id → time),
	// in one transaction; unknown ids and older times are ignored.
	TouchKeys(ctx context.Context, used map[string]time.Time) error
}

// Tickets keeps what the local issuer needs.
type Tickets interface {
	// ConsumeTicket marks a ticket id used, atomically: of any number of
	// concurrent calls with one id, exactly one returns nil and the others
	// ErrTicketUsed. expiresAt lets the store forget the id afterwards.
	ConsumeTicket(ctx context.Context, id string, expiresAt time.Time) error
	// Secret returns the server secret of that name, creating it with size
	// random bytes on first use, so that every instance sharing the store
	// seals and opens tickets with the same key.
	Secret(ctx context.Context, name string, size int) ([]byte, error)
}

// Store is the whole key store.
type Store interface {
	Apps
	Keys
	Schemes
	Tickets
	audit.Auditor
	audit.Reader
	// Subscribe calls fn after every committed key or app change, made
	// through this store or by another process on the same database (heard
	// through the backend's change feed: Postgres NOTIFY, the SQLite change
	// log). The returned function cancels the subscription. Local changes
	// are delivered synchronously, before the changing call returns; remote
	// ones from a background goroutine: fn must be safe for concurrent use,
	// quick, and must not block.
	Subscribe(fn func(Change)) (cancel func())
	// Ping checks the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// Options configure a store (sqlite.Open, postgres.Open); the zero value
// means defaults.
type Options struct {
	// Now is the clock; nil means time.Now. Tests inject one to move time.
	Now func() time.Time
	// Schema is the Postgres schema the store creates (if missing) and
	// uses; "" means the connection's search_path (normally public). Tests
	// use a fresh schema each for isolation. SQLite ignores it.
	Schema string
	// MaxActiveKeys caps each app's active keys: CreateKey refuses with
	// ErrKeyLimit when the app has that many, checked in the creating
	// transaction so that concurrent creates (from any instance sharing
	// the database) cannot pass it. Revoked and expired keys do not count,
	// nor do keys ending in a rotation grace, so a rotation (which ends its
	// old key as it makes the new one) never changes the count and is
	// never refused by the cap, even when lowering the cap left an app
	// above it. Zero means DefaultMaxActiveKeys; NoKeyLimit (any negative
	// value) lifts the cap.
	MaxActiveKeys int
	// OnFeedError, when set, is told when the change feed fails: the
	// Postgres LISTEN connection is lost (the store reconnects by itself
	// and then sends subscribers an empty Change: drop everything cached),
	// or a SQLite poll fails (the first failure of a run of them; the next
	// poll that works delivers what was missed). Nil means a JSON line at
	// error level on os.Stderr (event=keystore.feed), as a zero Logger
	// does elsewhere; func(error) {} silences it.
	OnFeedError func(error)
	// PollInterval is how often a SQLite store looks for changes that other
	// processes committed to its file: one PRAGMA data_version on a
	// connection of its own, and only when that moved, a read of the new
	// rows of the change log. A change made by the CLI or another server
	// reaches this store's subscribers within about PollInterval. Zero
	// means 100 ms; it must not be negative. Postgres ignores it (NOTIFY
	// delivers changes as they commit), as does a ":memory:" store (no
	// other process can open it).
	PollInterval time.Duration
	// AuditMaxAge is how long audit events are kept: the store deletes
	// older ones in the background (in small batches, every
	// AuditPruneEvery) until Close. Zero means DefaultAuditMaxAge (400
	// days); a negative value keeps them forever.
	AuditMaxAge time.Duration
	// AuditPruneEvery is how often the store deletes audit events past
	// AuditMaxAge (the first time after at most a minute); zero means
	// DefaultAuditPruneEvery (an hour).
	AuditPruneEvery time.Duration
	// OnPruneError, when set, is told when deleting old audit events,
	// verification events or rollups fails; the store tries again
	// AuditPruneEvery later. Nil means a JSON line at error level on
	// os.Stderr (event=keystore.prune); func(error) {} silences it.
	OnPruneError func(error)
	// AccessMaxAge is how long the raw verification events (the access
	// log of every RequireAPIKey and /v1/authz/check decision) are kept;
	// they are pruned with the audit events, every AuditPruneEvery. Zero
	// means DefaultAccessMaxAge (30 days); a negative value keeps them
	// forever. Sums and charts over older windows come from the rollups.
	AccessMaxAge time.Duration
	// AccessRollupMaxAge is how long the per-minute rollups of
	// verifications (the Overview's totals and charts) are kept. Zero means
	// DefaultAccessRollupMaxAge (400 days); a negative value keeps them
	// forever.
	AccessRollupMaxAge time.Duration
}

// Defaults for the zero values of Options' retention fields.
const (
	// DefaultAuditMaxAge keeps audit events for 400 days: a year of
	// history for a security review, with a margin.
	DefaultAuditMaxAge = 400 * 24 * time.Hour
	// DefaultAuditPruneEvery is how often old audit events are deleted.
	DefaultAuditPruneEvery = time.Hour
	// DefaultAccessMaxAge keeps raw verification events for 30 days: the
	// Access Logs tab's rows.
	DefaultAccessMaxAge = 30 * 24 * time.Hour
	// DefaultAccessRollupMaxAge keeps the per-minute rollups for 400 days,
	// as the audit trail.
	DefaultAccessRollupMaxAge = 400 * 24 * time.Hour
)
