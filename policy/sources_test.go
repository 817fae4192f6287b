package policy

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/internal/demo"
	"github.com/keyportal/keyportal/internal/testenv"
)

// appTenants is a host app's tenant table.
type appTenants map[string]TenantStatus

func (a appTenants) TenantStatus(_ context.Context, tenant string) (TenantStatus, error) {
	if tenant == "broken" {
		return "", errors.New("tenants table unavailable")
	}
	if st, ok := a[tenant]; ok {
		return st, nil
	}
	return TenantUnknown, nil
}

// appMembers is a host app's membership table: subject → tenant → roles.
type appMembers map[string]map[string][]string

func (a appMembers) Roles(_ context.Context, subject, tenant string) ([]string, error) {
	if subject == "broken" {
		return nil, errors.New("members table unavailable")
	}
	return a[subject][tenant], nil
}

// decideCase is a request and what the engine must answer: the reason and
// the roles, or an error containing err.
type decideCase struct {
	name   string
	req    Request
	reason Reason
	roles  []string
	err    string
}

// decideCases decides each case with e; errPrefix is how a failing source's
// error must start.
func decideCases(t *testing.T, e *Engine, errPrefix string, tests []decideCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := e.Decide(context.Background(), tt.req)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), errPrefix) || d.Allowed {
					t.Fatalf("got %+v, error = %v, want %q", d, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Reason != tt.reason || d.Allowed != (tt.reason == ReasonAllowed) {
				t.Fatalf("got %v/%s, want %s", d.Allowed, d.Reason, tt.reason)
			}
			if !reflect.DeepEqual(d.Roles, tt.roles) {
				t.Errorf("Roles = %q, want %q", d.Roles, tt.roles)
			}
		})
	}
}

func TestAppSuppliedTenantsAndRoles(t *testing.T) {
	// The policy has permissions, ownership and one role inheritance row,
	// but no memberships and no tenant status: the app supplies those.
	policy := `
p, admin, *, deployment:*, api_keys:manage
p, support, *, deployment:*, audit:read
g, lead, admin, acme
g2, deployment:42, acme
g2, deployment:77, globex
g3, acme, suspended
`
	e := mustNew(t, Config{
		PolicyText: policy,
		Tenants:    appTenants{"acme": TenantActive, "globex": TenantSuspended, "umbrella": TenantDeleted},
		Roles: appMembers{
			"zoe":   {"acme": {"admin"}},
			"yann":  {"acme": {"support"}, "globex": {"admin"}},
			"xena":  {"acme": {"lead"}},
			"will":  {"acme": {"guest"}},
			"admin": {"acme": {"support"}},
		},
	})
	decideCases(t, e, "policy: ", []decideCase{
		// acme is suspended by its g3 row, active by the app's word.
		{"app membership allows without any g row, app status overrides the g3 row", Request{"zoe", "acme", "deployment:42", manage}, ReasonAllowed, []string{"admin"}, ""},
		{"role in another tenant does not count", Request{"yann", "acme", "deployment:42", manage}, ReasonDeniedByRule, []string{"support"}, ""},
		{"support reads audit", Request{"yann", "acme", "deployment:42", auditRead}, ReasonAllowed, []string{"support"}, ""},
		{"app says globex is suspended", Request{"yann", "globex", "deployment:77", manage}, ReasonTenantSuspended, nil, ""},
		{"app says umbrella is deleted", Request{"zoe", "umbrella", "deployment:42", manage}, ReasonTenantDeleted, nil, ""},
		{"app does not know the tenant", Request{"zoe", "hooli", "deployment:42", manage}, ReasonUnknownTenant, nil, ""},
		{"no membership", Request{"mallory", "acme", "deployment:42", manage}, ReasonNoRole, nil, ""},
		{"inherited role from the policy", Request{"xena", "acme", "deployment:42", manage}, ReasonAllowed, []string{"lead", "admin"}, ""},
		{"role without permissions", Request{"will", "acme", "deployment:42", manage}, ReasonDeniedByRule, []string{"guest"}, ""},
		{"ownership still from the policy", Request{"zoe", "acme", "deployment:77", manage}, ReasonNotOwner, []string{"admin"}, ""},
		{"subject spelled like a role gets only its app roles", Request{"admin", "acme", "deployment:42", manage}, ReasonDeniedByRule, []string{"support"}, ""},
		{"tenant source fails", Request{"zoe", "broken", "deployment:42", manage}, "", nil, "tenants table unavailable"},
		{"role source fails", Request{"broken", "acme", "deployment:42", manage}, "", nil, "members table unavailable"},
	})
	// The engine answers as a TenantStatuser and RoleSource too.
	if st, _ := e.TenantStatus(context.Background(), "globex"); st != TenantSuspended {
		t.Errorf("TenantStatus(globex) = %q", st)
	}
	if roles, _ := e.Roles(context.Background(), "xena", "acme"); !reflect.DeepEqual(roles, []string{"lead", "admin"}) {
		t.Errorf("Roles(xena) = %q", roles)
	}
}

