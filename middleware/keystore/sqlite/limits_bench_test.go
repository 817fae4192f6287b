package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/storetest"
)

// BenchmarkSQLiteCreateKey measures what the cap on active keys costs a
// create (the count in its transaction), on an app that already holds
// 10,000 revoked keys and 50 active ones, against the same store without a
// cap:
//
//	go test ./middleware/keystore/sqlite -run '^$' -bench CreateKey -count 5
func BenchmarkSQLiteCreateKey(b *testing.B) {
	const revoked, active = 10_000, 50
	for _, tc := range []struct {
		name string
		max  int
	}{{"capped", 1 << 30}, {"uncapped", keystore.NoKeyLimit}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, filepath.Join(b.TempDir(), "create.sqlite"), keystore.Options{MaxActiveKeys: tc.max})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if _, err := s.CreateApp(ctx, storetest.DemoApp("aa_42", "acme"), storetest.Alice); err != nil {
				b.Fatal(err)
			}
			tx, err := s.w.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			for i := range revoked + active {
				if _, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, app_slug, deployment_id, tenant, name,
					key_prefix, key_suffix, hash, is_active, created_at, updated_at) VALUES (?, 'aa_42', '42', 'acme', ?,
					'acme', 'suffix00', ?, ?, ?, ?)`, fmt.Sprint("key_", i), fmt.Sprint("k", i),
					keystore.HashSecret(fmt.Sprint("secret-", i)), i >= revoked, i, i); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, _, err := s.CreateKey(ctx, keystore.NewKey{AppSlug: "aa_42", Name: fmt.Sprint("b", i)}, storetest.Alice); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
