package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
)

// openStore opens the harness's store with its clock, for seeding what the
// command cannot create (keys are made in the portal).
func (h *harness) openStore() *sqlite.SQLite {
	h.t.Helper()
	s, err := sqlite.Open(h.t.Context(), h.db, keystore.Options{Now: h.clock.Now})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// createKey makes a key as the portal would, and names its random parts.
func (h *harness) createKey(app, name, by, label string) keystore.Key {
	h.t.Helper()
	s := h.openStore()
	defer s.Close()
	k, secret, err := s.CreateKey(context.Background(), keystore.NewKey{AppSlug: app, Name: name}, keystore.Actor{Name: by})
	if err != nil {
		h.t.Fatal(err)
	}
	h.name(k.ID, "key_"+label)
	h.name(k.KeySuffix, strings.ToUpper(label))
	h.name(secret, "SECRET-"+label)
	return k
}

// nameEvents gives the audit events stable names, oldest first.
func (h *harness) nameEvents() {
	h.t.Helper()
	s := h.openStore()
	defer s.Close()
	page, err := s.QueryAudit(context.Background(), audit.Query{Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	events := page.Events
	slices.Reverse(events)
	for i, e := range events {
		h.name(e.ID, fmt.Sprintf("evt_%d", i+1))
	}
}

// transcript runs commands for one golden file: it checks each exit code,
// keeps the run and then moves the clock by tick.
type transcript struct {
	h    *harness
	tick time.Duration
	runs []result
}

func (tr *transcript) step(code int, args ...string) {
	tr.h.t.Helper()
	r := tr.h.run(args...)
	expect(tr.h.t, r, code)
	tr.runs = append(tr.runs, r)
	tr.h.clock.Advance(tr.tick)
}

func TestAppsGolden(t *testing.T) {
	h := newHarness(t)
	h.env["KEYPORTAL_ALLOWED_ORIGINS"] = "https://app.globex.test, http://127.0.0.1:8080"
	tr := &transcript{h: h, tick: time.Minute}
	step := tr.step
	step(exitUsage, "apps", "list", "--db", "$DB")
	step(exitOK, "apps", "create", "--db", "$DB", "--deployment", "42", "--tenant", "acme", "--name", "Acme Public API",
		"--key-prefix", "acme_live", "--description", "API keys for deployment 42", "--origin", "http://127.0.0.1:8080")
	step(exitOK, "apps", "create", "--db", "$DB", "--deployment", "77", "--tenant", "globex", "--name", "Globex API", "--key-prefix", "globex")
	step(exitFindings, "apps", "create", "--db", "$DB", "--deployment", "42", "--tenant", "acme", "--name", "Again", "--key-prefix", "acme_live")
	step(exitUsage, "apps", "create", "--db", "$DB", "--deployment", "43")
	step(exitFindings, "apps", "create", "--db", "$DB", "--deployment", "43", "--tenant", "acme", "--name", "Bad prefix", "--key-prefix", "acme-live")
	step(exitOK, "apps", "list", "--db", "$DB")
	step(exitOK, "apps", "list", "--db", "$DB", "--tenant", "globex", "--json")
	step(exitOK, "apps", "get", "--db", "$DB", "--deployment", "42")
	step(exitFindings, "apps", "get", "--db", "$DB", "aa_99")
	step(exitUsage, "apps", "get", "--db", "$DB")
	step(exitOK, "apps", "disable", "--db", "$DB", "aa_77")
	step(exitFindings, "apps", "disable", "--db", "$DB", "aa_77")
	step(exitOK, "apps", "list", "--db", "$DB")
	step(exitOK, "apps", "list", "--db", "$DB", "--all")
	h.golden("apps", tr.runs...)
}

func TestKeysAndAuditGolden(t *testing.T) {
	h := newHarness(t)
	tr := &transcript{h: h, tick: time.Minute}
	step := tr.step
	step(exitOK, "apps", "create", "--db", "$DB", "--deployment", "42", "--tenant", "acme", "--name", "Acme Public API", "--key-prefix", "acme_live")
	step(exitOK, "apps", "create", "--db", "$DB", "--deployment", "77", "--tenant", "globex", "--name", "Globex API", "--key-prefix", "globex")
	ci := h.createKey("aa_42", "CI deploys", "alice", "ci")
	h.clock.Advance(time.Minute)
	h.createKey("aa_42", "Staging", "bob", "staging")
	h.clock.Advance(time.Minute)
	gx := h.createKey("aa_77", "Globex prod", "frank", "globex")
	h.clock.Advance(time.Hour)

	step(exitOK, "keys", "list", "--db", "$DB", "--app", "aa_42")
	step(exitOK, "keys", "list", "--db", "$DB", "--tenant", "globex", "--json")
	step(exitUsage, "keys", "revoke", "--db", "$DB", ci.ID, "--app", "aa_42")
	step(exitUsage, "keys", "revoke", "--db", "$DB", ci.ID, "--reason", "leaked")
	step(exitOK, "keys", "revoke", "--db", "$DB", ci.ID, "--app", "aa_42", "--reason", "leaked in a public repo")
	step(exitFindings, "keys", "revoke", "--db", "$DB", ci.ID, "--app", "aa_42", "--reason", "again")
	step(exitFindings, "keys", "revoke", "--db", "$DB", gx.ID, "--tenant", "acme", "--reason", "wrong tenant")
	step(exitOK, "keys", "list", "--db", "$DB", "--tenant", "acme", "--status", "active")
	step(exitOK, "keys", "list", "--db", "$DB", "--status", "revoked")
	step(exitOK, "keys", "revoke", "--db", "$DB", "--all", "--tenant", "globex", "--reason", "tenant offboarded")
	step(exitUsage, "keys", "list", "--db", "$DB", "--status", "gone")
	h.nameEvents()
	step(exitOK, "audit", "--db", "$DB")
	step(exitOK, "audit", "--db", "$DB", "--tenant", "acme", "--action", "key.", "--json")
	step(exitOK, "audit", "--db", "$DB", "--since", "30m")
	step(exitOK, "audit", "--db", "$DB", "--since", "2026-11-26T09:01:00Z", "--until", "2026-11-26T09:04:00Z", "--limit", "2")
	step(exitUsage, "audit", "--db", "$DB", "--since", "yesterday")
	step(exitUsage, "audit", "--db", "$DB", "--since", "1h", "--until", "2h") // an empty window, not "no events match"
	h.golden("keys_audit", tr.runs...)
}

// TestStoreChoice: a store flag on the command line wins over the other
// store's environment variable, for serve as for every command, and --db
// with --postgres is refused rather than one of them ignored.
func TestStoreChoice(t *testing.T) {
	const deadDSN = "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"
	h := newHarness(t)
	h.acmeApp()

	// serve --db with KEYPORTAL_POSTGRES_DSN set: serves the SQLite file
	// (and stops, exit 0, once it listens).
	h.env["KEYPORTAL_POSTGRES_DSN"] = deadDSN
	h.env["KEYPORTAL_BACKEND_API_KEY"] = "kpb_store_choice_key_0123456789"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errOut bytes.Buffer
	c := newCLI(strings.NewReader(""), io.Discard, &errOut, func(k string) string { return h.env[k] })
	c.onListen = func(string) { cancel() }
	if code := c.run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", h.db, "--log-level", "error"}); code != exitOK {
		t.Errorf("serve --db beside KEYPORTAL_POSTGRES_DSN: exit %d, want 0 (serving the SQLite file):\n%s", code, errOut.String())
	}
	delete(h.env, "KEYPORTAL_POSTGRES_DSN")

	// serve --postgres with KEYPORTAL_DB set: tries Postgres.
	h.env["KEYPORTAL_DB"] = h.db
	r := h.run("serve", "--addr", "127.0.0.1:0", "--postgres", deadDSN)
	if r.code != exitUsage || !strings.Contains(r.stderr, "cannot open the Postgres key store") {
		t.Errorf("serve --postgres beside KEYPORTAL_DB: exit %d, stderr %q; want exit 2 from opening Postgres", r.code, r.stderr)
	}
	delete(h.env, "KEYPORTAL_DB")

	// Both flags: refused, whichever the command, before serve generates
	// and prints a backend key.
	delete(h.env, "KEYPORTAL_BACKEND_API_KEY")
	for _, args := range [][]string{
		{"apps", "list", "--db", "$DB", "--postgres", deadDSN},
		{"serve", "--addr", "127.0.0.1:0", "--db", "$DB", "--postgres", deadDSN},
	} {
		r := h.run(args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--db or --postgres, not both") {
			t.Errorf("%s: exit %d, stderr %q; want exit 2, --db or --postgres, not both", args[0], r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "generated backend API key") {
			t.Errorf("%s: a refused configuration printed a backend key:\n%s", args[0], r.stderr)
		}
	}
}
