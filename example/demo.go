package main

// The demo data of DESIGN.md. Roles, tenant states and deployment ownership
// are decided by the policy (policy.DemoPolicy); this table only says which
// tenant each user signs in to and what the sign-in page shows.

// demoUser is one account of the sign-in page.
type demoUser struct {
	Name   string
	Tenant string
	Role   string // for display; the policy decides
}

// demoTenant is one customer of Acme's product.
type demoTenant struct {
	Name        string
	Status      string // for display; the policy decides
	Deployments []string
	KeyPrefix   string
}

var demoTenants = []demoTenant{
	{Name: "acme", Status: "active", Deployments: []string{"42", "43"}, KeyPrefix: "acme_live"},
	{Name: "globex", Status: "active", Deployments: []string{"77"}, KeyPrefix: "globex_live"},
	{Name: "initech", Status: "suspended", Deployments: []string{"99"}, KeyPrefix: "initech_live"},
	{Name: "umbrella", Status: "deleted", Deployments: []string{"66"}, KeyPrefix: "umbrella_live"},
}

var demoUsers = []demoUser{
	{"alice", "acme", "owner"},
	{"bob", "acme", "admin"},
	{"carol", "acme", "developer"},
	{"dave", "acme", "viewer"},
	{"erin", "acme", "support"},
	{"frank", "globex", "admin"},
	{"grace", "globex", "developer"},
	{"heidi", "initech", "admin"},
	{"ivan", "umbrella", "admin"},
}

func findUser(name string) (demoUser, bool) {
	for _, u := range demoUsers {
		if u.Name == name {
			return u, true
		}
	}
	return demoUser{}, false
}

func findTenant(name string) (demoTenant, bool) {
	for _, t := range demoTenants {
		if t.Name == name {
			return t, true
		}
	}
	return demoTenant{}, false
}
