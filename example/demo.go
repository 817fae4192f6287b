package main

import demodata "github.com/keyportal/keyportal/internal/demo"

// The demo data of docs/design.md "Demo data" is the demo policy that the
// app's engine loads (internal/demo): the sign-in page reads its users,
// tenants and deployments from the same rows, so the two cannot disagree. The
// policy decides; these lists only say which tenant each user signs in to and
// what the pages show.

// demoUser is one account of the sign-in page.
type demoUser = demodata.User

// demoTenant is one customer of Acme's product.
type demoTenant struct {
	demodata.Tenant
	// KeyPrefix starts the keys of the tenant's apps: <tenant>_live.
	KeyPrefix string
}

var demoUsers = demodata.Users()

var demoTenants = func() []demoTenant {
	var out []demoTenant
	for _, t := range demodata.Tenants() {
		out = append(out, demoTenant{Tenant: t, KeyPrefix: t.Name + "_live"})
	}
	return out
}()

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
