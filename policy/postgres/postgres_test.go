package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/policy"
	pgpolicy "github.com/keyportal/keyportal/policy/postgres"
)

// freshSchema returns a pool and a random schema name, dropped at cleanup.
func freshSchema(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "kp_pgpolicy_" + hex.EncodeToString(b[:])
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		pool.Close()
	})
	return pool, schema
}

// openInstance opens an Engine on its own pool, as another process would.
func openInstance(t *testing.T, schema string) *pgpolicy.Engine {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := pgpolicy.Open(ctx, pgpolicy.Config{Pool: pool, Schema: schema, RetryInterval: 50 * time.Millisecond})
	if err != nil {
		pool.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(); pool.Close() })
	return e
}

func status(t *testing.T, e *pgpolicy.Engine, tenant string) policy.TenantStatus {
	t.Helper()
	st, err := e.TenantStatus(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// eventually polls cond for up to 1 s: the propagation target.
func eventually(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > time.Second {
			t.Fatalf("%s: not within 1s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func TestEditOnOneInstanceEnforcedOnOthers(t *testing.T) {
	_, schema := freshSchema(t)
	a := openInstance(t, schema)
	b := openInstance(t, schema)
	ctx := context.Background()
	if _, err := a.Add(ctx, "p", "owner", "acme", "deployment:42", "api_keys:manage"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Add(ctx, "g2", "deployment:42", "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Add(ctx, "g", "alice", "owner", "acme"); err != nil {
		t.Fatal(err)
	}
	req := policy.Request{Subject: "alice", Tenant: "acme", Object: "deployment:42", Action: "api_keys:manage"}
	eventually(t, "grant on A allowed on B", func() bool { d, _ := b.Decide(ctx, req); return d.Allowed })
	id, err := a.Add(ctx, "g3", "acme", "suspended")
	if err != nil {
		t.Fatal(err)
	}
	took := eventually(t, "suspension on A seen on B", func() bool { return status(t, b, "acme") == policy.TenantSuspended })
	t.Logf("suspension on A enforced on B after %v", took)
	if d, _ := b.Decide(ctx, req); d.Allowed {
		t.Fatal("suspended tenant still allowed on B")
	}
	if err := b.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reinstatement on B seen on A", func() bool { return status(t, a, "acme") == policy.TenantActive })
}

func TestDirectInsertAndNotify(t *testing.T) {
	pool, schema := freshSchema(t)
	e := openInstance(t, schema)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, pgpolicy.Table}.Sanitize()+` (ptype, v0, v1) VALUES ('g3', 'globex', 'deleted')`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `SELECT pg_notify($1, '')`, e.Channel()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "direct insert", func() bool { return status(t, e, "globex") == policy.TenantDeleted })
}

func TestBadRowKeepsLastGoodPolicyAndNamesTheRow(t *testing.T) {
	pool, schema := freshSchema(t)
	a := openInstance(t, schema)
	b := openInstance(t, schema)
	ctx := context.Background()
	if _, err := a.Add(ctx, "g3", "acme", "suspended"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "good row", func() bool { return status(t, b, "acme") == policy.TenantSuspended })
	table := pgx.Identifier{schema, pgpolicy.Table}.Sanitize()
	for _, tc := range []struct {
		name, insert, want string
	}{
		{"unknown status", `INSERT INTO ` + table + ` (ptype, v0, v1) VALUES ('g3', 'globex', 'paused') RETURNING id`, "paused"},
		{"unknown ptype", `INSERT INTO ` + table + ` (ptype, v0) VALUES ('zz', 'x') RETURNING id`, "zz"},
		{"comment ptype", `INSERT INTO ` + table + ` (ptype, v0) VALUES ('#g3', 'x') RETURNING id`, "ptype"},
		{"line break", `INSERT INTO ` + table + ` (ptype, v0, v1) VALUES ('g3', E'acme\nx', 'active') RETURNING id`, "line break"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var id int64
			if err := pool.QueryRow(ctx, tc.insert).Scan(&id); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = a.Remove(ctx, id) })
			_, _ = pool.Exec(ctx, `SELECT pg_notify($1, '')`, b.Channel())
			var re *pgpolicy.RowError
			eventually(t, "error reported", func() bool { return errors.As(b.LastError(), &re) && re.ID == id })
			if err := b.LastError(); !errors.As(err, &re) || re.ID != id || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), schema+".casbin_rule id ") {
				t.Fatalf("LastError = %v, want a RowError naming row %d and %q", err, id, tc.want)
			}
			// The last good policy is still enforced.
			if status(t, b, "acme") != policy.TenantSuspended {
				t.Fatal("bad edit dropped the last good policy")
			}
			// Direct Reload says the same.
			if err := b.Reload(ctx); !errors.As(err, &re) || re.ID != id {
				t.Fatalf("Reload = %v", err)
			}
		})
	}
	// With the bad rows gone the next reload is clean.
	if err := b.Reload(ctx); err != nil || b.LastError() != nil {
		t.Fatalf("after cleanup: %v / %v", err, b.LastError())
	}
}

