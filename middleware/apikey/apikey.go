// Package apikey verifies API key secrets against the key store. It is the one
// verification path behind middleware.RequireAPIKey (the app's public API) and
// the backend API's POST /v1/authz/check, so both always agree.
//
// A Verifier refuses garbage by its shape before hashing anything, keeps the
// keys it has verified in a bounded in-process cache keyed by the SHA-256 of
// the secret, and drops a cached key or app when the store reports a change.
// A change made through this process's store is dropped synchronously
// (Store.Subscribe runs after the commit and before the revoking call
// returns), so it is refused on the very next call; one made by another
// process arrives through the store's change feed (Postgres NOTIFY, usually
// milliseconds; the SQLite change log, within its PollInterval, 100 ms by
// default). Whatever the feed, no cached key is served for longer than
// Config.CacheMaxAge (DefaultCacheMaxAge) without reading the store again,
// so even a change the feed missed is enforced within that bound. Time-based
// states — expiry, the end of a rotation grace — are checked against the
// clock on every call, and a suspended tenant on every call too. Unknown
// secrets are never cached, so random keys cannot fill memory. Without a
// change feed (Keys that is no Subscriber) nothing is cached at all.
//
// last_used_at is recorded in memory on each success and written in batches
// (Keys.TouchKeys) by one background goroutine, stopped by Close.
//
// It imports the key store and policy's interfaces only, not gin.
package apikey

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/logx"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ratelimit"
	"github.com/keyportal/keyportal/policy"
)

// Defaults for the zero values of Config.
const (
	// DefaultTouchInterval is how often last_used_at updates are flushed.
	DefaultTouchInterval = time.Second
	// DefaultCacheSize is how many verified keys are kept in memory.
	DefaultCacheSize = 100_000
	// DefaultCacheMaxAge is how long a verified key is served from the
	// cache before the store is read again, even with a live change feed.
	DefaultCacheMaxAge = 30 * time.Second
)

// touchTimeout bounds one TouchKeys batch.
const touchTimeout = 10 * time.Second

// Subscriber is the part of keystore.Store that reports committed changes.
type Subscriber interface {
	Subscribe(fn func(keystore.Change)) (cancel func())
}

// Config configures a Verifier. The zero value of every optional field means
// its default.
type Config struct {
	// Keys looks keys up by hash and records their use. Required.
	Keys keystore.Keys
	// Changes reports committed key and app changes so that cached keys are
	// dropped at once. Nil means: use Keys if it is a Subscriber (a
	// keystore.Store is), else cache nothing and look every key up in the
	// store, since a cache nobody invalidates would be a window.
	Changes Subscriber
	// Tenants tells whether a key's tenant is active. A suspended, deleted
	// or unknown tenant makes its keys invalid. Nil skips the check.
	Tenants policy.TenantStatuser
	// Now is the clock; nil means time.Now. Tests inject one to move time.
	Now func() time.Time
	// TouchInterval is how often last_used_at updates are written, in one
	// batch. Default DefaultTouchInterval.
	TouchInterval time.Duration
	// CacheSize bounds the number of verified keys kept in memory; past it an
	// arbitrary cached key is dropped. Default DefaultCacheSize.
	CacheSize int
	// CacheMaxAge bounds how long a verified key is served from the cache:
	// older, it is read from the store again. The change feed drops changed
	// keys long before; this bound holds even when the feed missed a change
	// (a lost connection, a process paused past the SQLite change log).
	// Default DefaultCacheMaxAge; it must not be negative.
	CacheMaxAge time.Duration
	// Logger receives store failures (never a secret). The zero Logger
	// means JSON lines at info level on os.Stderr; zerolog.Nop() silences
	// it.
	Logger zerolog.Logger
}

