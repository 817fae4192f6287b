package apikey

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/policy"
)

// formatRE is the secret format, spelled out as a reference for WellFormed.
var formatRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,32}_[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$`)

func TestWellFormed(t *testing.T) {
	body := "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg" // 43 chars, canonical
	cases := []struct {
		name   string
		secret string
		want   bool
	}{
		{"typical", "acme_live_" + body, true},
		{"one-character prefix", "a_" + body, true},
		{"32-character prefix", strings.Repeat("p", 32) + "_" + body, true},
		{"body with - and _", "k_" + strings.Repeat("-_", 21) + "A", true},
		{"empty", "", false},
		{"33-character prefix", strings.Repeat("p", 33) + "_" + body, false},
		{"no prefix", "_" + body, false},
		{"prefix with -", "acme-live_" + body, false},
		{"body too short", "k_" + body[1:], false},
		{"body too long", "k_" + body + "A", false},
		{"separator missing", "k" + body, false},
		{"non-canonical end", "k_" + body[:42] + "B", false},
		{"padding", "k_" + body[:42] + "=", false},
		{"space", "k_" + body[:20] + " " + body[21:], false},
		{"NUL", "k_" + body[:20] + "\x00" + body[21:], false},
		{"UTF-8", "k_" + body[:40] + "é" + "A", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := WellFormed(tc.secret); got != tc.want {
				t.Errorf("WellFormed(%q) = %v, want %v", tc.secret, got, tc.want)
			}
			if ref := formatRE.MatchString(tc.secret); ref != tc.want {
				t.Errorf("reference regexp says %v", ref)
			}
		})
	}
}

func FuzzWellFormed(f *testing.F) {
	f.Add("acme_live_Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg")
	f.Add("k_" + strings.Repeat("A", 43))
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := WellFormed(s), formatRE.MatchString(s); got != want {
			t.Fatalf("WellFormed(%q) = %v, reference %v", s, got, want)
		}
	})
}

// fakeKeys is an in-memory keystore.Keys with a change feed; LookupKey can
// be held at a gate to interleave a change with it.
type fakeKeys struct {
	keystore.Keys
	keystore.Subscribers
	mu      sync.Mutex
	keys    map[string]keystore.Key
	app     keystore.App            // the app of keys added by add
	apps    map[string]keystore.App // the apps of keys added by addTo
	gate    chan struct{}           // when set, LookupKey waits on it after reading
	lookups atomic.Int64
	touched map[string]time.Time
}

func newFakeKeys() *fakeKeys {
	return &fakeKeys{
		keys:    map[string]keystore.Key{},
		app:     keystore.App{Slug: "aa_1", Tenant: "acme", IsActive: true},
		apps:    map[string]keystore.App{},
		touched: map[string]time.Time{},
	}
}

// addTo adds a key of another app than f.app.
func (f *fakeKeys) addTo(secret string, app keystore.App) keystore.Key {
	k := f.add(secret)
	f.mu.Lock()
	defer f.mu.Unlock()
	k.AppSlug = app.Slug
	f.keys[k.Hash] = k
	f.apps[app.Slug] = app
	return k
}

func (f *fakeKeys) touchedAt(id string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.touched[id]
}

func (f *fakeKeys) add(secret string) keystore.Key {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := keystore.Key{ID: "key_" + secret[len(secret)-4:], AppSlug: "aa_1", IsActive: true, Hash: keystore.HashSecret(secret)}
	f.keys[k.Hash] = k
	return k
}

func (f *fakeKeys) revoke(secret string) {
	f.mu.Lock()
	h := keystore.HashSecret(secret)
	k := f.keys[h]
	k.IsActive = false
	f.keys[h] = k
	f.mu.Unlock()
	f.Notify(keystore.Change{AppSlug: "aa_1", KeyHash: h})
}

func (f *fakeKeys) LookupKey(_ context.Context, hash string) (keystore.Key, keystore.App, error) {
	f.lookups.Add(1)
	f.mu.Lock()
	k, ok := f.keys[hash]
	app, gate := f.app, f.gate
	if a, other := f.apps[k.AppSlug]; other {
		app = a
	}
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if !ok {
		return keystore.Key{}, keystore.App{}, keystore.ErrNotFound
	}
	return k, app, nil
}

func (f *fakeKeys) TouchKeys(_ context.Context, used map[string]time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, t := range used {
		f.touched[id] = t
	}
	return nil
}

var secretA = "k_" + strings.Repeat("A", BodyLen)

// TestStaleLookupIsNotCached interleaves a revocation with a lookup that read
// the key before it: that answer may serve its own request, but must not be
// cached, or the revoked key would live on.
func TestStaleLookupIsNotCached(t *testing.T) {
	f := newFakeKeys()
	f.add(secretA)
	v, err := New(Config{Keys: f})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()

	gate := make(chan struct{})
	f.mu.Lock()
	f.gate = gate
	f.mu.Unlock()
	done := make(chan error)
	go func() {
		_, err := v.Verify(context.Background(), secretA, nil)
		done <- err
	}()
	for f.lookups.Load() == 0 {
		select {
		case err := <-done:
			t.Fatalf("Verify returned without a lookup: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	f.revoke(secretA) // commits and notifies while the lookup is in flight
	f.mu.Lock()
	f.gate = nil
	f.mu.Unlock()
	close(gate)
	if err := <-done; err != nil {
		t.Fatalf("the request concurrent with the revocation: %v (it read the key before)", err)
	}
	if _, err := v.Verify(context.Background(), secretA, nil); !errors.Is(err, ErrRevoked) {
		t.Fatalf("next request: %v, want ErrRevoked", err)
	}
}

// revokeSilently revokes the key in the store without telling subscribers:
// a change the feed missed.
func (f *fakeKeys) revokeSilently(secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := keystore.HashSecret(secret)
	k := f.keys[h]
	k.IsActive = false
	f.keys[h] = k
}

// clockedVerifier is a Verifier on f with maxAge and a clock the test moves
// by advancing *now, with one key verified (so cached) first.
func clockedVerifier(t *testing.T, f *fakeKeys, maxAge time.Duration, first string) (*Verifier, *time.Time) {
	t.Helper()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v, err := New(Config{Keys: f, Now: func() time.Time { return now }, CacheMaxAge: maxAge, TouchInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	if _, err := v.Verify(context.Background(), first, nil); err != nil {
		t.Fatal(err)
	}
	return v, &now
}

// TestCacheMaxAge: even with a live change feed, a cached key is read from
// the store again once it is CacheMaxAge old, so a change the feed missed
// is enforced within that bound.
func TestCacheMaxAge(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		maxAge time.Duration
		want   time.Duration
	}{{"default", 0, DefaultCacheMaxAge}, {"configured", 5 * time.Second, 5 * time.Second}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeKeys()
			f.add(secretA)
			v, now := clockedVerifier(t, f, tc.maxAge, secretA)
			f.revokeSilently(secretA)
			*now = now.Add(tc.want - time.Nanosecond)
			if _, err := v.Verify(ctx, secretA, nil); err != nil {
				t.Fatalf("just under the bound: %v, want the cached allow", err)
			}
			*now = now.Add(time.Nanosecond)
			if _, err := v.Verify(ctx, secretA, nil); !errors.Is(err, ErrRevoked) {
				t.Fatalf("at the bound (%v): %v, want ErrRevoked", tc.want, err)
			}
		})
	}
	// A key cached later shares its app's snapshot, and its age: an app
	// change the feed missed is enforced on every key of the app within
	// the bound.
	t.Run("app", func(t *testing.T) {
		f := newFakeKeys()
		f.add(secretA)
		secretB := "k_" + strings.Repeat("E", BodyLen)
		f.add(secretB)
		v, now := clockedVerifier(t, f, 0, secretA)
		*now = now.Add(DefaultCacheMaxAge - time.Second)
		if _, err := v.Verify(ctx, secretB, nil); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.app.IsActive = false // silently
		f.mu.Unlock()
		*now = now.Add(time.Second)
		for _, s := range []string{secretA, secretB} {
			if _, err := v.Verify(ctx, s, nil); !errors.Is(err, ErrAppInactive) {
				t.Fatalf("key %s… once its app snapshot is %v old: %v, want ErrAppInactive", s[:3], DefaultCacheMaxAge, err)
			}
		}
	})
	if _, err := New(Config{Keys: newFakeKeys(), CacheMaxAge: -time.Second}); err == nil {
		t.Fatal("a negative CacheMaxAge was accepted")
	}
}

// cachedVerifier returns a verifier that holds secretA in its cache,
// closed when tb ends.
func cachedVerifier(tb testing.TB) *Verifier {
	tb.Helper()
	f := newFakeKeys()
	f.add(secretA)
	v, err := New(Config{Keys: f, TouchInterval: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { v.Close() })
	if _, err := v.Verify(context.Background(), secretA, nil); err != nil {
		tb.Fatal(err)
	}
	return v
}

func TestVerifyAllocations(t *testing.T) {
	v := cachedVerifier(t)
	ctx := context.Background()
	req := []string{}
	if n := testing.AllocsPerRun(100, func() { v.Verify(ctx, secretA, req) }); n != 0 {
		t.Errorf("cached verification: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { v.Verify(ctx, "garbage", nil) }); n != 0 {
		t.Errorf("garbage: %v allocations, want 0", n)
	}
}

type failingTenants struct{}

func (failingTenants) TenantStatus(context.Context, string) (policy.TenantStatus, error) {
	return "", errors.New("tenant db down")
}

func TestVerifyFailsClosed(t *testing.T) {
	f := newFakeKeys()
	f.add(secretA)
	v, err := New(Config{Keys: f, Tenants: failingTenants{}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	id, err := v.Verify(context.Background(), secretA, nil)
	if id != nil || !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalid) {
		t.Fatalf("tenant check failure: %v, %v; want ErrUnavailable and no identity", id, err)
	}
}

func TestFlushBatchesAndCloseStops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := newFakeKeys()
	k := f.add(secretA)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v, err := New(Config{Keys: f, Now: func() time.Time { return now }, TouchInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		v.Verify(context.Background(), secretA, nil)
	}
	if len(f.touched) != 0 {
		t.Fatal("touched before a flush")
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if got := f.touched[k.ID]; !got.Equal(now) {
		t.Fatalf("last used %v after Close, want %v", got, now)
	}
}

// TestVerifyAtDecidesAtTheCallersTime: VerifyAt decides at the time it is
// given (the guard's one clock reading), not at the Verifier's clock, and
// the zero time falls back to that clock.
func TestVerifyAtDecidesAtTheCallersTime(t *testing.T) {
	f := newFakeKeys()
	k := f.add(secretA)
	expires := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	k.ExpiresAt = &expires
	f.keys[k.Hash] = k
	clock := expires.Add(-time.Hour) // the Verifier's clock: still valid
	v, err := New(Config{Keys: f, Now: func() time.Time { return clock }, TouchInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx := context.Background()
	if _, err := v.VerifyAt(ctx, secretA, nil, expires.Add(time.Second)); !errors.Is(err, ErrExpired) {
		t.Fatalf("VerifyAt after expiry: %v, want ErrExpired", err)
	}
	if _, err := v.VerifyAt(ctx, secretA, nil, time.Time{}); err != nil {
		t.Fatalf("VerifyAt at the zero time (the clock's, before expiry): %v", err)
	}
	if err := v.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.touchedAt(k.ID); !got.Equal(clock) {
		t.Fatalf("last used %v, want the clock's %v", got, clock)
	}
}

// go test -run '^$' -bench Verify -benchmem ./middleware/apikey/
func BenchmarkVerifyGarbage(b *testing.B) {
	v, err := New(Config{Keys: newFakeKeys()})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	garbage := []string{"hello", "k_" + strings.Repeat("A", 42) + "!", strings.Repeat("x", 200), "k-" + strings.Repeat("A", 43)}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := v.Verify(ctx, garbage[i%len(garbage)], nil); err != ErrMalformed {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	v := cachedVerifier(b)
	ctx := context.Background()
	req := []string{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, secretA, req); err != nil {
			b.Fatal(err)
		}
	}
}
