package policy

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// Rules of the decision core that the wider tests reach only in passing,
// each checked on its own.

// coreRules is a small policy: two roles with a permission each, alice
// holding both in acme (two g rows for one subject and tenant), and
// deployment 42 owned by acme.
const coreRules = `
p, admin, *, deployment:*, api_keys:manage
p, support, *, deployment:*, audit:read
g, alice, support, acme
g, alice, admin, acme
g2, deployment:42, acme
`

func TestSubjectWithTwoRolesInOneTenant(t *testing.T) {
	e := mustNew(t, Config{PolicyText: coreRules})
	for _, act := range []string{"api_keys:manage", "audit:read"} {
		d, err := e.Decide(context.Background(), Request{"alice", "acme", "deployment:42", act})
		if err != nil || !d.Allowed {
			t.Errorf("%s: %+v, %v; want allowed by one of her two roles", act, d, err)
		}
	}
	if roles, _ := e.Roles(context.Background(), "alice", "acme"); !reflect.DeepEqual(roles, []string{"support", "admin"}) {
		t.Errorf("Roles = %q, want [support admin]", roles)
	}
}

func TestRoleGraphAddLinkKeepsEachLinkOnce(t *testing.T) {
	g := newRoleGraph()
	for _, r := range []string{"support", "admin", "support"} {
		if err := g.AddLink("alice", r, "acme"); err != nil {
			t.Fatal(err)
		}
	}
	if roles, _ := g.GetImplicitRoles("alice", "acme"); !reflect.DeepEqual(roles, []string{"support", "admin"}) {
		t.Fatalf("roles = %q, want [support admin]", roles)
	}
}

// TestRoleChainDepth: as in casbin's default role manager, a role chain is
// followed for maxRoleDepth links and no further.
func TestRoleChainDepth(t *testing.T) {
	g := newRoleGraph()
	name := func(i int) string { return "r" + string(rune('a'+i)) }
	for i := range maxRoleDepth + 1 {
		if err := g.AddLink(name(i), name(i+1), "d"); err != nil {
			t.Fatal(err)
		}
	}
	g.freeze()
	var want []string
	for i := 1; i <= maxRoleDepth; i++ {
		want = append(want, name(i))
	}
	if roles, _ := g.GetImplicitRoles(name(0), "d"); !reflect.DeepEqual(roles, want) {
		t.Fatalf("roles = %q, want %q", roles, want)
	}
	last, _ := g.HasLink(name(0), name(maxRoleDepth), "d")
	beyond, _ := g.HasLink(name(0), name(maxRoleDepth+1), "d")
	if !last || beyond {
		t.Fatalf("HasLink at depth %d = %v, at %d = %v; want true, false", maxRoleDepth, last, maxRoleDepth+1, beyond)
	}
}

// TestEngineUsesItsRoleGraph: every role definition gets this package's
// read-only graph, not casbin's default manager.
func TestEngineUsesItsRoleGraph(t *testing.T) {
	e := mustNew(t, Config{PolicyText: coreRules})
	s := e.cur.Load()
	for _, ptype := range []string{"g", "g2", "g3"} {
		if _, ok := s.enf.GetNamedRoleManager(ptype).(*roleGraph); !ok {
			t.Errorf("%s: role manager %T, want *roleGraph", ptype, s.enf.GetNamedRoleManager(ptype))
		}
	}
}

// TestVerdictMemoIsBounded: the memo of a snapshot takes at most
// maxVerdicts answers; past that, answers are computed and not kept.
func TestVerdictMemoIsBounded(t *testing.T) {
	e := mustNew(t, Config{PolicyText: coreRules})
	s := e.cur.Load()
	ask := func(sub string) {
		if _, _, err := s.enforce(sub, "acme", "deployment:42", "api_keys:manage"); err != nil {
			t.Fatal(err)
		}
	}
	ask("alice")
	if n := s.memo.n.Load(); n != 1 {
		t.Fatalf("memo holds %d answers after one, want 1", n)
	}
	s.memo.n.Store(maxVerdicts - 1)
	ask("bob")
	ask("carol")
	if n := s.memo.n.Load(); n != maxVerdicts {
		t.Fatalf("memo count %d, want %d: the last slot taken, nothing past it", n, maxVerdicts)
	}
	if _, kept := s.memo.m.Load(verdictKey{"carol", "acme", "deployment:42", "api_keys:manage"}); kept {
		t.Fatal("an answer past the bound was kept")
	}
}