// Identity is who a verified key speaks for. It is shared between requests:
// treat it, its Permissions and its Metadata as read-only.
type Identity struct {
	// KeyID is the key's id.
	KeyID string `json:"key_id"`
	// KeyName is the name its owner gave it.
	KeyName string `json:"key_name"`
	// AppSlug is the API auth app the key belongs to.
	AppSlug string `json:"app_slug"`
	// Tenant is the tenant that owns the app.
	Tenant string `json:"tenant"`
	// DeploymentID is the app's deployment (the resource it protects).
	DeploymentID string `json:"deployment_id"`
	// Permissions are the key's permissions.
	Permissions []string `json:"permissions"`
	// Metadata is what the key's creator attached to it.
	Metadata map[string]any `json:"metadata"`
	// ExpiresAt is when the key expires; nil if never.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// GraceUntil is set on a rotated key still within its grace period:
	// the moment it stops working.
	GraceUntil *time.Time `json:"grace_until,omitempty"`

	// limits are the app's rate-limit rules (scheme and rate_limits).
	limits *ratelimit.Limits
}

// RateLimits returns the rules of the key's app, its scheme's and its own
// rate_limits in evaluation order (ratelimit.Compile), read with the app;
// nil when it has none. RequireAPIKey and /v1/authz/check count the
// request against them with ratelimit.Decide.
func (id *Identity) RateLimits() *ratelimit.Limits { return id.limits }

// HasPermission reports whether the key holds permission p.
func (id *Identity) HasPermission(p string) bool {
	for _, have := range id.Permissions {
		if have == p {
			return true
		}
	}
	return false
}

// Reason says why a secret was refused. Reasons are safe to show to the
// caller and to log.
type Reason string

// Reasons of a refusal.
const (
	ReasonMissing          Reason = "missing"           // no key presented
	ReasonMalformed        Reason = "malformed"         // not the shape of a key
	ReasonUnknown          Reason = "unknown"           // no key has that secret
	ReasonRevoked          Reason = "revoked"           // revoked, or rotated and past its grace
	ReasonExpired          Reason = "expired"           // past expires_at
	ReasonAppInactive      Reason = "app_inactive"      // the key's app is disabled or deleted
	ReasonTenantInactive   Reason = "tenant_inactive"   // the app's tenant is suspended, deleted or unknown
	ReasonPermissionDenied Reason = "permission_denied" // valid key without a required permission
)

// Classes of errors from Verify, for errors.Is.
var (
	// ErrInvalid is the class of every refusal of the key itself
	// (HTTP 401).
	ErrInvalid = errors.New("apikey: invalid API key")
	// ErrForbidden means the key is valid but lacks a required permission
	// (HTTP 403).
	ErrForbidden = errors.New("apikey: missing permission")
	// ErrUnavailable means the store or the tenant check failed, so nothing
	// could be decided (HTTP 503). The request is refused: fail closed.
	ErrUnavailable = errors.New("apikey: key store unavailable")
)

// Rejection is the error Verify returns when it refuses a key. The values
// below are shared, so Verify's refusals allocate nothing.
type Rejection struct {
	// Reason says why.
	Reason Reason
	class  error
	msg    string
}

// Error returns a message safe to show to the caller.
func (r *Rejection) Error() string { return r.msg }

// Is makes a Rejection match its class (ErrInvalid or ErrForbidden).
func (r *Rejection) Is(target error) bool { return target == r.class }

// Refusals, one per Reason.
var (
	ErrMissing          = &Rejection{ReasonMissing, ErrInvalid, "no API key was presented"}
	ErrMalformed        = &Rejection{ReasonMalformed, ErrInvalid, "the API key is not valid"}
	ErrUnknown          = &Rejection{ReasonUnknown, ErrInvalid, "the API key is not valid"}
	ErrRevoked          = &Rejection{ReasonRevoked, ErrInvalid, "the API key has been revoked"}
	ErrExpired          = &Rejection{ReasonExpired, ErrInvalid, "the API key has expired"}
	ErrAppInactive      = &Rejection{ReasonAppInactive, ErrInvalid, "the API key's app is disabled"}
	ErrTenantInactive   = &Rejection{ReasonTenantInactive, ErrInvalid, "the API key's account is not active"}
	ErrPermissionDenied = &Rejection{ReasonPermissionDenied, ErrForbidden, "the API key lacks a required permission"}
)

