package policy_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/keyportal/keyportal/internal/demo"
	"github.com/keyportal/keyportal/policy"
)

func ExampleNew() {
	// The embedded default model with the demo policy. In production, set
	// PolicyPath (and Watch) instead of PolicyText.
	engine, err := policy.New(policy.Config{PolicyText: demo.Policy})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer engine.Close()

	// A broken policy is refused with its file and line.
	_, err = policy.New(policy.Config{PolicyText: "p, admin, deployment:*, api_keys:manage\n"})
	fmt.Println(err)
	// Output:
	// policy: (inline policy):1: p row has 3 fields, the model's p = sub, dom, obj, act wants 4
}

func ExampleEngine_Decide() {
	engine, err := policy.New(policy.Config{PolicyText: demo.Policy})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	for _, r := range []policy.Request{
		{Subject: "bob", Tenant: "acme", Object: "deployment:42", Action: "api_keys:manage"},
		{Subject: "dave", Tenant: "acme", Object: "deployment:42", Action: "api_keys:manage"},
		{Subject: "bob", Tenant: "acme", Object: "deployment:77", Action: "api_keys:manage"},
		{Subject: "frank", Tenant: "acme", Object: "deployment:42", Action: "api_keys:manage"},
		{Subject: "heidi", Tenant: "initech", Object: "deployment:99", Action: "api_keys:manage"},
		{Subject: "ivan", Tenant: "umbrella", Object: "deployment:66", Action: "api_keys:manage"},
	} {
		d, err := engine.Decide(ctx, r)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%-5s %-8s %-13s allowed=%-5v %-16s %s", r.Subject, r.Tenant, r.Object, d.Allowed, d.Reason, d.Rule)))
	}
	// Output:
	// bob   acme     deployment:42 allowed=true  allowed          p, admin, *, deployment:*, api_keys:manage
	// dave  acme     deployment:42 allowed=false denied_by_rule
	// bob   acme     deployment:77 allowed=false not_owner
	// frank acme     deployment:42 allowed=false no_role
	// heidi initech  deployment:99 allowed=false tenant_suspended
	// ivan  umbrella deployment:66 allowed=false tenant_deleted
}

func ExampleEngine_Reload() {
	dir, _ := os.MkdirTemp("", "policy-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "policy.csv")
	_ = os.WriteFile(path, []byte(demo.Policy), 0o600)

	engine, err := policy.New(policy.Config{PolicyPath: path})
	if err != nil {
		fmt.Println(err)
		return
	}
	// A broken edit: the reload fails and the last good policy stays.
	_ = os.WriteFile(path, []byte(demo.Policy+"g, zed, admin\n"), 0o600)
	err = engine.Reload()
	var fe *policy.FileError
	if errors.As(err, &fe) {
		fmt.Printf("line %d: %s\n", fe.Line, fe.Msg)
	}
	d, _ := engine.Decide(context.Background(), policy.Request{Subject: "alice", Tenant: "acme", Object: "deployment:42", Action: "api_keys:manage"})
	fmt.Println("alice still allowed:", d.Allowed)
	// Output:
	// line 33: g row has 2 fields, the model's g = _, _, _ wants 3
	// alice still allowed: true
}

func ExampleRunCases() {
	engine, _ := policy.New(policy.Config{PolicyText: demo.Policy})
	cases, err := policy.ParseCases(strings.NewReader(`subject,tenant,object,action,expect
alice, acme, deployment:42, api_keys:manage, allow
dave, acme, deployment:42, api_keys:manage, allow
`), "cases.csv")
	if err != nil {
		fmt.Println(err)
		return
	}
	results, err := policy.RunCases(context.Background(), engine, cases)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range results {
		if !r.Pass {
			fmt.Printf("cases.csv:%d: %s: expected %s, got %s\n", r.Case.Line, r.Case.Subject, r.Case.Expect, r.Decision.Reason)
		}
	}
	// Output:
	// cases.csv:3: dave: expected allow, got denied_by_rule
}

func ExampleEngine_Matrix() {
	engine, _ := policy.New(policy.Config{PolicyText: demo.Policy})
	cells, err := engine.Matrix(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range cells {
		if c.Ownership == policy.OwnershipOwn && c.TenantStatus == policy.TenantActive && c.Action == "api_keys:manage" {
			role := c.Role
			if role == "" {
				role = "(none)"
			}
			fmt.Printf("%-9s %s\n", role, c.Decision.Reason)
		}
	}
	// Output:
	// owner     allowed
	// admin     allowed
	// developer allowed
	// support   denied_by_rule
	// viewer    denied_by_rule
	// (none)    no_role
}

// deployments is an app's own table of deployments and their tenant.
type deployments map[string]string

func (d deployments) Owner(_ context.Context, object string) (string, bool, error) {
	tenant, ok := d[object]
	return tenant, ok, nil
}

// An app that keeps ownership in its own database passes it as Owners and
// writes no g2 rows.
func ExampleOwnerSource() {
	engine, err := policy.New(policy.Config{
		PolicyText: "p, admin, *, deployment:*, api_keys:manage\ng, bob, admin, acme\n",
		Owners:     deployments{"deployment:42": "acme", "deployment:77": "globex"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, object := range []string{"deployment:42", "deployment:77"} {
		d, err := engine.Decide(context.Background(), policy.Request{Subject: "bob", Tenant: "acme", Object: object, Action: "api_keys:manage"})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(object, d.Reason)
	}
	// Output:
	// deployment:42 allowed
	// deployment:77 not_owner
}
