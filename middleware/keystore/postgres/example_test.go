package postgres_test

import (
	"context"
	"fmt"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/postgres"
)

// Many instances share Postgres; each hears the others' key and app changes
// (revocations) through Subscribe within a second.
func ExampleOpen() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		keystore.Options{Schema: "keyportal"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	cancel := store.Subscribe(func(c keystore.Change) {
		// Drop the cached verification of c.KeyHash (or of everything
		// when c.AppSlug is empty).
	})
	defer cancel()
}
