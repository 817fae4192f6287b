package apikey

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/policy"
)

// The rules Verify applies to a key the store found, each checked here on
// its own: the key's state at the verifier's clock (expires_at, grace_until,
// revocation), the app's state, the tenant's status and the permissions.

// tenantStatuses is a TenantStatuser over a map; absent tenants are unknown.
type tenantStatuses map[string]policy.TenantStatus

func (m tenantStatuses) TenantStatus(_ context.Context, tenant string) (policy.TenantStatus, error) {
	if st, ok := m[tenant]; ok {
		return st, nil
	}
	return policy.TenantUnknown, nil
}

func TestVerifyRules(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	tests := []struct {
		name     string
		key      func(*keystore.Key)
		app      func(*keystore.App)
		tenant   policy.TenantStatus // of acme; "" leaves it out: unknown
		required []string
		want     error // nil: verified
	}{
		{name: "active key", tenant: policy.TenantActive},
		{name: "expires in a second", key: func(k *keystore.Key) { k.ExpiresAt = at(time.Second) }, tenant: policy.TenantActive},
		{name: "expires now", key: func(k *keystore.Key) { k.ExpiresAt = at(0) }, tenant: policy.TenantActive, want: ErrExpired},
		{name: "expired an hour ago", key: func(k *keystore.Key) { k.ExpiresAt = at(-time.Hour) }, tenant: policy.TenantActive, want: ErrExpired},
		{name: "rotated, a second of grace left", key: func(k *keystore.Key) { k.GraceUntil = at(time.Second) }, tenant: policy.TenantActive},
		{name: "rotated, grace ends now", key: func(k *keystore.Key) { k.GraceUntil = at(0) }, tenant: policy.TenantActive, want: ErrRevoked},
		{name: "rotated, grace ended", key: func(k *keystore.Key) { k.GraceUntil = at(-time.Minute) }, tenant: policy.TenantActive, want: ErrRevoked},
		{name: "revoked", key: func(k *keystore.Key) { k.IsActive = false }, tenant: policy.TenantActive, want: ErrRevoked},
		{name: "app disabled", app: func(a *keystore.App) { a.IsActive = false }, tenant: policy.TenantActive, want: ErrAppInactive},
		{name: "app deleted", app: func(a *keystore.App) { a.DeletedAt = at(-time.Second) }, tenant: policy.TenantActive, want: ErrAppInactive},
		{name: "tenant suspended", tenant: policy.TenantSuspended, want: ErrTenantInactive},
		{name: "tenant deleted", tenant: policy.TenantDeleted, want: ErrTenantInactive},
		{name: "tenant unknown", want: ErrTenantInactive},
		{name: "holds the required permission", tenant: policy.TenantActive, required: []string{"deploy:read"}},
		{name: "holds both required permissions", tenant: policy.TenantActive, required: []string{"deploy:read", "deploy:write"}},
		{name: "lacks the required permission", tenant: policy.TenantActive, required: []string{"deploy:admin"}, want: ErrPermissionDenied},
		{name: "lacks the second of two", tenant: policy.TenantActive, required: []string{"deploy:read", "deploy:admin"}, want: ErrPermissionDenied},
		{name: "permission named by a prefix of a held one", tenant: policy.TenantActive, required: []string{"deploy"}, want: ErrPermissionDenied},
		{name: "expired and lacking a permission: expired", key: func(k *keystore.Key) { k.ExpiresAt = at(-time.Hour) }, tenant: policy.TenantActive, required: []string{"deploy:admin"}, want: ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeKeys()
			k := f.add(secretA)
			k.Permissions = []string{"deploy:read", "deploy:write"}
			if tc.key != nil {
				tc.key(&k)
			}
			f.keys[k.Hash] = k
			if tc.app != nil {
				tc.app(&f.app)
			}
			tenants := tenantStatuses{"globex": policy.TenantActive}
			if tc.tenant != "" {
				tenants["acme"] = tc.tenant
			}
			v, err := New(Config{Keys: f, Tenants: tenants, Now: func() time.Time { return now }, TouchInterval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()

			id, err := v.Verify(context.Background(), secretA, tc.required)
			if err != tc.want {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			switch {
			case tc.want == nil || tc.want == ErrPermissionDenied:
				// A valid key: its identity comes back, with ErrForbidden
				// when a permission is missing.
				if id == nil || id.KeyID != k.ID || id.AppSlug != "aa_1" || id.Tenant != "acme" {
					t.Fatalf("identity %+v", id)
				}
			case id != nil:
				t.Fatalf("a refused key returned identity %+v", id)
			}
		})
	}
}

func TestIdentityHasPermission(t *testing.T) {
	id := &Identity{Permissions: []string{"deploy:read", "audit:read"}}
	for p, want := range map[string]bool{
		"deploy:read": true, "audit:read": true,
		"deploy:write": false, "deploy": false, "deploy:read ": false, "": false, "DEPLOY:READ": false,
	} {
		if got := id.HasPermission(p); got != want {
			t.Errorf("HasPermission(%q) = %v, want %v", p, got, want)
		}
	}
	if (&Identity{}).HasPermission("deploy:read") {
		t.Error("a key without permissions holds deploy:read")
	}
}

// otherAppKeys answers every lookup with the key and an app that is not the
// key's: a store that broke its contract.
type otherAppKeys struct{ *fakeKeys }

func (o otherAppKeys) LookupKey(ctx context.Context, hash string) (keystore.Key, keystore.App, error) {
	k, app, err := o.fakeKeys.LookupKey(ctx, hash)
	app.Slug = "aa_2"
	return k, app, err
}

func TestVerifyRefusesKeyOfAnotherApp(t *testing.T) {
	f := newFakeKeys()
	f.add(secretA)
	o := otherAppKeys{f}
	v, err := New(Config{Keys: o, Changes: f})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for i := range 2 { // and the answer is not cached
		id, err := v.Verify(context.Background(), secretA, nil)
		if id != nil || !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrInvalid) {
			t.Fatalf("call %d: %+v, %v; want ErrUnavailable and no identity", i, id, err)
		}
	}
	if n := f.lookups.Load(); n != 2 {
		t.Fatalf("%d lookups, want 2: a mismatched answer must not be cached", n)
	}
}