// denyModel has deny rows: a matched deny row refuses, and is the rule.
const denyModel = `[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act, eft

[role_definition]
g = _, _, _
g2 = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.act == p.act && g(r.sub, p.sub, r.dom) && (p.dom == "*" || p.dom == r.dom) && keyMatch(r.obj, p.obj) && g2(r.obj, r.dom)
`

// appRoles is a RoleSource: every subject holds roles.
type appRoles []string

func (r appRoles) Roles(context.Context, string, string) ([]string, error) { return r, nil }

func TestDeniedByRuleNamesTheDenyRow(t *testing.T) {
	dir := t.TempDir()
	e := mustNew(t, Config{
		ModelPath: writeFile(t, dir, "model.conf", denyModel),
		PolicyText: `
p, viewer, *, deployment:*, audit:read, allow
p, blocked, *, deployment:*, api_keys:manage, deny
g2, deployment:42, acme
`,
		// viewer matches no row for the action; blocked matches the deny row.
		Roles: appRoles{"viewer", "blocked"},
	})
	d := mustDecide(t, e, Request{"mallory", "acme", "deployment:42", "api_keys:manage"})
	if want := "p, blocked, *, deployment:*, api_keys:manage, deny"; d.Allowed || d.Reason != ReasonDeniedByRule || d.Rule != want {
		t.Fatalf("decision %+v, want denied_by_rule by %q", d, want)
	}
}

// TestReloadFailureLogNamesTheFiles: a failed reload logs the model and
// policy it read, by path, or by the names of the built-in model and an
// inline policy.
func TestReloadFailureLogNamesTheFiles(t *testing.T) {
	dir := t.TempDir()
	modelPath := writeFile(t, dir, "model.conf", DefaultModel)
	policyPath := writeFile(t, dir, "policy.csv", coreRules)
	tests := []struct {
		name                  string
		cfg                   Config
		broken                string // the file to break
		wantModel, wantPolicy string
	}{
		{"policy file, built-in model", Config{PolicyPath: policyPath}, policyPath, defaultModelName, policyPath},
		{"model file, inline policy", Config{ModelPath: modelPath, PolicyText: coreRules}, modelPath, modelPath, inlinePolicyName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			tt.cfg.Logger = zerolog.New(&logs)
			e, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			good := map[string]string{policyPath: coreRules, modelPath: DefaultModel}[tt.broken]
			writeFile(t, dir, filepath.Base(tt.broken), "broken, line\n[x")
			defer writeFile(t, dir, filepath.Base(tt.broken), good)
			logs.Reset()
			if err := e.Reload(); err == nil {
				t.Fatal("reload of a broken file succeeded")
			}
			out := logs.String()
			for _, want := range []string{`"model":"` + tt.wantModel + `"`, `"policy":"` + tt.wantPolicy + `"`} {
				if !strings.Contains(out, want) {
					t.Errorf("log %s lacks %s", out, want)
				}
			}
		})
	}
}

// TestProbeReachesEveryRow: the matcher is tried on each permission row at
// load, so a row that makes it fail is refused with its line, not only a
// broken first row.
func TestProbeReachesEveryRow(t *testing.T) {
	model := strings.Replace(DefaultModel, "keyMatch(r.obj, p.obj)", "regexMatch(r.obj, p.obj)", 1)
	_, err := New(Config{
		ModelPath: writeFile(t, t.TempDir(), "model.conf", model),
		PolicyText: `p, admin, *, deployment:.*, api_keys:manage
p, support, *, deployment:(, audit:read
`,
	})
	if err == nil || !strings.Contains(err.Error(), "matcher") || !strings.Contains(err.Error(), ":2)") {
		t.Fatalf("New = %v, want the matcher refused on the row at line 2", err)
	}
}
