// Package demo holds the demo data of docs/design.md "Demo data": the Acme
// product's tenants, their users, roles and deployments, written once as a
// Casbin policy over policy.DefaultModel. The Acme example, the CLI's load
// command and the tests of every package read it from here.
//
// It imports the standard library only, so that package policy's own tests
// can use it.
package demo

import (
	_ "embed"
	"encoding/csv"
	"strings"
)

// Policy is the demo policy (demo.csv): tenants acme and globex (active),
// initech (suspended) and umbrella (deleted); deployments 42 and 43 (acme),
// 77 (globex), 99 (initech) and 66 (umbrella); users alice (owner), bob
// (admin), carol (developer), dave (viewer) and erin (support) of acme, frank
// (admin) and grace (developer) of globex, heidi (admin) of initech and ivan
// (admin) of umbrella.
//
//go:embed demo.csv
var Policy string

// User is one demo account: the tenant it signs in to and its role there
// (a g row of the policy).
type User struct {
	Name   string
	Tenant string
	Role   string
}

// Tenant is one of Acme's customers: its status (a g3 row) and the
// deployments it owns (g2 rows of deployment:<id>), in the policy's order.
type Tenant struct {
	Name        string
	Status      string
	Deployments []string
}

// Users returns the demo accounts, one per g row, in the policy's order.
func Users() []User {
	var users []User
	for _, r := range rows() {
		if r[0] == "g" && len(r) == 4 {
			users = append(users, User{Name: r[1], Role: r[2], Tenant: r[3]})
		}
	}
	return users
}

// Tenants returns the demo tenants, one per g3 row, in the policy's order.
func Tenants() []Tenant {
	var tenants []Tenant
	index := map[string]int{}
	for _, r := range rows() {
		if r[0] == "g3" && len(r) == 3 {
			index[r[1]] = len(tenants)
			tenants = append(tenants, Tenant{Name: r[1], Status: r[2]})
		}
	}
	for _, r := range rows() {
		if r[0] != "g2" || len(r) != 3 {
			continue
		}
		id, isDeployment := strings.CutPrefix(r[1], "deployment:")
		if i, ok := index[r[2]]; ok && isDeployment {
			tenants[i].Deployments = append(tenants[i].Deployments, id)
		}
	}
	return tenants
}

// rows reads the policy's rows; the file is embedded and known good, so a
// row that is not CSV cannot occur (the package's test reads every row).
func rows() [][]string {
	r := csv.NewReader(strings.NewReader(Policy))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	all, err := r.ReadAll()
	if err != nil {
		panic("demo: demo.csv: " + err.Error())
	}
	return all
}
