package demo

import (
	"fmt"
	"slices"
	"testing"
)

func TestUsersAreTheGRows(t *testing.T) {
	var got []string
	for _, u := range Users() {
		got = append(got, fmt.Sprintf("%s/%s/%s", u.Name, u.Role, u.Tenant))
	}
	want := []string{
		"alice/owner/acme", "bob/admin/acme", "carol/developer/acme", "dave/viewer/acme", "erin/support/acme",
		"frank/admin/globex", "grace/developer/globex", "heidi/admin/initech", "ivan/admin/umbrella",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Users() = %q\nwant      %q", got, want)
	}
}

func TestTenantsAreTheG3RowsWithTheirDeployments(t *testing.T) {
	var got []string
	for _, tn := range Tenants() {
		got = append(got, fmt.Sprintf("%s/%s/%v", tn.Name, tn.Status, tn.Deployments))
	}
	want := []string{"acme/active/[42 43]", "globex/active/[77]", "initech/suspended/[99]", "umbrella/deleted/[66]"}
	if !slices.Equal(got, want) {
		t.Errorf("Tenants() = %q\nwant        %q", got, want)
	}
}
