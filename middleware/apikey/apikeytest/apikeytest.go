// Package apikeytest holds the key-verification scenarios that every path
// verifying API keys must pass the same way: middleware.RequireAPIKey and the
// backend API's POST /v1/authz/check run this one table, so they cannot
// drift apart. It is for tests only.
package apikeytest

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
	"github.com/keyportal/keyportal/policy"
)

// Demo names used by the scenarios.
const (
	Tenant    = "acme"
	AppSlug   = "aa_42"
	KeyPrefix = "acme_live"
	Origin    = "http://127.0.0.1:8080"
)

// Start is the clock's initial time.
var Start = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// Clock is a settable clock for the store and the verifier.
type Clock = testenv.Clock

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return testenv.NewClock(t) }

// Tenants is a policy.TenantStatuser backed by a map; tenants not in it
// are unknown.
type Tenants struct {
	mu sync.Mutex
	m  map[string]policy.TenantStatus
}

// NewTenants returns statuses with Tenant active.
func NewTenants() *Tenants {
	return &Tenants{m: map[string]policy.TenantStatus{Tenant: policy.TenantActive}}
}

// Set sets a tenant's status.
func (t *Tenants) Set(tenant string, st policy.TenantStatus) {
	t.mu.Lock()
	t.m[tenant] = st
	t.mu.Unlock()
}

// TenantStatus implements policy.TenantStatuser.
func (t *Tenants) TenantStatus(_ context.Context, tenant string) (policy.TenantStatus, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st, ok := t.m[tenant]; ok {
		return st, nil
	}
	return policy.TenantUnknown, nil
}

// Env is one scenario's world: a fresh SQLite store holding app AppSlug of
// Tenant, a clock and tenant statuses.
type Env struct {
	Store   keystore.Store
	Clock   *Clock
	Tenants *Tenants
	App     keystore.App
}

// Actor is who the scenarios act as.
var Actor = keystore.Actor{Name: "apikeytest"}

// NewEnv opens a store in a temporary directory and creates the app. The
// store is closed when the test ends.
func NewEnv(t testing.TB) *Env {
	t.Helper()
	clock := NewClock(Start)
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "keys.db"), keystore.Options{Now: clock.Now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	app, err := st.CreateApp(context.Background(), keystore.App{
		Slug: AppSlug, Name: "Acme Public API", KeyPrefix: KeyPrefix, Tenant: Tenant,
		DeploymentID: "42", IsActive: true, Permissions: []string{"deploy:read", "deploy:write"},
		AllowedOrigins: []string{Origin},
	}, Actor)
	if err != nil {
		t.Fatalf("create app: %v", err)
	}
	return &Env{Store: st, Clock: clock, Tenants: NewTenants(), App: app}
}

// NewKey creates a key of the app and returns it with its secret.
func (e *Env) NewKey(t testing.TB, name string, perms []string, expires *time.Time) (keystore.Key, string) {
	t.Helper()
	k, secret, err := e.Store.CreateKey(context.Background(), keystore.NewKey{
		AppSlug: AppSlug, Name: name, Permissions: perms, Metadata: map[string]any{"team": "ops"}, ExpiresAt: expires,
	}, Actor)
	if err != nil {
		t.Fatalf("create key: %v", err)
	}
	return k, secret
}

// Case is one scenario. The runner presents Secret(env) once, expecting
// success when Then is set (so that the key sits in any cache), calls Then,
// and presents it again with Required, expecting Want ("" means allowed).
type Case struct {
	Name     string
	Secret   func(t testing.TB, e *Env) string
	Then     func(t testing.TB, e *Env, secret string)
	Required []string
	Want     apikey.Reason
}

// Status is the HTTP status RequireAPIKey answers for a reason.
func Status(r apikey.Reason) int {
	switch r {
	case "":
		return http.StatusOK
	case apikey.ReasonPermissionDenied:
		return http.StatusForbidden
	default:
		return http.StatusUnauthorized
	}
}

func validKey(t testing.TB, e *Env) string {
	_, s := e.NewKey(t, "ci", []string{"deploy:read"}, nil)
	return s
}

func keyIDOf(t testing.TB, e *Env, secret string) string {
	t.Helper()
	k, _, err := e.Store.LookupKey(context.Background(), keystore.HashSecret(secret))
	if err != nil {
		t.Fatalf("lookup key: %v", err)
	}
	return k.ID
}

func rotate(grace, after time.Duration) func(testing.TB, *Env, string) {
	return func(t testing.TB, e *Env, secret string) {
		if _, _, err := e.Store.RotateKey(context.Background(), AppSlug, keyIDOf(t, e, secret), grace, Actor); err != nil {
			t.Fatalf("rotate: %v", err)
		}
		e.Clock.Advance(after)
	}
}

func constant(s string) func(testing.TB, *Env) string {
	return func(testing.TB, *Env) string { return s }
}

