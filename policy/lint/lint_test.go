package lint

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/internal/demo"
)

// policyFile reads testdata/name (a policy or a model), or for "demo.csv"
// the demo policy.
func policyFile(t testing.TB, name string) string {
	t.Helper()
	if name == "demo.csv" {
		return demo.Policy
	}
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lintFixture lints testdata/model (default: the default model) with
// testdata/policy or the demo policy (none when empty).
func lintFixture(t *testing.T, model, policy string) []Problem {
	t.Helper()
	if model == "" {
		model = "model.conf"
	}
	policyText := ""
	if policy != "" {
		policyText = policyFile(t, policy)
	}
	return Lint(model, policyFile(t, model), policy, policyText)
}

// brief renders a problem as "file:line severity code".
func brief(p Problem) string {
	return fmt.Sprintf("%s:%d %s %s", p.Path, p.Line, p.Severity, p.Code)
}

func TestLintCatchesEachMistakeAtItsLine(t *testing.T) {
	tests := []struct {
		name          string
		model, policy string
		want          []string
	}{
		{"demo policy is clean but for viewer", "", "demo.csv", []string{
			"demo.csv:27 warning role-no-permissions",
		}},
		{"wrong field count", "", "field_count.csv", []string{
			"field_count.csv:3 error field-count",
			"field_count.csv:7 error field-count",
		}},
		{"unknown row type", "", "unknown_ptype.csv", []string{
			"unknown_ptype.csv:5 error unknown-ptype",
			"unknown_ptype.csv:6 error unknown-ptype",
		}},
		{"role used but never granted", "", "role_not_granted.csv", []string{
			"role_not_granted.csv:4 warning role-not-granted",
			"role_not_granted.csv:8 warning role-no-permissions",
		}},
		{"role granted without permissions", "", "role_no_permissions.csv", []string{
			"role_no_permissions.csv:4 warning role-no-permissions",
		}},
		{"resource owned by two tenants", "", "owner_conflict.csv", []string{
			"owner_conflict.csv:8 error owner-conflict",
		}},
		{"per-tenant permission rows", "", "per_tenant.csv", []string{
			"per_tenant.csv:2 warning per-tenant-rows",
		}},
		{"tenant status", "", "tenant_status.csv", []string{
			"tenant_status.csv:4 error tenant-status",
			"tenant_status.csv:6 error tenant-status",
		}},
		{"unparsable row", "", "syntax.csv", []string{
			"syntax.csv:3 error syntax",
		}},
		{"trailing comments", "", "comment.csv", []string{
			"comment.csv:3 error syntax",
			"comment.csv:4 error syntax",
		}},
		{"duplicate row and empty field", "", "duplicate.csv", []string{
			"duplicate.csv:4 warning duplicate-row",
			"duplicate.csv:5 error empty-field",
		}},
		{"unknown model section", "unknown_section.conf", "", []string{
			"unknown_section.conf:24 error unknown-section",
		}},
		{"misspelt section leaves matchers missing", "typo_section.conf", "", []string{
			"typo_section.conf:0 error missing-section",
			"typo_section.conf:27 error unknown-section",
		}},
		{"matcher names undefined tokens", "undefined_token.conf", "", []string{
			"undefined_token.conf:28 error undefined-token",
			"undefined_token.conf:28 error undefined-token",
		}},
		{"role function called with the wrong arity", "role_arity.conf", "", []string{
			"role_arity.conf:28 error field-count",
		}},
		{"key casbin does not read", "unread_key.conf", "", []string{
			"unread_key.conf:21 error bad-definition",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := lintFixture(t, tt.model, tt.policy)
			var got []string
			for _, p := range problems {
				got = append(got, brief(p))
				if p.Msg == "" || p.Hint == "" {
					t.Errorf("%s: problem without message or hint: %+v", brief(p), p)
				}
			}
			if !slices.Equal(got, tt.want) {
				var b strings.Builder
				for _, p := range problems {
					fmt.Fprintf(&b, "  %s\n    hint: %s\n", p, p.Hint)
				}
				t.Errorf("got  %q\nwant %q\n%s", got, tt.want, b.String())
			}
		})
	}
}

func TestSeverityDecidesTheExitCode(t *testing.T) {
	tests := []struct {
		name       string
		policy     string
		wantErrors bool
	}{
		{"warnings only", "role_no_permissions.csv", false},
		{"an error", "owner_conflict.csv", true},
		{"clean but for a warning", "demo.csv", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasErrors(lintFixture(t, "", tt.policy)); got != tt.wantErrors {
				t.Errorf("HasErrors = %v, want %v", got, tt.wantErrors)
			}
		})
	}
}

