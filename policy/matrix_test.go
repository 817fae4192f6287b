package policy

import (
	"context"
	"testing"
)

func TestMatrixDemo(t *testing.T) {
	e := demoEngine(t)
	cells, err := e.Matrix(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 6 roles (owner, admin, developer, support, viewer, none) × 3 × 3 × 2 actions.
	if len(cells) != 6*3*3*2 {
		t.Fatalf("got %d cells, want %d", len(cells), 6*3*3*2)
	}
	find := func(role string, own Ownership, st TenantStatus, action string) MatrixCell {
		t.Helper()
		for _, c := range cells {
			if c.Role == role && c.Ownership == own && c.TenantStatus == st && c.Action == action {
				return c
			}
		}
		t.Fatalf("no cell %q/%s/%s/%s", role, own, st, action)
		return MatrixCell{}
	}
	tests := []struct {
		role   string
		own    Ownership
		st     TenantStatus
		action string
		want   Reason
	}{
		{"owner", OwnershipOwn, TenantActive, manage, ReasonAllowed},
		{"admin", OwnershipOwn, TenantActive, manage, ReasonAllowed},
		{"developer", OwnershipOwn, TenantActive, manage, ReasonAllowed},
		{"viewer", OwnershipOwn, TenantActive, manage, ReasonDeniedByRule},
		{"support", OwnershipOwn, TenantActive, manage, ReasonDeniedByRule},
		{"support", OwnershipOwn, TenantActive, auditRead, ReasonAllowed},
		{"admin", OwnershipOwn, TenantActive, auditRead, ReasonDeniedByRule},
		{"admin", OwnershipOther, TenantActive, manage, ReasonNotOwner},
		{"admin", OwnershipUnknown, TenantActive, manage, ReasonNotOwner},
		{"admin", OwnershipOwn, TenantSuspended, manage, ReasonTenantSuspended},
		{"admin", OwnershipOwn, TenantDeleted, manage, ReasonTenantDeleted},
		{"", OwnershipOwn, TenantActive, manage, ReasonNoRole},
		{"", OwnershipOwn, TenantSuspended, manage, ReasonTenantSuspended},
	}
	for _, tt := range tests {
		c := find(tt.role, tt.own, tt.st, tt.action)
		if c.Decision.Reason != tt.want || c.Decision.Allowed != (tt.want == ReasonAllowed) {
			t.Errorf("cell %q/%s/%s/%s = %s (object %s), want %s", tt.role, tt.own, tt.st, tt.action, c.Decision.Reason, c.Object, tt.want)
		}
	}
	// Only owner, admin and developer on their own active tenant's objects
	// may manage keys; only support may read audit.
	allowed := 0
	for _, c := range cells {
		if c.Decision.Allowed {
			allowed++
			if c.Ownership != OwnershipOwn || c.TenantStatus != TenantActive {
				t.Errorf("allowed cell outside own/active: %+v", c)
			}
		}
	}
	if allowed != 4 {
		t.Errorf("%d allowed cells, want 4", allowed)
	}
	// The real data is untouched: alice still decides as before.
	d, err := e.Decide(context.Background(), Request{"alice", "acme", "deployment:42", manage})
	if err != nil || !d.Allowed {
		t.Fatalf("after Matrix: %+v, %v", d, err)
	}
}

func TestMatrixFollowsPolicy(t *testing.T) {
	// Granting viewer a row changes its cell; inheritance counts too.
	e := demoEngineWith(t, "p, viewer, *, deployment:*, deployment:view\ng, lead, developer, acme\ng, judy, lead, acme\n")
	cells, err := e.Matrix(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Reason{}
	for _, c := range cells {
		if c.Ownership == OwnershipOwn && c.TenantStatus == TenantActive {
			got[c.Role+"/"+c.Action] = c.Decision.Reason
		}
	}
	for k, want := range map[string]Reason{
		"viewer/deployment:view": ReasonAllowed,
		"viewer/" + manage:       ReasonDeniedByRule,
		"lead/" + manage:         ReasonAllowed,
		"owner/deployment:view":  ReasonDeniedByRule,
		"/deployment:view":       ReasonNoRole,
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
}
