package middleware

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/internal/demo"
	"github.com/keyportal/keyportal/policy"
)

// permutationPolicy builds, with the default model, a tenant of each status
// holding one user of each role and one deployment, plus an active tenant
// "other" that owns deployment other-1.
func permutationPolicy(roles, statuses []string) string {
	var b strings.Builder
	b.WriteString(`p, owner, *, deployment:*, api_keys:manage
p, admin, *, deployment:*, api_keys:manage
p, developer, *, deployment:*, api_keys:manage
p, support, *, deployment:*, audit:read
g2, deployment:other-1, other
g, owner-other, owner, other
`)
	for _, st := range statuses {
		fmt.Fprintf(&b, "g3, t-%s, %s\n", st, st)
		fmt.Fprintf(&b, "g2, deployment:own-%s, t-%s\n", st, st)
		for _, role := range roles {
			if role != "none" {
				fmt.Fprintf(&b, "g, %s-%s, %s, t-%s\n", role, st, role, st)
			}
		}
	}
	return b.String()
}

// TestTicketRoutePermutations runs the ticket route over the real policy
// engine for every role × deployment ownership × tenant status: only an
// owner, admin or developer of an active tenant gets a ticket for their own
// tenant's deployment; every other cell gets 403 and its own audit reason.
func TestTicketRoutePermutations(t *testing.T) {
	roles := []string{"owner", "admin", "developer", "viewer", "support", "none"}
	statuses := []string{"active", "suspended", "deleted"}
	deployments := []string{"own tenant", "other tenant", "unknown"}

	engine, err := policy.New(policy.Config{PolicyText: permutationPolicy(roles, statuses)})
	if err != nil {
		t.Fatal(err)
	}
	env := newRouteEnv(t, Config{Decider: engine})

	for _, st := range statuses {
		for _, role := range roles {
			for _, dep := range deployments {
				name := fmt.Sprintf("%s/%s/%s", role, dep, st)
				t.Run(name, func(t *testing.T) {
					id := map[string]string{"own tenant": "own-" + st, "other tenant": "other-1", "unknown": "nobody-9"}[dep]
					wantStatus, wantReason := 200, ReasonIssued
					switch {
					case st == "suspended":
						wantStatus, wantReason = 403, "tenant_suspended"
					case st == "deleted":
						wantStatus, wantReason = 403, "tenant_deleted"
					case role == "none":
						wantStatus, wantReason = 403, "no_role"
					case dep != "own tenant":
						wantStatus, wantReason = 403, "not_owner"
					case role == "viewer" || role == "support":
						wantStatus, wantReason = 403, "denied_by_rule"
					}

					before := env.issuer.callCount()
					mark := len(env.log.auditEvents(t))
					w := env.do(req{user: role + "-" + st + "@t-" + st, body: `{"deploymentId":"` + id + `"}`})

					if w.Code != wantStatus {
						t.Errorf("status = %d, want %d (%s)", w.Code, wantStatus, w.Body)
					}
					if wantStatus == 403 && w.Body.String() != `{"error":"Forbidden"}` {
						t.Errorf("body = %s, want the same Forbidden for every refusal", w.Body)
					}
					events := env.log.auditEvents(t)
					if len(events) != mark+1 {
						t.Fatalf("%d new audit events, want 1", len(events)-mark)
					}
					if ev := events[mark]; ev["reason"] != wantReason || ev["deployment"] != id || ev["tenant"] != "t-"+st {
						t.Errorf("audit = %v, want reason %s", ev, wantReason)
					}
					issued := env.issuer.callCount() - before
					if (wantStatus == 200) != (issued == 1) {
						t.Errorf("issuer called %d times", issued)
					}
				})
			}
		}
	}
}

// TestTicketRouteDemoUsers checks the demo data of docs/design.md "Demo data"
// end to end.
func TestTicketRouteDemoUsers(t *testing.T) {
	engine, err := policy.New(policy.Config{PolicyText: demo.Policy})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, id string
		wantStatus     int
		wantReason     string
	}{
		{"owner", "alice@acme", "42", 200, ReasonIssued},
		{"admin, second deployment", "bob@acme", "43", 200, ReasonIssued},
		{"developer", "carol@acme", "42", 200, ReasonIssued},
		{"viewer", "dave@acme", "42", 403, "denied_by_rule"},
		{"support", "erin@acme", "42", 403, "denied_by_rule"},
		{"admin of another tenant's deployment", "frank@globex", "42", 403, "not_owner"},
		{"admin claiming another tenant", "frank@acme", "42", 403, "no_role"},
		{"developer of globex", "grace@globex", "77", 200, ReasonIssued},
		{"suspended tenant", "heidi@initech", "99", 403, "tenant_suspended"},
		{"deleted tenant", "ivan@umbrella", "66", 403, "tenant_deleted"},
		{"unknown deployment", "alice@acme", "1000", 403, "not_owner"},
		{"stranger", "mallory@acme", "42", 403, "no_role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newRouteEnv(t, Config{Decider: engine})
			w := env.do(req{user: tt.user, body: `{"deploymentId":"` + tt.id + `"}`})
			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if ev := env.log.onlyAudit(t); ev["reason"] != tt.wantReason {
				t.Errorf("audit reason = %v, want %s", ev["reason"], tt.wantReason)
			}
		})
	}
}