func TestBrokenModelStillChecksRows(t *testing.T) {
	// A model with no role definitions: g rows are unknown types, and the
	// role checks stay quiet rather than guess.
	model := "[request_definition]\nr = sub, obj, act\n[policy_definition]\np = sub, obj, act\n" +
		"[policy_effect]\ne = some(where (p.eft == allow))\n[matchers]\nm = r.sub == p.sub && r.obj == p.obj && r.act == p.act\n"
	got := Lint("acl.conf", model, "acl.csv", "p, alice, data1, read\ng, alice, admin\n")
	if len(got) != 1 || got[0].Line != 2 || got[0].Code != CodeUnknownPtype {
		t.Fatalf("got %v, want one unknown-ptype at acl.csv:2", got)
	}
}

// TestDefinitionsWithTooFewFieldsDoNotPanic: rows of a definition too short
// for the role checks (reported as the model's error) are not checked as
// memberships or permissions.
func TestDefinitionsWithTooFewFieldsDoNotPanic(t *testing.T) {
	for name, model := range map[string]string{
		"empty g":     "[request_definition]\nr = sub\n[policy_definition]\np = sub\n[role_definition]\ng =\n[policy_effect]\ne = some(where (p.eft == allow))\n[matchers]\nm = g(r.sub)\n",
		"one-field g": "[request_definition]\nr = sub\n[policy_definition]\np = sub\n[role_definition]\ng = _\n[policy_effect]\ne = some(where (p.eft == allow))\n[matchers]\nm = g(r.sub)\n",
		"empty p":     "[request_definition]\nr = sub\n[policy_definition]\np =\n[role_definition]\ng = _, _\n[policy_effect]\ne = some(where (p.eft == allow))\n[matchers]\nm = g(r.sub, r.sub)\n",
	} {
		t.Run(name, func(t *testing.T) {
			for _, policy := range []string{"g\np\n", "g, alice\np, admin\n"} {
				if problems := Lint("m.conf", model, "p.csv", policy); !HasErrors(problems) {
					t.Errorf("policy %q: no error: %v", policy, problems)
				}
			}
		})
	}
}

func TestProblemString(t *testing.T) {
	p := Problem{Path: "policy.csv", Line: 3, Severity: SeverityError, Code: CodeFieldCount, Msg: "p row has 3 field(s)"}
	if got, want := p.String(), "policy.csv:3: error: p row has 3 field(s) [field-count]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	p.Line = 0
	if got, want := p.String(), "policy.csv: error: p row has 3 field(s) [field-count]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func FuzzLint(f *testing.F) {
	model := policyFile(f, "model.conf")
	for _, name := range []string{"demo.csv", "field_count.csv", "syntax.csv", "per_tenant.csv"} {
		f.Add(model, policyFile(f, name))
	}
	f.Add("[matchers]\nm = g(", "g, \"")
	f.Add("[role_definition]\ng=\n[matchers]\nm=g(r.sub)", "g")
	f.Fuzz(func(t *testing.T, model, policy string) {
		for _, p := range Lint("m.conf", model, "p.csv", policy) {
			if p.Line < 0 || p.Severity != SeverityError && p.Severity != SeverityWarning {
				t.Fatalf("bad problem %+v", p)
			}
		}
	})
}
