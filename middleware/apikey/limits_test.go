package apikey_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/apikey"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// TestSchemeChangeFromAnotherProcess: a verifier on one store serves a
// key's app's rules; a scheme edited through another store on the same
// file (the CLI, another server) reaches it through the change feed, and
// its next verification carries the new rules.
func TestSchemeChangeFromAnotherProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys.db")
	open := func() keystore.Store {
		s, err := sqlite.Open(ctx, path, keystore.Options{PollInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	server, admin := open(), open()
	by := keystore.Actor{Name: "test"}
	if _, err := admin.CreateScheme(ctx, keystore.Scheme{Slug: "std", Name: "Std", Rules: []ratelimit.SchemeRule{
		{Unit: "minute", Duration: 1, MaxRequests: 10}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateApp(ctx, keystore.App{Slug: "aa_1", Name: "A", KeyPrefix: "acme", Tenant: "acme",
		RateLimitSchemeSlug: "std", RateLimits: []ratelimit.SchemeRule{{Unit: "hour", Duration: 1, MaxRequests: 100, Priority: 9}}}, by); err != nil {
		t.Fatal(err)
	}
	_, secret, err := admin.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_1", Name: "k"}, by)
	if err != nil {
		t.Fatal(err)
	}
	v, err := apikey.New(apikey.Config{Keys: server})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	names := func() string {
		id, err := v.Verify(ctx, secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(id.RateLimits().Names(), ",")
	}
	if got := names(); got != "rate_limits[0],std[0]" {
		t.Fatalf("rules %q, want the app's own (priority 9) then the scheme's", got)
	}
	rules := []ratelimit.SchemeRule{{Unit: "minute", Duration: 1, MaxRequests: 10}, {Unit: "second", Duration: 1, MaxRequests: 1, Priority: 20}}
	if _, err := admin.UpdateScheme(ctx, "std", keystore.SchemePatch{Rules: &rules}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		got := names()
		if got == "std[1],rate_limits[0],std[0]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("2 s after the scheme changed elsewhere the verifier still serves %q", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
