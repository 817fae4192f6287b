package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestRoleGraph(t *testing.T) {
	g := newRoleGraph()
	for _, l := range [][3]string{
		{"alice", "owner", "acme"}, {"owner", "admin", "acme"}, {"admin", "developer", "acme"},
		{"bob", "admin", "globex"}, {"loop", "loop2", "acme"}, {"loop2", "loop", "acme"},
	} {
		if err := g.AddLink(l[0], l[1], l[2]); err != nil {
			t.Fatal(err)
		}
	}
	g.freeze()
	has := func(a, b, d string) bool {
		ok, err := g.HasLink(a, b, d)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !has("alice", "developer", "acme") || has("alice", "developer", "globex") || !has("x", "x", "any") || has("loop", "alice", "acme") {
		t.Fatal("HasLink: wrong answer")
	}
	if roles, _ := g.GetImplicitRoles("alice", "acme"); !reflect.DeepEqual(roles, []string{"owner", "admin", "developer"}) {
		t.Errorf("implicit roles = %q", roles)
	}
	if users, _ := g.GetUsers("admin", "acme"); !reflect.DeepEqual(users, []string{"owner"}) {
		t.Errorf("users = %q", users)
	}
	if users, _ := g.GetImplicitUsers("developer", "acme"); !reflect.DeepEqual(users, []string{"admin", "alice", "owner"}) {
		t.Errorf("implicit users = %q", users)
	}
	if ds, _ := g.GetAllDomains(); !reflect.DeepEqual(ds, []string{"acme", "globex"}) {
		t.Errorf("domains = %q", ds)
	}
	if err := g.AddLink("mallory", "owner", "acme"); !errors.Is(err, errFrozen) {
		t.Errorf("AddLink after freeze: %v", err)
	}
	if _, err := g.HasLink("a", "b", "d1", "d2"); err == nil {
		t.Error("two domains accepted")
	}
}

func TestTenantPatternsRefused(t *testing.T) {
	m := strings.Replace(DefaultModel, `(p.dom == "*" || p.dom == r.dom)`, `keyMatch(r.dom, p.dom)`, 1)
	path := writeFile(t, t.TempDir(), "model.conf", m)
	_, err := New(Config{ModelPath: path})
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != lineOf(t, m, "m = ") || !strings.Contains(fe.Msg, "tenant patterns") {
		t.Fatalf("error = %v", err)
	}
}