// ReasonOf returns the Reason of a refusal, or "" for nil and other errors.
func ReasonOf(err error) Reason {
	if r, ok := err.(*Rejection); ok { // the common case, without allocating
		return r.Reason
	}
	var r *Rejection
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

// Verifier checks secrets. It is safe for concurrent use; Close stops its
// background writer.
type Verifier struct {
	keys     keystore.Keys
	schemes  schemeGetter // Keys, when it reads schemes; else nil
	tenants  policy.TenantStatuser
	now      func() time.Time
	log      zerolog.Logger
	interval time.Duration

	cache       *cache // nil when nothing reports changes
	unsubscribe func()

	touchMu sync.Mutex
	pending map[string]*entry // key id → entry used since the last flush

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// New checks cfg and returns a running Verifier. Misconfiguration fails here
// with an "apikey: ..." error.
func New(cfg Config) (*Verifier, error) {
	if cfg.Keys == nil {
		return nil, errors.New("apikey: Config.Keys is required")
	}
	if cfg.TouchInterval < 0 {
		return nil, fmt.Errorf("apikey: Config.TouchInterval must not be negative, got %s", cfg.TouchInterval)
	}
	if cfg.CacheSize < 0 {
		return nil, fmt.Errorf("apikey: Config.CacheSize must not be negative, got %d", cfg.CacheSize)
	}
	if cfg.CacheMaxAge < 0 {
		return nil, fmt.Errorf("apikey: Config.CacheMaxAge must not be negative, got %s", cfg.CacheMaxAge)
	}
	schemes, _ := cfg.Keys.(schemeGetter)
	v := &Verifier{
		keys:     cfg.Keys,
		schemes:  schemes,
		tenants:  cfg.Tenants,
		now:      cfg.Now,
		log:      logx.Or(cfg.Logger, "apikey"),
		interval: cmp.Or(cfg.TouchInterval, DefaultTouchInterval),
		pending:  map[string]*entry{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if v.now == nil {
		v.now = time.Now
	}
	changes := cfg.Changes
	if changes == nil {
		changes, _ = cfg.Keys.(Subscriber)
	}
	if changes != nil {
		v.cache = newCache(cmp.Or(cfg.CacheSize, DefaultCacheSize), cmp.Or(cfg.CacheMaxAge, DefaultCacheMaxAge))
		v.unsubscribe = changes.Subscribe(v.cache.invalidate)
	}
	go v.touchLoop()
	return v, nil
}

// Verify checks secret and, when it is valid and holds every permission in
// required, returns its identity. Refusals are *Rejection values (class
// ErrInvalid or ErrForbidden; with ErrForbidden the identity is returned
// too); a store failure wraps ErrUnavailable. A successful call records the
// key's use for the next last_used_at batch.
func (v *Verifier) Verify(ctx context.Context, secret string, required []string) (*Identity, error) {
	return v.VerifyAt(ctx, secret, required, time.Time{})
}

// VerifyAt is Verify at now, a reading of the Verifier's clock (Config.Now)
// the caller already took, so that a request reads the clock once for its
// verification and its access event; the zero now reads the clock.
func (v *Verifier) VerifyAt(ctx context.Context, secret string, required []string, now time.Time) (*Identity, error) {
	if secret == "" {
		return nil, ErrMissing
	}
	if !WellFormed(secret) {
		return nil, ErrMalformed
	}
	sum := hashSecret(secret)
	if now.IsZero() {
		now = v.now()
	}
	e, err := v.lookup(ctx, &sum, now)
	if err != nil {
		return nil, err
	}
	switch e.key.StatusAt(now) {
	case keystore.KeyActive:
	case keystore.KeyExpired:
		return nil, ErrExpired
	default:
		return nil, ErrRevoked
	}
	if !e.app.app.Usable() {
		return nil, ErrAppInactive
	}
	if v.tenants != nil {
		st, err := v.tenants.TenantStatus(ctx, e.ident.Tenant)
		if err != nil {
			v.log.Error().Err(err).Str("tenant", e.ident.Tenant).Msg("apikey: tenant status failed")
			return nil, fmt.Errorf("%w: tenant status: %v", ErrUnavailable, err)
		}
		if st != policy.TenantActive {
			return nil, ErrTenantInactive
		}
	}
	v.touch(e, now)
	for _, p := range required {
		if !e.ident.HasPermission(p) {
			return &e.ident, ErrPermissionDenied
		}
	}
	return &e.ident, nil
}

// hashSecret is keystore.HashSecret without the hex: the cache key.
func hashSecret(secret string) [sha256.Size]byte {
	// Copy into a stack buffer: converting the string directly would
	// allocate, and WellFormed has bounded its length.
	var buf [MaxSecretLen]byte
	n := copy(buf[:], secret)
	return sha256.Sum256(buf[:n])
}

// lookup returns the verified-key entry for a hash, from the cache or the
// store. The states it holds are those of the latest committed change the
// cache knows of, read from the store less than the cache's maxAge before
// now.
func (v *Verifier) lookup(ctx context.Context, sum *[sha256.Size]byte, now time.Time) (*entry, error) {
	var gen uint64
	if v.cache != nil {
		var e *entry
		e, gen = v.cache.get(sum, now.UnixNano())
		if e != nil {
			return e, nil
		}
	}
	key, app, err := v.keys.LookupKey(ctx, hex.EncodeToString(sum[:]))
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return nil, ErrUnknown
	case err != nil:
		v.log.Error().Err(err).Msg("apikey: key lookup failed")
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	case key.AppSlug != app.Slug:
		// The store broke its contract; refuse rather than guess.
		v.log.Error().Str("key_id", key.ID).Str("app_slug", app.Slug).Msg("apikey: key lookup returned another app")
		return nil, fmt.Errorf("%w: key %s belongs to app %q, store returned %q", ErrUnavailable, key.ID, key.AppSlug, app.Slug)
	}
	limits, err := v.appLimits(ctx, app)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		return v.cache.put(sum, key, app, limits, gen, now.UnixNano()), nil
	}
	return newEntry(key, &appState{app: app, limits: limits}), nil
}

// touch records that e was used at now; the next flush writes it.
func (v *Verifier) touch(e *entry, now time.Time) {
	e.lastUsed.Store(now.UnixNano())
	if e.queued.Load() || !e.queued.CompareAndSwap(false, true) {
		return
	}
	v.touchMu.Lock()
	if old, ok := v.pending[e.ident.KeyID]; ok && old != e {
		// Another entry of the same key (replaced in the cache, or not
		// cached) is pending: keep the later time, and let the old entry
		// queue itself again should it still be in use.
		if t := old.lastUsed.Load(); t > e.lastUsed.Load() {
			e.lastUsed.Store(t)
		}
		old.queued.Store(false)
	}
	v.pending[e.ident.KeyID] = e
	v.touchMu.Unlock()
}

// Flush writes the pending last_used_at updates now, in one batch.
func (v *Verifier) Flush(ctx context.Context) error {
	v.touchMu.Lock()
	batch := v.pending
	v.pending = map[string]*entry{}
	v.touchMu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	used := make(map[string]time.Time, len(batch))
	for id, e := range batch {
		// Clear the flag before reading the time: a use after this
		// re-queues the entry for the next batch.
		e.queued.Store(false)
		used[id] = time.Unix(0, e.lastUsed.Load()).UTC()
	}
	if err := v.keys.TouchKeys(ctx, used); err != nil {
		v.log.Warn().Err(err).Int("keys", len(used)).Msg("apikey: writing last_used_at failed; will retry")
		v.touchMu.Lock()
		for id, e := range batch {
			if _, ok := v.pending[id]; !ok {
				e.queued.Store(true)
				v.pending[id] = e
			}
		}
		v.touchMu.Unlock()
		return fmt.Errorf("apikey: touch keys: %w", err)
	}
	return nil
}

func (v *Verifier) touchLoop() {
	defer close(v.done)
	t := time.NewTicker(v.interval)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), touchTimeout)
			_ = v.Flush(ctx) // logged by Flush; retried next tick
			cancel()
		}
	}
}

