package keystore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
)

// The whole life of a key, on an in-memory SQLite store (sqlite.Open with a
// file path keeps it; postgres.Open gives the same Store on a shared
// database).
func Example() {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, ":memory:", keystore.Options{})
	if err != nil {
		panic(err)
	}
	defer store.Close()

	alice := keystore.Actor{Name: "alice"}
	app, err := store.CreateApp(ctx, keystore.App{
		Slug: "aa_42", DeploymentID: "42", Name: "Acme API", KeyPrefix: "acme", Tenant: "acme",
		AllowedOrigins: []string{"http://127.0.0.1:8080"},
	}, alice)
	if err != nil {
		panic(err)
	}

	// The secret is returned once; the store keeps only its SHA-256.
	key, secret, err := store.CreateKey(ctx, keystore.NewKey{AppSlug: app.Slug, Name: "CI deploys"}, alice)
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(secret, "acme_"), len(secret)-len("acme_"), key.KeySuffix == secret[len(secret)-8:])

	// Verifying a presented secret: hash it, look it up, judge its state.
	found, foundApp, err := store.LookupKey(ctx, keystore.HashSecret(secret))
	if err != nil {
		panic(err)
	}
	fmt.Println(found.ID == key.ID, foundApp.Tenant, found.StatusAt(time.Now()))

	if _, err := store.RevokeKey(ctx, app.Slug, key.ID, "leaked", alice); err != nil {
		panic(err)
	}
	found, _, _ = store.LookupKey(ctx, keystore.HashSecret(secret))
	fmt.Println(found.StatusAt(time.Now()))
	_, err = store.RevokeKey(ctx, app.Slug, key.ID, "again", alice)
	fmt.Println(errors.Is(err, keystore.ErrInactive))

	// Every change left an audit event.
	page, err := store.QueryAudit(ctx, audit.Query{Tenant: "acme"})
	if err != nil {
		panic(err)
	}
	for _, e := range page.Events {
		fmt.Println(e.Action, e.Actor, e.Outcome)
	}
	// Output:
	// true 43 true
	// true acme active
	// revoked
	// true
	// key.revoked alice success
	// key.created alice success
	// app.created alice success
}

// Listing keys page by page, and the cap on an app's active keys.
func ExampleKeys_ListKeys() {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, ":memory:", keystore.Options{MaxActiveKeys: 5})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	alice := keystore.Actor{Name: "alice"}
	if _, err := store.CreateApp(ctx, keystore.App{Slug: "aa_42", Name: "Acme API", KeyPrefix: "acme", Tenant: "acme"}, alice); err != nil {
		panic(err)
	}
	for i := range 6 {
		_, _, err := store.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: fmt.Sprint("key ", i)}, alice)
		if errors.Is(err, keystore.ErrKeyLimit) {
			fmt.Println(err)
		}
	}

	f := keystore.KeyFilter{AppSlug: "aa_42", Status: keystore.KeyActive, Limit: 2}
	for {
		page, err := store.ListKeys(ctx, f)
		if err != nil {
			panic(err)
		}
		fmt.Println(len(page.Keys), "keys, more:", page.NextCursor != "")
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	// Output:
	// keystore: active key limit reached: app "aa_42" has 5 active keys, the most allowed; revoke one before creating another
	// 2 keys, more: true
	// 2 keys, more: true
	// 1 keys, more: false
}
