package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// epoch is the fake clock's start: output that shows times is deterministic.
var epoch = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// newClock returns a fake clock at epoch that the tests move by hand.
func newClock() *testenv.Clock { return testenv.NewClock(epoch) }

// result is what one in-process run of the command printed and returned.
type result struct {
	args   []string
	code   int
	stdout string
	stderr string
}

// harness runs commands in-process against one temporary key store.
type harness struct {
	t     *testing.T
	clock *testenv.Clock
	dir   string
	db    string
	env   map[string]string
	// names maps random ids and secrets to stable placeholders in goldens.
	names map[string]string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	return &harness{t: t, clock: newClock(), dir: dir, db: filepath.Join(dir, "keyportal.db"),
		env: map[string]string{}, names: map[string]string{}}
}

// run runs the command with args; "$DB" in an argument is the store's path.
// acmeApp creates app aa_42 (deployment 42, tenant acme, prefix acme_live)
// in the harness's database.
func (h *harness) acmeApp() {
	h.t.Helper()
	expect(h.t, h.run("apps", "create", "--db", "$DB", "--deployment", "42", "--tenant", "acme", "--name", "Acme", "--key-prefix", "acme_live"), exitOK)
}

func (h *harness) run(args ...string) result {
	h.t.Helper()
	return h.runContext(context.Background(), args...)
}

func (h *harness) runContext(ctx context.Context, args ...string) result {
	h.t.Helper()
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "$DB", h.db)
	}
	var out, errOut bytes.Buffer
	c := newCLI(strings.NewReader(""), &out, &errOut, func(k string) string { return h.env[k] })
	c.now = h.clock.Now
	code := c.run(ctx, args)
	return result{args: args, code: code, stdout: out.String(), stderr: errOut.String()}
}

// name registers a placeholder for a random value, padded to its length so
// that aligned tables stay aligned.
func (h *harness) name(value, placeholder string) {
	if len(placeholder) < len(value) {
		placeholder += strings.Repeat("_", len(value)-len(placeholder))
	}
	h.names[value] = placeholder
}

var tempPath = regexp.MustCompile(`/tmp/[^\s:'"]*?/\d+/`)

// normalize replaces the temporary directory and registered random values.
func (h *harness) normalize(s string) string {
	s = strings.ReplaceAll(s, h.dir+"/", "$TMP/")
	s = strings.ReplaceAll(s, h.dir, "$TMP")
	keys := make([]string, 0, len(h.names))
	for k := range h.names {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		s = strings.ReplaceAll(s, k, h.names[k])
	}
	return s
}

// golden compares the runs' transcript with testdata/<name>.golden, or
// rewrites it under -update.
func (h *harness) golden(name string, runs ...result) {
	h.t.Helper()
	var b strings.Builder
	for i, r := range runs {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "$ keyportal %s\nexit %d\n", strings.Join(quoteArgs(r.args), " "), r.code)
		if r.stdout != "" {
			fmt.Fprintf(&b, "-- stdout --\n%s", r.stdout)
		}
		if r.stderr != "" {
			fmt.Fprintf(&b, "-- stderr --\n%s", r.stderr)
		}
	}
	got := h.normalize(b.String())
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			h.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		h.t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		h.t.Errorf("output differs from %s (run go test -update to accept it):\n%s", path, diff(string(want), got))
	}
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \"'") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}

// diff shows the first lines that differ.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 12; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

// expect checks a run's exit code.
func expect(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Errorf("keyportal %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, code, r.stdout, r.stderr)
	}
}

// ansi matches colour escapes.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// syncBuffer is safe for a writer and a reader goroutine.
type syncBuffer = testenv.LogBuffer
