package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/internal/demo"
)

func writeFile(t testing.TB, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// replaceLine returns text with its 1-based line n replaced.
func replaceLine(t testing.TB, text string, n int, with string) string {
	t.Helper()
	lines := strings.Split(text, "\n")
	if n < 1 || n > len(lines) {
		t.Fatalf("no line %d", n)
	}
	lines[n-1] = with
	return strings.Join(lines, "\n")
}

// lineOf returns the 1-based line of text that starts with prefix.
func lineOf(t testing.TB, text, prefix string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	t.Fatalf("no line starts with %q", prefix)
	return 0
}

func TestPolicyFileErrors(t *testing.T) {
	base := "# demo\np, admin, *, deployment:*, api_keys:manage\ng, bob, admin, acme\ng2, deployment:42, acme\ng3, acme, active\n"
	tests := []struct {
		name string
		line int
		with string
		msg  string
	}{
		{"unknown ptype", 3, "g4, bob, admin", `unknown policy type "g4" (the model defines p, g, g2, g3)`},
		{"unknown ptype typo", 2, "P, admin, *, deployment:*, api_keys:manage", `unknown policy type "P"`},
		{"too few fields for p", 2, "p, admin, deployment:*, api_keys:manage", "p row has 3 fields, the model's p = sub, dom, obj, act wants 4"},
		{"too many fields for g", 3, "g, bob, admin, acme, extra", "g row has 4 fields, the model's g = _, _, _ wants 3"},
		{"g2 without tenant", 4, "g2, deployment:42", "g2 row has 1 fields, the model's g2 = _, _ wants 2"},
		{"empty field", 3, "g, bob, , acme", "g row: field 2 is empty"},
		{"bad status", 5, "g3, acme, paused", `tenant "acme": status "paused" is not active, suspended or deleted`},
		{"second status", 1, "g3, acme, suspended", `tenant "acme" already has a status at line 1`},
		{"broken quoting", 4, `g2, "deployment:42, acme`, "not a CSV row"},
		{"empty ptype", 4, ", deployment:42, acme", `unknown policy type ""`},
		// Casbin reads only whole lines as comments: a trailing one would
		// become part of the last field, and the row would grant nothing.
		{"trailing comment", 3, "g, bob, admin, acme   # bob runs acme", `comment after the row ("# bob runs acme")`},
		{"trailing comment after a tab", 2, "p, admin, *, deployment:*, api_keys:manage\t# every tenant", `comment after the row ("# every tenant")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			text := replaceLine(t, base, tt.line, tt.with)
			path := writeFile(t, dir, "policy.csv", text)
			_, err := New(Config{PolicyPath: path})
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error = %v, want a *FileError", err)
			}
			wantLine := tt.line
			if tt.name == "second status" {
				wantLine = 5 // the later of the two rows is the mistake
			}
			if fe.Path != path || fe.Line != wantLine || !strings.HasPrefix(fe.Msg, tt.msg) {
				t.Fatalf("got %s:%d: %s\nwant %s:%d: %s", fe.Path, fe.Line, fe.Msg, path, wantLine, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "policy: "+path+":") {
				t.Errorf("error text %q lacks the policy: prefix and path", err)
			}
		})
	}
}

func TestModelFileErrors(t *testing.T) {
	m := DefaultModel
	mLine := lineOf(t, m, "m = ")
	rLine := lineOf(t, m, "r = ")
	g2Line := lineOf(t, m, "g2 = ")
	tests := []struct {
		name string
		text string
		line int
		msg  string
	}{
		{"unknown section", replaceLine(t, m, lineOf(t, m, "[matchers]"), "[matcher]"), lineOf(t, m, "[matchers]"), "unknown section [matcher]"},
		{"missing section", strings.Replace(m, "[policy_effect]\ne = some(where (p.eft == allow))\n", "", 1), strings.Count(m, "\n") - 2, "missing section [policy_effect]"},
		{"matcher does not compile", replaceLine(t, m, mLine, "m = r.act == p.act && (keyMatch(r.obj, p.obj)"), mLine, "matcher: "},
		{"matcher calls an unknown function", replaceLine(t, m, mLine, "m = r.act == p.act && keyMatcher(r.obj, p.obj)"), mLine, "matcher: "},
		{"matcher calls with wrong arguments", replaceLine(t, m, mLine, "m = r.act == p.act && keyMatch(r.obj) && g(r.sub, p.sub, r.dom)"), mLine, "matcher: "},
		{"matcher uses undeclared name", replaceLine(t, m, mLine, "m = r.action == p.act && g(r.sub, p.sub, r.dom)"), mLine, "matcher uses r.action, which the model does not declare"},
		{"request with three fields", replaceLine(t, m, rLine, "r = sub, obj, act"), rLine, "r must have 4 fields"},
		{"ownership without tenant", replaceLine(t, m, g2Line, "g2 = _"), g2Line, "g2 must have 2 fields"},
		{"missing g2", replaceLine(t, replaceLine(t, m, g2Line, ""), lineOf(t, m, "g3 = "), ""), lineOf(t, m, "[role_definition]"), "[role_definition] lacks g2"},
		{"g3 without g2", replaceLine(t, m, g2Line, ""), lineOf(t, m, "g3 = "), "g3 without g2"},
		{"not key = value", replaceLine(t, m, g2Line, "g2 _, _"), g2Line, `expected key = value`},
		{"unknown key", replaceLine(t, m, g2Line, "h2 = _, _"), g2Line, `unknown key "h2" in [role_definition]`},
		{"key casbin skips", replaceLine(t, m, g2Line, "g1 = _, _"), g2Line, `unknown key "g1" in [role_definition]`},
		{"gap in keys", replaceLine(t, m, lineOf(t, m, "g3 = "), "g4 = _, _"), lineOf(t, m, "g3 = "), "g4 without g3"},
		{"key twice", replaceLine(t, m, g2Line, "g = _, _, _"), g2Line, "g defined twice"},
		{"key before any section", "r = sub, dom, obj, act\n" + m, 1, `"r" comes before any [section]`},
		{"unclosed header", replaceLine(t, m, lineOf(t, m, "[matchers]"), "[matchers"), lineOf(t, m, "[matchers]"), "section header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "model.conf", tt.text)
			_, err := New(Config{ModelPath: path, PolicyText: demo.Policy})
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error = %v, want a *FileError", err)
			}
			t.Log(fe)
			if fe.Path != path || fe.Line != tt.line || !strings.HasPrefix(fe.Msg, tt.msg) {
				t.Fatalf("got %s:%d: %s\nwant line %d: %s", fe.Path, fe.Line, fe.Msg, tt.line, tt.msg)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.csv")
	_, err := New(Config{PolicyPath: path})
	var fe *FileError
	if !errors.As(err, &fe) || fe.Path != path || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("error = %v", err)
	}
}

func TestInlineTextErrorsNameTheirSource(t *testing.T) {
	_, err := New(Config{PolicyText: "p, admin\n"})
	if err == nil || !strings.HasPrefix(err.Error(), "policy: (inline policy):1: ") {
		t.Fatalf("error = %v", err)
	}
}

func TestDefaultModelAndDemoPolicyLoad(t *testing.T) {
	dir := t.TempDir()
	e := mustNew(t, Config{
		ModelPath:  writeFile(t, dir, "model.conf", DefaultModel),
		PolicyPath: writeFile(t, dir, "policy.csv", demo.Policy),
	})
	if e.LastError() != nil {
		t.Fatal(e.LastError())
	}
}

func TestFileErrorText(t *testing.T) {
	if got := (&FileError{Path: "p.csv", Line: 3, Msg: "bad"}).Error(); got != "p.csv:3: bad" {
		t.Errorf("got %q", got)
	}
	if got := (&FileError{Path: "p.csv", Msg: "open: gone"}).Error(); got != "p.csv: open: gone" {
		t.Errorf("got %q", got)
	}
}

// TestResourceOwnedByTwoTenantsIsRefused: a second owner would open the
// resource to another tenant's roles, so the policy never loads.
func TestResourceOwnedByTwoTenantsIsRefused(t *testing.T) {
	text := "p, admin, *, deployment:*, api_keys:manage\n" +
		"g, frank, admin, globex\n" +
		"g2, deployment:42, acme\n" +
		"g2, deployment:42, acme\n" + // the same owner twice is harmless
		"g2, deployment:42, globex\n"
	_, err := New(Config{PolicyText: text})
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 5 || !strings.Contains(fe.Msg, `already owned by tenant "acme" at line 3`) {
		t.Fatalf("err = %v, want a FileError at line 5 naming acme's row at line 3", err)
	}
}