func TestOpenRefusesBadPolicy(t *testing.T) {
	pool, schema := freshSchema(t)
	e := openInstance(t, schema)
	ctx := context.Background()
	var id int64
	if err := pool.QueryRow(ctx, `INSERT INTO `+pgx.Identifier{schema, pgpolicy.Table}.Sanitize()+` (ptype, v0) VALUES ('g3', 'acme') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	_ = e
	_, err := pgpolicy.Open(ctx, pgpolicy.Config{Pool: pool, Schema: schema})
	var re *pgpolicy.RowError
	if !errors.As(err, &re) || re.ID != id {
		t.Fatalf("Open = %v, want a RowError for row %d", err, id)
	}
}

func TestAddRefusesUnwritableRows(t *testing.T) {
	_, schema := freshSchema(t)
	e := openInstance(t, schema)
	for name, vals := range map[string][]string{
		"line break": {"g3", "ac\nme", "active"},
		"comment":    {"g", "alice", "admin", "acme # a comment in a policy file"},
		"ptype case": {"G3", "acme", "active"},
		"too many":   {"p", "1", "2", "3", "4", "5", "6", "7"},
	} {
		if _, err := e.Add(context.Background(), vals[0], vals[1:]...); err == nil {
			t.Errorf("%s: Add accepted %q", name, vals)
		}
	}
}

func TestOpenConfigErrors(t *testing.T) {
	if _, err := pgpolicy.Open(context.Background(), pgpolicy.Config{}); err == nil || !strings.HasPrefix(err.Error(), "policy/postgres: ") {
		t.Fatalf("Open without a pool: %v", err)
	}
}

// TestListenerReconnects: when the LISTEN connection is cut, the engine
// listens again and reloads, so edits made meanwhile are not lost.
func TestListenerReconnects(t *testing.T) {
	pool, schema := freshSchema(t)
	a := openInstance(t, schema)
	b := openInstance(t, schema)
	ctx := context.Background()
	// Cut every listening connection of this schema (both instances').
	tag, err := pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query = $1 AND pid <> pg_backend_pid()`, "LISTEN "+pgx.Identifier{a.Channel()}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	if tag.RowsAffected() != 2 {
		t.Fatalf("terminated %d listening connections, want 2", tag.RowsAffected())
	}
	if _, err := a.Add(ctx, "g3", "acme", "suspended"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "edit after the cut seen on B", func() bool { return status(t, b, "acme") == policy.TenantSuspended })
}

// TestFailedReadAfterNotifyIsRetried: when the read a notification triggers
// fails (the database refuses it for a moment), the change it announced is
// still loaded once the database answers again, without waiting for another
// edit: a tenant suspended then must not stay allowed.
func TestFailedReadAfterNotifyIsRetried(t *testing.T) {
	pool, schema := freshSchema(t)
	e := openInstance(t, schema)
	ctx := context.Background()
	table := pgx.Identifier{schema, pgpolicy.Table}.Sanitize()
	// The suspension is written, and the table is away when the
	// notification's read comes.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, q := range []string{
			`INSERT INTO ` + table + ` (ptype, v0, v1) VALUES ('g3', 'acme', 'suspended')`,
			`ALTER TABLE ` + table + ` RENAME TO casbin_rule_away`,
			`SELECT pg_notify('` + e.Channel() + `', '')`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "failed read reported", func() bool { return e.LastError() != nil })
	if _, err := pool.Exec(ctx, `ALTER TABLE `+pgx.Identifier{schema, "casbin_rule_away"}.Sanitize()+` RENAME TO `+pgpolicy.Table); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the suspension loaded once the table is back", func() bool {
		return status(t, e, "acme") == policy.TenantSuspended && e.LastError() == nil
	})
}