// Close stops the background writer, writes the last batch of last_used_at
// updates and stops listening to changes. Verify must not be called after
// Close. Close is idempotent.
func (v *Verifier) Close() error {
	v.closeOnce.Do(func() {
		close(v.stop)
		<-v.done
		if v.unsubscribe != nil {
			v.unsubscribe()
		}
		ctx, cancel := context.WithTimeout(context.Background(), touchTimeout)
		defer cancel()
		v.closeErr = v.Flush(ctx)
	})
	return v.closeErr
}

// entry is one verified key: immutable snapshots of the key and its app's
// state, plus its last use.
type entry struct {
	key      keystore.Key
	app      *appState
	ident    Identity
	lastUsed atomic.Int64 // unix ns
	queued   atomic.Bool  // in Verifier.pending
}

func newEntry(k keystore.Key, app *appState) *entry {
	return &entry{
		key: k,
		app: app,
		ident: Identity{
			KeyID:        k.ID,
			KeyName:      k.Name,
			AppSlug:      k.AppSlug,
			Tenant:       app.app.Tenant,
			DeploymentID: app.app.DeploymentID,
			Permissions:  k.Permissions,
			Metadata:     k.Metadata,
			ExpiresAt:    k.ExpiresAt,
			GraceUntil:   k.GraceUntil,
			limits:       app.limits,
		},
	}
}

