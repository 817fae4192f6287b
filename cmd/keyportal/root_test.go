package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyportal/keyportal/middleware/audit"
)

func TestEveryCommandHasHelpWithAnExample(t *testing.T) {
	c := newCLI(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		if cmd.Hidden || cmd.Name() == "help" {
			return
		}
		t.Run(cmd.CommandPath(), func(t *testing.T) {
			if cmd.Short == "" {
				t.Error("no Short description")
			}
			if cmd.Example == "" && cmd.Parent() != nil && cmd.Parent().Name() != "completion" {
				t.Error("no Example in --help")
			}
		})
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(c.root())
}

func TestRootHelpDocumentsExitCodes(t *testing.T) {
	h := newHarness(t)
	r := h.run("--help")
	expect(t, r, exitOK)
	h.golden("help", r)
	for _, want := range []string{"Exit codes:", "0  success", "1  the command ran and found something", "2  usage or I/O error", "NO_COLOR"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("root help lacks %q", want)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", []string{"policy", "matrix", "--colour"}, "unknown flag: --colour"},
		{"extra argument", []string{"audit", "acme"}, "takes 0 argument(s)"},
		{"bad colour", []string{"policy", "matrix", "--color", "purple"}, "--color must be auto, always or never"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newHarness(t).run(tt.args...)
			expect(t, r, exitUsage)
			if !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "--help") {
				t.Errorf("stderr %q lacks %q and a pointer to --help", r.stderr, tt.want)
			}
		})
	}
}

func TestShellCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		t.Run(shell, func(t *testing.T) {
			r := newHarness(t).run("completion", shell)
			expect(t, r, exitOK)
			if !strings.Contains(r.stdout, "keyportal") || len(r.stdout) < 500 {
				t.Errorf("completion script for %s looks wrong: %.200q", shell, r.stdout)
			}
		})
	}
	// Flag values complete too.
	r := newHarness(t).run("__complete", "policy", "matrix", "--format", "")
	expect(t, r, exitOK)
	for _, want := range []string{"text", "csv", "markdown"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--format completion lacks %q: %q", want, r.stdout)
		}
	}
}

func TestColourOnlyWhenAskedOrOnATerminal(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		color bool
	}{
		{"not a terminal", nil, nil, false},
		{"always", []string{"--color", "always"}, nil, true},
		{"never", []string{"--color", "never"}, nil, false},
		{"NO_COLOR on auto", nil, map[string]string{"NO_COLOR": "1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			for k, v := range tt.env {
				h.env[k] = v
			}
			r := h.run(append([]string{"policy", "matrix", "--policy", "testdata/clean.csv"}, tt.args...)...)
			expect(t, r, exitOK)
			if got := strings.Contains(r.stdout, "\x1b["); got != tt.color {
				t.Errorf("colour escapes present = %v, want %v", got, tt.color)
			}
		})
	}
	// The terminal check itself: a pipe is not a terminal.
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
}

// TestColourKeepsColumnsAligned checks that painted tables line up like plain
// ones once the escapes are removed.
func TestColourKeepsColumnsAligned(t *testing.T) {
	h := newHarness(t)
	plain := h.run("policy", "matrix", "--policy", "testdata/clean.csv", "--color", "never").stdout
	painted := h.run("policy", "matrix", "--policy", "testdata/clean.csv", "--color", "always").stdout
	stripped := ansi.ReplaceAllString(painted, "")
	if stripped != plain {
		t.Errorf("painted table differs from the plain one once escapes are removed:\n%s", diff(plain, stripped))
	}
}

func TestAuditFollowPrintsNewEventsUntilInterrupted(t *testing.T) {
	h := newHarness(t)
	expect(t, h.run("apps", "create", "--db", "$DB", "--deployment", "42", "--tenant", "acme", "--name", "Acme", "--key-prefix", "acme"), exitOK)
	store := h.openStore()
	defer store.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	c := newCLI(strings.NewReader(""), &out, &bytes.Buffer{}, func(string) string { return "" })
	c.now = h.clock.Now
	c.pollInterval = 5 * time.Millisecond
	done := make(chan int, 1)
	go func() { done <- c.run(ctx, []string{"audit", "--db", h.db, "--follow", "--json", "--action", "key."}) }()

	// Two events at the same instant, then one later: each printed once.
	h.clock.Advance(time.Minute)
	for _, id := range []string{"key_a", "key_b"} {
		if err := store.Record(ctx, audit.Event{Time: h.clock.Now(), Action: audit.ActionKeyRevoked, Outcome: audit.OutcomeSuccess, Actor: "cli", Tenant: "acme", AppSlug: "aa_42", KeyID: id}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, &out, 2)
	h.clock.Advance(time.Second)
	if err := store.Record(ctx, audit.Event{Time: h.clock.Now(), Action: audit.ActionKeyCreated, Outcome: audit.OutcomeSuccess, Actor: "bob", Tenant: "acme", AppSlug: "aa_42", KeyID: "key_c"}); err != nil {
		t.Fatal(err)
	}
	if err := store.Record(ctx, audit.Event{Time: h.clock.Now(), Action: audit.ActionTicketIssue, Outcome: audit.OutcomeIssued, Actor: "bob", Tenant: "acme"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &out, 3)
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d after interrupt, want 0", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("audit --follow did not stop when interrupted")
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var keys []string
	for _, l := range lines {
		for _, id := range []string{"key_a", "key_b", "key_c"} {
			if strings.Contains(l, `"key_id":"`+id+`"`) {
				keys = append(keys, id)
			}
		}
		if strings.Contains(l, "ticket.issue") {
			t.Errorf("--action key. printed %s", l)
		}
	}
	if strings.Join(keys, ",") != "key_a,key_b,key_c" && strings.Join(keys, ",") != "key_b,key_a,key_c" {
		t.Errorf("followed keys %v, want key_a and key_b once each, then key_c", keys)
	}
}

// waitFor polls until out holds n lines, failing after a deadline.
func waitFor(t *testing.T, out *syncBuffer, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Count(out.String(), "\n") >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("waited for %d lines, have:\n%s", n, out.String())
}

// TestEveryHelpGolden keeps every command's --help in one golden file, so a
// change to any usage text shows in review.
func TestEveryHelpGolden(t *testing.T) {
	h := newHarness(t)
	var paths [][]string
	var walk func(cmd *cobra.Command, path []string)
	walk = func(cmd *cobra.Command, path []string) {
		if cmd.Hidden || cmd.Name() == "help" || (cmd.Parent() != nil && cmd.Parent().Name() == "completion") {
			return
		}
		paths = append(paths, path)
		for _, sub := range cmd.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	c := newCLI(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
	walk(c.root(), nil)
	var runs []result
	for _, p := range paths {
		r := h.run(append(p, "--help")...)
		expect(t, r, exitOK)
		runs = append(runs, r)
	}
	h.golden("help_commands", runs...)
}
