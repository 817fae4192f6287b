// Package pgtest gives Postgres tests a schema of their own: the test
// database is shared by every package's tests (and by other engineers'
// runs), so each test works in a fresh, randomly named schema that is dropped
// when it ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Schema returns a new schema name, prefix followed by 16 random hex digits,
// and drops that schema (if anything created it) when t ends. prefix must be
// a plain lower-case identifier such as "kp_cli_".
func Schema(t testing.TB, dsn, prefix string) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := prefix + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}