// A well-formed secret that no key has.
const unknownSecret = KeyPrefix + "_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// Cases returns the scenarios.
func Cases() []Case {
	body := strings.Repeat("A", apikey.BodyLen)
	return []Case{
		{Name: "valid key", Secret: validKey},
		{Name: "valid key holding the required permission", Secret: validKey, Required: []string{"deploy:read"}},
		{Name: "valid key lacking a required permission", Secret: validKey, Required: []string{"deploy:write"}, Want: apikey.ReasonPermissionDenied},
		{Name: "lacking one of two permissions", Secret: validKey, Required: []string{"deploy:read", "deploy:write"}, Want: apikey.ReasonPermissionDenied},
		{Name: "no key", Secret: constant(""), Want: apikey.ReasonMissing},
		{Name: "unknown well-formed key", Secret: constant(unknownSecret), Want: apikey.ReasonUnknown},
		{Name: "garbage", Secret: constant("hello"), Want: apikey.ReasonMalformed},
		{Name: "body one short", Secret: constant(KeyPrefix + "_" + body[1:]), Want: apikey.ReasonMalformed},
		{Name: "body one long", Secret: constant(KeyPrefix + "_" + body + "A"), Want: apikey.ReasonMalformed},
		{Name: "no separator", Secret: constant(KeyPrefix + "x" + body), Want: apikey.ReasonMalformed},
		{Name: "no prefix", Secret: constant("_" + body), Want: apikey.ReasonMalformed},
		{Name: "prefix too long", Secret: constant(strings.Repeat("p", 33) + "_" + body), Want: apikey.ReasonMalformed},
		{Name: "padding in body", Secret: constant(KeyPrefix + "_" + body[:42] + "="), Want: apikey.ReasonMalformed},
		{Name: "standard base64 character", Secret: constant(KeyPrefix + "_" + body[:20] + "+" + body[21:]), Want: apikey.ReasonMalformed},
		{Name: "non-canonical last character", Secret: constant(KeyPrefix + "_" + body[:42] + "B"), Want: apikey.ReasonMalformed},
		{Name: "non-ASCII", Secret: constant(KeyPrefix + "_" + body[:41] + "é"), Want: apikey.ReasonMalformed},
		{Name: "secret with one character changed", Secret: func(t testing.TB, e *Env) string {
			s := validKey(t, e)
			b := []byte(s)
			i := len(KeyPrefix) + 5
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			return string(b)
		}, Want: apikey.ReasonUnknown},
		{Name: "revoked key fails on the next request", Secret: validKey, Then: func(t testing.TB, e *Env, s string) {
			if _, err := e.Store.RevokeKey(context.Background(), AppSlug, keyIDOf(t, e, s), "leaked", Actor); err != nil {
				t.Fatalf("revoke: %v", err)
			}
		}, Want: apikey.ReasonRevoked},
		{Name: "rotated without grace fails at once", Secret: validKey, Then: rotate(0, 0), Want: apikey.ReasonRevoked},
		{Name: "rotated with 1h grace works within it", Secret: validKey, Then: rotate(time.Hour, time.Hour-time.Second)},
		{Name: "rotated with 1h grace fails at grace_until", Secret: validKey, Then: rotate(time.Hour, time.Hour), Want: apikey.ReasonRevoked},
		{Name: "rotated with 1h grace fails after it", Secret: validKey, Then: rotate(time.Hour, 2*time.Hour), Want: apikey.ReasonRevoked},
		{Name: "expired key", Secret: func(t testing.TB, e *Env) string {
			exp := e.Clock.Now().Add(time.Hour)
			_, s := e.NewKey(t, "short-lived", []string{"deploy:read"}, &exp)
			return s
		}, Then: func(_ testing.TB, e *Env, _ string) { e.Clock.Advance(time.Hour) }, Want: apikey.ReasonExpired},
		{Name: "key before its expiry", Secret: func(t testing.TB, e *Env) string {
			exp := e.Clock.Now().Add(time.Hour)
			_, s := e.NewKey(t, "short-lived", []string{"deploy:read"}, &exp)
			return s
		}, Then: func(_ testing.TB, e *Env, _ string) { e.Clock.Advance(time.Hour - time.Second) }},
		{Name: "key of a disabled app", Secret: validKey, Then: func(t testing.TB, e *Env, _ string) {
			off := false
			if _, err := e.Store.UpdateApp(context.Background(), AppSlug, keystore.AppPatch{IsActive: &off}, Actor); err != nil {
				t.Fatalf("disable app: %v", err)
			}
		}, Want: apikey.ReasonAppInactive},
		{Name: "key of a re-enabled app", Secret: validKey, Then: func(t testing.TB, e *Env, s string) {
			for _, on := range []bool{false, true} {
				if _, err := e.Store.UpdateApp(context.Background(), AppSlug, keystore.AppPatch{IsActive: &on}, Actor); err != nil {
					t.Fatalf("toggle app: %v", err)
				}
			}
		}},
		{Name: "key of a deleted app", Secret: validKey, Then: func(t testing.TB, e *Env, _ string) {
			if err := e.Store.DeleteApp(context.Background(), AppSlug, Actor); err != nil {
				t.Fatalf("delete app: %v", err)
			}
		}, Want: apikey.ReasonAppInactive},
		{Name: "key of a suspended tenant", Secret: validKey, Then: func(_ testing.TB, e *Env, _ string) {
			e.Tenants.Set(Tenant, policy.TenantSuspended)
		}, Want: apikey.ReasonTenantInactive},
		{Name: "key of a deleted tenant", Secret: validKey, Then: func(_ testing.TB, e *Env, _ string) {
			e.Tenants.Set(Tenant, policy.TenantDeleted)
		}, Want: apikey.ReasonTenantInactive},
		{Name: "another key revoked leaves this one valid", Secret: validKey, Then: func(t testing.TB, e *Env, _ string) {
			other := validKey(t, e)
			if _, err := e.Store.RevokeKey(context.Background(), AppSlug, keyIDOf(t, e, other), "", Actor); err != nil {
				t.Fatalf("revoke: %v", err)
			}
		}},
	}
}
