package main

import (
	"strings"
	"testing"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/internal/testenv/pgtest"
)

// TestCommandsOnPostgres runs the store commands against Postgres, in a
// fresh schema of their own, chosen by flag and by environment.
func TestCommandsOnPostgres(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	schema := pgtest.Schema(t, dsn, "kp_cli_test_")
	h := newHarness(t)
	r := h.run("apps", "create", "--postgres", dsn, "--postgres-schema", schema, "--deployment", "42", "--tenant", "acme",
		"--name", "Acme Public API", "--key-prefix", "acme_live", "--origin", "https://app.acme.test")
	expect(t, r, exitOK)
	// The environment selects the same store.
	h.env["KEYPORTAL_POSTGRES_DSN"] = dsn
	h.env["KEYPORTAL_POSTGRES_SCHEMA"] = schema
	r = h.run("apps", "list")
	expect(t, r, exitOK)
	if !strings.Contains(r.stdout, "aa_42") || !strings.Contains(r.stdout, "https://app.acme.test") {
		t.Errorf("apps list on Postgres:\n%s", r.stdout)
	}
	r = h.run("audit", "--json")
	expect(t, r, exitOK)
	if !strings.Contains(r.stdout, `"action":"app.created"`) || !strings.Contains(r.stdout, `"actor":"cli"`) {
		t.Errorf("audit on Postgres:\n%s", r.stdout)
	}
	// --db on the command line wins over the environment's Postgres.
	r = h.run("apps", "list", "--db", "$DB")
	expect(t, r, exitUsage)
	if !strings.Contains(r.stderr, "no key store at") {
		t.Errorf("--db did not win over KEYPORTAL_POSTGRES_DSN:\n%s", r.stderr)
	}
	// A bad DSN says what to check.
	r = h.run("apps", "list", "--postgres", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	expect(t, r, exitUsage)
	if !strings.Contains(r.stderr, "KEYPORTAL_POSTGRES_DSN") {
		t.Errorf("bad DSN error gives no next step:\n%s", r.stderr)
	}
}