// appState is the snapshot of one app shared by the cached keys of that app.
// An app change marks it stale, which invalidates all those keys at once, and
// so does its age: they expire together, maxAge after readAt. A scheme
// change drops every app (keystore.Change{}).
type appState struct {
	app    keystore.App
	limits *ratelimit.Limits // the app's rules, read with it
	readAt int64             // when the store was read, unix ns; 0 outside the cache
	stale  atomic.Bool
}

// cache holds verified keys by the SHA-256 of their secret.
type cache struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]*entry
	apps    map[string]*appState
	// gen counts invalidations. A lookup that started before one may have
	// read the old state from the store, so its result is not cached.
	gen    uint64
	max    int
	maxAge int64 // ns
}

func newCache(max int, maxAge time.Duration) *cache {
	return &cache{
		entries: make(map[[sha256.Size]byte]*entry),
		apps:    make(map[string]*appState),
		max:     max,
		maxAge:  int64(maxAge),
	}
}

// get returns a fresh entry (not made stale by a change, and its app read
// from the store less than maxAge before now, in unix ns), or nil and the
// generation to pass to put.
func (c *cache) get(sum *[sha256.Size]byte, now int64) (*entry, uint64) {
	c.mu.RLock()
	e, gen := c.entries[*sum], c.gen
	c.mu.RUnlock()
	if e != nil && !e.app.stale.Load() && now-e.app.readAt < c.maxAge {
		return e, 0
	}
	return nil, gen
}

// put caches what a lookup begun at generation gen, at now (unix ns), found,
// unless a change came in meanwhile, and returns the entry to use for this
// request.
func (c *cache) put(sum *[sha256.Size]byte, k keystore.Key, a keystore.App, limits *ratelimit.Limits, gen uint64, now int64) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return newEntry(k, &appState{app: a, limits: limits})
	}
	// A key shares its app's snapshot, and expires with it: no part of an
	// entry is older than maxAge.
	st := c.apps[a.Slug]
	if st == nil || st.stale.Load() || now-st.readAt >= c.maxAge {
		st = &appState{app: a, limits: limits, readAt: now}
		c.apps[a.Slug] = st
	}
	e := newEntry(k, st)
	if old := c.entries[*sum]; old != nil {
		e.lastUsed.Store(old.lastUsed.Load())
	} else if len(c.entries) >= c.max {
		for h := range c.entries { // map order is random: drop any one
			delete(c.entries, h)
			break
		}
	}
	c.entries[*sum] = e
	return e
}

// invalidate drops what a committed change made stale. The store calls it
// before the changing call returns.
func (c *cache) invalidate(ch keystore.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if ch.KeyHash != "" {
		var sum [sha256.Size]byte
		if n, err := hex.Decode(sum[:], []byte(ch.KeyHash)); err == nil && n == len(sum) {
			delete(c.entries, sum)
			return
		}
	}
	if ch.AppSlug == "" || ch.KeyHash != "" {
		// A change we cannot place: drop everything rather than guess.
		clear(c.entries)
		for _, st := range c.apps {
			st.stale.Store(true)
		}
		clear(c.apps)
		return
	}
	if st := c.apps[ch.AppSlug]; st != nil {
		st.stale.Store(true)
		delete(c.apps, ch.AppSlug)
	}
}
