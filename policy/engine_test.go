package policy

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/internal/demo"
)

func demoEngine(t testing.TB) *Engine {
	t.Helper()
	return demoEngineWith(t, "")
}

// mustNew is New(cfg), failing the test when the engine cannot start.
func mustNew(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// demoEngineWith is an engine of the demo policy followed by the rows extra.
func demoEngineWith(t testing.TB, extra string) *Engine {
	t.Helper()
	return mustNew(t, Config{PolicyText: demo.Policy + extra})
}

// mustDecide decides r with e, failing the test when no decision is made.
func mustDecide(t testing.TB, e Decider, r Request) Decision {
	t.Helper()
	d, err := e.Decide(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const manage, auditRead = "api_keys:manage", "audit:read"

func TestDecideDemo(t *testing.T) {
	e := demoEngine(t)
	const (
		ownerRule   = "p, owner, *, deployment:*, api_keys:manage"
		adminRule   = "p, admin, *, deployment:*, api_keys:manage"
		devRule     = "p, developer, *, deployment:*, api_keys:manage"
		supportRule = "p, support, *, deployment:*, audit:read"
	)
	tests := []struct {
		name   string
		req    Request
		reason Reason
		rule   string
		roles  []string
		status TenantStatus
	}{
		{"owner manages own deployment", Request{"alice", "acme", "deployment:42", manage}, ReasonAllowed, ownerRule, []string{"owner"}, TenantActive},
		{"admin manages own deployment", Request{"bob", "acme", "deployment:42", manage}, ReasonAllowed, adminRule, []string{"admin"}, TenantActive},
		{"admin manages second own deployment", Request{"bob", "acme", "deployment:43", manage}, ReasonAllowed, adminRule, []string{"admin"}, TenantActive},
		{"developer manages own deployment", Request{"carol", "acme", "deployment:43", manage}, ReasonAllowed, devRule, []string{"developer"}, TenantActive},
		{"viewer may not manage", Request{"dave", "acme", "deployment:42", manage}, ReasonDeniedByRule, "", []string{"viewer"}, TenantActive},
		{"support may not manage", Request{"erin", "acme", "deployment:42", manage}, ReasonDeniedByRule, "", []string{"support"}, TenantActive},
		{"support reads audit", Request{"erin", "acme", "deployment:42", auditRead}, ReasonAllowed, supportRule, []string{"support"}, TenantActive},
		{"owner may not read audit", Request{"alice", "acme", "deployment:42", auditRead}, ReasonDeniedByRule, "", []string{"owner"}, TenantActive},
		{"support reads no other tenant's audit", Request{"erin", "acme", "deployment:77", auditRead}, ReasonNotOwner, "", []string{"support"}, TenantActive},
		{"globex admin", Request{"frank", "globex", "deployment:77", manage}, ReasonAllowed, adminRule, []string{"admin"}, TenantActive},
		{"globex developer", Request{"grace", "globex", "deployment:77", manage}, ReasonAllowed, devRule, []string{"developer"}, TenantActive},
		{"deployment of another tenant", Request{"bob", "acme", "deployment:77", manage}, ReasonNotOwner, "", []string{"admin"}, TenantActive},
		{"unknown deployment", Request{"bob", "acme", "deployment:1000", manage}, ReasonNotOwner, "", []string{"admin"}, TenantActive},
		{"globex admin claims acme", Request{"frank", "acme", "deployment:42", manage}, ReasonNoRole, "", nil, TenantActive},
		{"acme owner claims globex", Request{"alice", "globex", "deployment:77", manage}, ReasonNoRole, "", nil, TenantActive},
		{"stranger", Request{"mallory", "acme", "deployment:42", manage}, ReasonNoRole, "", nil, TenantActive},
		{"subject named like a role", Request{"admin", "acme", "deployment:42", manage}, ReasonNoRole, "", nil, TenantActive},
		{"suspended tenant admin", Request{"heidi", "initech", "deployment:99", manage}, ReasonTenantSuspended, "", nil, TenantSuspended},
		{"deleted tenant admin", Request{"ivan", "umbrella", "deployment:66", manage}, ReasonTenantDeleted, "", nil, TenantDeleted},
		{"status wins over missing role", Request{"alice", "initech", "deployment:42", manage}, ReasonTenantSuspended, "", nil, TenantSuspended},
		{"tenant without rows is active", Request{"alice", "hooli", "deployment:42", manage}, ReasonNoRole, "", nil, TenantActive},
		{"unknown action", Request{"alice", "acme", "deployment:42", "api_keys:delete_everything"}, ReasonDeniedByRule, "", []string{"owner"}, TenantActive},
		{"object of another kind", Request{"alice", "acme", "acme", manage}, ReasonNotOwner, "", []string{"owner"}, TenantActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := e.Decide(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Reason != tt.reason || d.Allowed != (tt.reason == ReasonAllowed) {
				t.Fatalf("Decide(%v) = %v/%s, want %s", tt.req, d.Allowed, d.Reason, tt.reason)
			}
			if d.Rule != tt.rule {
				t.Errorf("Rule = %q, want %q", d.Rule, tt.rule)
			}
			if !reflect.DeepEqual(d.Roles, tt.roles) {
				t.Errorf("Roles = %q, want %q", d.Roles, tt.roles)
			}
			if d.TenantStatus != tt.status {
				t.Errorf("TenantStatus = %q, want %q", d.TenantStatus, tt.status)
			}
		})
	}
}

func TestDecideInvalidRequest(t *testing.T) {
	e := demoEngine(t)
	for _, r := range []Request{
		{"", "acme", "deployment:42", manage},
		{"alice", "", "deployment:42", manage},
		{"alice", "acme", "", manage},
		{"alice", "acme", "deployment:42", ""},
	} {
		if _, err := e.Decide(context.Background(), r); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("Decide(%q) error = %v, want ErrInvalidRequest", r, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Decide(ctx, Request{"alice", "acme", "deployment:42", manage}); !errors.Is(err, context.Canceled) {
		t.Errorf("Decide with a cancelled context: error = %v", err)
	}
}

func TestEmptyPolicyDeniesEverything(t *testing.T) {
	e := mustNew(t, Config{})
	d, err := e.Decide(context.Background(), Request{"alice", "acme", "deployment:42", manage})
	if err != nil || d.Allowed || d.Reason != ReasonNoRole {
		t.Fatalf("got %+v, %v", d, err)
	}
}

func TestRoleInheritance(t *testing.T) {
	// A role chain in one tenant: lead inherits developer's rows.
	e := demoEngineWith(t, "g, lead, developer, acme\ng, judy, lead, acme\n")
	d := mustDecide(t, e, Request{"judy", "acme", "deployment:42", manage})
	if !d.Allowed || !reflect.DeepEqual(d.Roles, []string{"lead", "developer"}) || !strings.Contains(d.Rule, "developer") {
		t.Fatalf("got %+v", d)
	}
}

// A tenant whose name is another tenant's object must not own that object,
// though casbin treats every name as linked to itself.
func TestTenantNamedLikeObject(t *testing.T) {
	e := demoEngineWith(t, "g, mallory, admin, deployment:42\n")
	d := mustDecide(t, e, Request{"mallory", "deployment:42", "deployment:42", manage})
	if d.Allowed || d.Reason != ReasonNotOwner {
		t.Fatalf("got %+v, want not_owner", d)
	}
}

func TestConfigMistakes(t *testing.T) {
	for name, cfg := range map[string]Config{
		"path and text":  {PolicyPath: "policy.csv", PolicyText: demo.Policy},
		"watch no file":  {PolicyText: demo.Policy, Watch: true},
		"missing model":  {ModelPath: "/nonexistent/model.conf"},
		"missing policy": {PolicyPath: "/nonexistent/policy.csv"},
	} {
		if _, err := New(cfg); err == nil || !strings.HasPrefix(err.Error(), "policy: ") {
			t.Errorf("%s: error = %v, want one prefixed policy: ", name, err)
		}
	}
}