func TestInvalidStatusFromApp(t *testing.T) {
	e := mustNew(t, Config{PolicyText: demo.Policy, Tenants: appTenants{"acme": "paused"}})
	if _, err := e.Decide(context.Background(), Request{"alice", "acme", "deployment:42", manage}); err == nil {
		t.Fatal("an invalid status from the app must be an error, not a decision")
	}
}

func TestAppSuppliedOwnership(t *testing.T) {
	// No g2 row at all: the app's table says who owns what (and cannot
	// be read for deployment:500).
	policy := `
p, admin, *, deployment:*, api_keys:manage
g, zoe, admin, acme
g, yann, admin, globex
`
	e := mustNew(t, Config{PolicyText: policy, Owners: testenv.Owners{
		"deployment:42": "acme",
		"deployment:77": "globex",
		"acme":          "acme", // an object spelled like its tenant
	}})
	decideCases(t, e, "policy: ownership: ", []decideCase{
		{"owned by the tenant: allowed without a g2 row", Request{"zoe", "acme", "deployment:42", manage}, ReasonAllowed, []string{"admin"}, ""},
		{"attack: a deployment of another tenant", Request{"zoe", "acme", "deployment:77", manage}, ReasonNotOwner, []string{"admin"}, ""},
		{"attack: the owner's admin asks in his own tenant only", Request{"yann", "globex", "deployment:42", manage}, ReasonNotOwner, []string{"admin"}, ""},
		{"a deployment nobody owns", Request{"zoe", "acme", "deployment:9", manage}, ReasonNotOwner, []string{"admin"}, ""},
		{"attack: an object named like the tenant", Request{"zoe", "acme", "acme", manage}, ReasonNotOwner, []string{"admin"}, ""},
		{"no role comes before ownership", Request{"mallory", "acme", "deployment:42", manage}, ReasonNoRole, nil, ""},
		{"the owner source fails: no decision", Request{"zoe", "acme", "deployment:500", manage}, "", nil, "deployments table unavailable"},
	})
	x, err := e.Explain(context.Background(), Request{"zoe", "acme", "deployment:77", manage})
	if err != nil {
		t.Fatal(err)
	}
	if last := x.Steps[len(x.Steps)-1]; last.Check != "ownership" || !strings.Contains(last.Detail, `belongs to globex, not "acme"`) {
		t.Errorf("explain's last step = %+v", last)
	}
}

func TestOwnersRefuseG2Rows(t *testing.T) {
	_, err := New(Config{PolicyText: "p, admin, *, deployment:*, api_keys:manage\ng2, deployment:42, acme\n", Owners: testenv.Owners{}})
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 2 || !strings.Contains(fe.Msg, "Config.Owners") {
		t.Fatalf("err = %v, want a *FileError at line 2 naming Config.Owners", err)
	}
}
