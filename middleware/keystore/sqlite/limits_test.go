package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/sqlstore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/storetest"
)

// TestCapCountUsesItsIndex: the count CreateKey takes under the cap reads the
// index of live keys only, not every key the app ever had.
func TestCapCountUsesItsIndex(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "plan.sqlite"), keystore.Options{})
	rows, err := s.r.Query(`EXPLAIN QUERY PLAN `+sqlstore.CountCappedQuery, "aa_42", true, time.Now().UnixNano())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "COVERING INDEX api_keys_app_live (app_slug=? AND is_active=? AND grace_until=?") {
		t.Fatalf("the count's plan is %q, want the covering index api_keys_app_live on app, is_active and grace_until", p)
	}
}

// TestMigratesAVersion1Database: a database made before the cap (schema
// version 1) gains the index on open, keeping its keys.
func TestMigratesAVersion1Database(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.sqlite")
	s, err := Open(ctx, path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateApp(ctx, storetest.DemoApp("aa_42", "acme"), storetest.Alice); err != nil {
		t.Fatal(err)
	}
	storetest.MustKey(t, s, "aa_42", "old", nil)
	downgradeToV1(t, s)
	s.Close()

	s, err = Open(ctx, path, keystore.Options{})
	if err != nil {
		t.Fatalf("open a version 1 database: %v", err)
	}
	defer s.Close()
	var n int
	if err := s.r.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'api_keys_app_live'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("index after the migration: %d, %v", n, err)
	}
	if page, err := s.ListKeys(ctx, keystore.KeyFilter{}); err != nil || len(page.Keys) != 1 {
		t.Fatalf("keys after the migration: %d, %v", len(page.Keys), err)
	}
}
