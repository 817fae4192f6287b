package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/audit"
)

// hostileAll is every sample of testenv.HostileText in one string.
func hostileAll() string {
	var b strings.Builder
	for _, h := range testenv.HostileText {
		b.WriteString(h.Text + "|")
	}
	return b.String()
}

// rawExec writes to the harness's database directly, as a tool other than
// keyportal (or keyportal before the store's text rule) could have; like
// the store, it waits for a lock held by a command running beside it.
func (h *harness) rawExec(q string, args ...any) {
	h.t.Helper()
	db, err := sql.Open("sqlite", h.db+"?_pragma=busy_timeout(5000)")
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q, args...); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
}

// wantNoHostile fails unless out holds only characters that cannot drive
// a terminal: LF ends lines, nothing else of the kind is allowed.
func wantNoHostile(t *testing.T, what, out string) {
	t.Helper()
	for i, r := range out {
		if r != '\n' && testenv.Hostile(r) {
			t.Errorf("%s printed U+%04X raw at byte %d:\n%q", what, r, i, out)
			return
		}
	}
}

// TestPrintedTextCannotDriveTheTerminal: text stored before the store's
// rule, or written into the database by another tool, is printed by keys
// list, apps list/get, audit (also --follow), keys revoke and the error
// path with every control, bidi and invisible format character escaped,
// with --color never as with colour; --json keeps the text exactly, as JSON
// escapes.
func TestPrintedTextCannotDriveTheTerminal(t *testing.T) {
	h := newHarness(t)
	bad := hostileAll()
	expect(t, h.run("apps", "create", "--db", "$DB", "--deployment", "42", "--tenant", "acme", "--name", "Acme", "--key-prefix", "acme"), exitOK)
	listed := h.createKey("aa_42", "listed", "alice", "listed")
	revoked := h.createKey("aa_42", "to revoke", "alice", "revoked")
	h.rawExec(`UPDATE api_keys SET name = ?, created_by = ?, revoked_reason = ? WHERE id = ?`, bad, bad, bad, listed.ID)
	h.rawExec(`UPDATE api_keys SET name = ? WHERE id = ?`, bad, revoked.ID)
	list, _ := json.Marshal([]string{bad})
	h.rawExec(`UPDATE apps SET name = ?, description = ?, permissions = ?`, bad, bad, string(list))
	h.rawExec(`INSERT INTO audit_events (id, occurred_at, action, outcome, reason, actor, tenant, app_slug, key_id, detail)
		VALUES ('evt_hostile', ?, 'key.revoked', 'success', ?, ?, 'acme', 'aa_42', ?, ?)`,
		h.clock.Now().UnixNano(), bad, bad, listed.ID, bad)

	for _, color := range []string{"never", "always"} {
		for _, args := range [][]string{
			{"keys", "list", "--db", "$DB"},
			{"apps", "list", "--db", "$DB"},
			{"apps", "get", "--db", "$DB", "aa_42"},
			{"audit", "--db", "$DB"},
		} {
			r := h.run(append(args, "--color", color)...)
			expect(t, r, exitOK)
			what := strings.Join(slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "--db" || a == "$DB" || a == h.db }), " ") + " --color " + color
			if color == "always" {
				wantNoHostile(t, what, ansi.ReplaceAllString(r.stdout+r.stderr, ""))
			} else {
				wantNoHostile(t, what, r.stdout+r.stderr)
			}
			if !strings.Contains(r.stdout, `red\x1b[31malert`) || !strings.Contains(r.stdout, `cod.\u202eexe`) {
				t.Errorf("%s does not show the escaped text:\n%s", what, r.stdout)
			}
		}
	}

	// JSON escapes what it prints, and the text survives exactly.
	for _, args := range [][]string{
		{"keys", "list", "--db", "$DB", "--json"},
		{"apps", "get", "--db", "$DB", "aa_42", "--json"},
		{"audit", "--db", "$DB", "--json", "--action", "key.revoked"},
	} {
		r := h.run(args...)
		expect(t, r, exitOK)
		what := strings.Join(args, " ")
		wantNoHostile(t, what, r.stdout)
		if !strings.Contains(r.stdout, `\u202e`) {
			t.Errorf("%s: no JSON escape for U+202E in %s", what, r.stdout)
		}
		for line := range strings.Lines(r.stdout) {
			var v struct{ Name, Actor string }
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("%s: %q is not JSON: %v", what, line, err)
			}
			if v.Name != bad && v.Actor != bad && v.Name != "to revoke" {
				t.Errorf("%s: JSON changed the text: %+v", what, v)
			}
		}
	}

	// Through Wacht's API (here keyportal's own server on the same
	// database), the remote text is escaped the same way.
	const backendKey = "kpb_hostile_text_key_0123456789"
	h.serveForWacht(backendKey)
	for _, args := range [][]string{
		{"keys", "list", "--wacht", "--app", "aa_42", "--status", "all"},
		{"apps", "list", "--wacht"},
		{"apps", "get", "--wacht", "aa_42"},
	} {
		r := h.run(append(args, "--color", "never")...)
		expect(t, r, exitOK)
		wantNoHostile(t, strings.Join(args, " "), r.stdout+r.stderr)
		if !strings.Contains(r.stdout, `cod.\u202eexe`) {
			t.Errorf("%s does not show the escaped text:\n%s", strings.Join(args, " "), r.stdout)
		}
	}

	// Revoking prints the key's name; disabling works on an app whose
	// stored name predates the rule.
	r := h.run("keys", "revoke", "--db", "$DB", revoked.ID, "--app", "aa_42", "--reason", "hostile name", "--color", "never")
	expect(t, r, exitOK)
	wantNoHostile(t, "keys revoke", r.stdout+r.stderr)
	r = h.run("apps", "disable", "--db", "$DB", "aa_42")
	expect(t, r, exitOK)

	// Errors are escaped too: a reason the store refuses.
	r = h.run("keys", "revoke", "--db", "$DB", listed.ID, "--app", "aa_42", "--reason", "x\x1b[2Jy", "--color", "never")
	expect(t, r, exitFindings)
	wantNoHostile(t, "keys revoke --reason ESC", r.stdout+r.stderr)

	// --follow prints rows that arrive later through the same escaping.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	c := newCLI(strings.NewReader(""), &out, &out, func(string) string { return "" })
	c.now = h.clock.Now
	c.pollInterval = 5 * time.Millisecond
	done := make(chan int, 1)
	go func() {
		done <- c.run(ctx, []string{"audit", "--db", h.db, "--follow", "--color", "never", "--action", audit.ActionKeyCreated})
	}()
	h.clock.Advance(time.Minute)
	h.rawExec(`INSERT INTO audit_events (id, occurred_at, action, outcome, actor, detail) VALUES ('evt_later', ?, 'key.created', 'success', ?, ?)`,
		h.clock.Now().UnixNano(), bad, bad)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "cod.") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if !strings.Contains(out.String(), `cod.\u202eexe`) {
		t.Errorf("audit --follow did not print the later event escaped:\n%s", out.String())
	}
	wantNoHostile(t, "audit --follow", out.String())
}
