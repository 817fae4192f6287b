package policy

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestRevokedRoleIsDeniedRightAfterReload: the memo of enforcer answers
// belongs to one policy snapshot, so an allow never survives the edit that
// revokes it (the trap of casbin's cached enforcers).
func TestRevokedRoleIsDeniedRightAfterReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.csv")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const base = "p, admin, *, deployment:*, api_keys:manage\np, viewer, *, deployment:*, keys:read\ng2, deployment:42, acme\n"
	write(base + "g, bob, admin, acme\n")
	e := mustNew(t, Config{PolicyPath: path})
	defer e.Close()
	req := Request{Subject: "bob", Tenant: "acme", Object: "deployment:42", Action: "api_keys:manage"}
	for i := 0; i < 3; i++ { // warm the memo
		if d, err := e.Decide(context.Background(), req); err != nil || !d.Allowed {
			t.Fatalf("before the edit: %+v %v, want allowed", d, err)
		}
	}
	write(base + "g, bob, viewer, acme\n")
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	d, err := e.Decide(context.Background(), req)
	if err != nil || d.Allowed || d.Reason != ReasonDeniedByRule {
		t.Fatalf("after demoting bob: %+v %v, want denied_by_rule", d, err)
	}
}
