package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/storetest"
)

// TestPostgresSchemeChangesReachOtherInstances: a scheme edited on one
// instance makes another drop everything it cached (Change{}), through
// NOTIFY, so its next request reads the new rules.
func TestPostgresSchemeChangesReachOtherInstances(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	schema := freshSchema(t, dsn)
	a := openPostgres(t, dsn, schema, keystore.Options{})
	b := openPostgres(t, dsn, schema, keystore.Options{})
	heard := make(chan keystore.Change, 8)
	b.Subscribe(func(c keystore.Change) { heard <- c })
	ctx := context.Background()
	if _, err := a.CreateScheme(ctx, storetest.DemoScheme("standard")); err != nil {
		t.Fatal(err)
	}
	name := "Renamed"
	if _, err := a.UpdateScheme(ctx, "standard", keystore.SchemePatch{Name: &name}); err != nil {
		t.Fatal(err)
	}
	for i, what := range []string{"create", "update"} {
		select {
		case c := <-heard:
			if c != (keystore.Change{}) {
				t.Fatalf("change %d (%s) heard as %+v, want Change{}", i, what, c)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("the other instance did not hear the scheme %s within 2s", what)
		}
	}
	if got, err := b.GetScheme(ctx, "standard"); err != nil || got.Name != "Renamed" {
		t.Fatalf("other instance reads %+v, %v", got, err)
	}
}
