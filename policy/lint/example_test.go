package lint_test

import (
	"fmt"

	"github.com/keyportal/keyportal/policy/lint"
)

func ExampleLint() {
	model := `[request_definition]
r = sub, dom, obj, act
[policy_definition]
p = sub, dom, obj, act
[role_definition]
g = _, _, _
g2 = _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = r.act == p.act && (p.dom == "*" || p.dom == r.dom) && keyMatch(r.obj, p.obj) && g(r.sub, p.sub, r.dom) && g2(r.obj, r.dom)
`
	policy := `p, admin, acme, deployment:42, api_keys:manage
p, admin, globex, deployment:77, api_keys:manage
g, bob, admin, acme
g2, deployment:42, acme
g2, deployment:42, globex
`
	problems := lint.Lint("model.conf", model, "policy.csv", policy)
	for _, p := range problems {
		fmt.Println(p)
		fmt.Println("  hint:", p.Hint)
	}
	fmt.Println("errors:", lint.HasErrors(problems))
	// Output:
	// policy.csv:1: warning: 2 permission rows for admin differ only by tenant (2 tenants; lines 1, 2): every decision scans them all, so decisions slow down as tenants grow [per-tenant-rows]
	//   hint: use one template row `p, admin, *, deployment:*, api_keys:manage`, and keep tenancy in g rows (`g, <user>, admin, <tenant>`) and ownership in g2 rows (`g2, <resource>, <tenant>`)
	// policy.csv:5: error: deployment:42 is owned by two tenants: acme (line 4) and globex [owner-conflict]
	//   hint: a resource belongs to one tenant: keep one of lines 4 and 5; users of both tenants can reach it now
	// errors: true
}
