package portal

import (
	"context"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
)

// deafStore is a store whose change feed says nothing: a change it missed.
type deafStore struct{ keystore.Store }

func (deafStore) Subscribe(func(keystore.Change)) func() { return func() {} }

// TestAppCacheMaxAge: an app the feed did not report as changed is read
// again once appCacheMaxAge has passed, so a disabled app stops getting
// tickets within that bound even if its change was missed.
func TestAppCacheMaxAge(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, ":memory:", keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateApp(ctx, keystore.App{Slug: "aa_42", Tenant: "acme", Name: "Acme", KeyPrefix: "acme_live",
		AllowedOrigins: []string{"https://app.acme.test"}}, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newAppCache(deafStore{st}, func() time.Time { return now })
	if a, err := c.get(ctx, "aa_42"); err != nil || !a.Usable() {
		t.Fatalf("first get: %+v, %v", a, err)
	}
	off := false
	if _, err := st.UpdateApp(ctx, "aa_42", keystore.AppPatch{IsActive: &off}, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(appCacheMaxAge - time.Nanosecond)
	if a, _ := c.get(ctx, "aa_42"); !a.Usable() {
		t.Fatal("read again before the bound: the cache serves nothing")
	}
	now = now.Add(time.Nanosecond)
	if a, err := c.get(ctx, "aa_42"); err != nil || a.Usable() {
		t.Fatalf("at the bound (%v): usable=%v, %v; want the disabled app", appCacheMaxAge, a.Usable(), err)
	}
}
