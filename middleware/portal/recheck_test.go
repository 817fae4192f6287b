package portal

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

// recheckPolicy is a small policy: alice is admin of acme, which owns
// deployment 42.
const recheckPolicy = `p, admin, *, deployment:*, api_keys:manage
g2, deployment:42, acme
g, alice, admin, acme
`

// policyFile is a policy engine over a file the test edits with set, which
// reloads it at once (as the file watch does in production).
type policyFile struct {
	t    *testing.T
	path string
	e    *policy.Engine
}

func newPolicyFile(t *testing.T, text string) *policyFile {
	t.Helper()
	pf := &policyFile{t: t, path: filepath.Join(t.TempDir(), "policy.csv")}
	if err := os.WriteFile(pf.path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := policy.New(policy.Config{PolicyPath: pf.path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	pf.e = e
	return pf
}

func (pf *policyFile) set(text string) {
	pf.t.Helper()
	if err := os.WriteFile(pf.path, []byte(text), 0o600); err != nil {
		pf.t.Fatal(err)
	}
	if err := pf.e.Reload(); err != nil {
		pf.t.Fatal(err)
	}
}

// routeTicket is the ticket the ticket route asks for: the policy question
// it decided travels with it.
func routeTicket(user string) ticket.Request {
	return ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: user, Resource: "42",
		Object: "deployment:42", Action: "api_keys:manage", EmbedderOrigin: "http://app.test"}
}

func (e *env) routeSession(user string) string {
	e.t.Helper()
	code, ok, bad := e.exchangeTicket(e.issue(routeTicket(user)).Ticket, "")
	if code != http.StatusOK {
		e.t.Fatalf("exchange: %d %+v", code, bad)
	}
	return ok.Session
}

func (e *env) tryCreateKey(session, name string) (int, errBody) {
	e.t.Helper()
	var bad errBody
	res := e.do("POST", PagePath+"/api/keys", session, "application/json", `{"name":"`+name+`"}`, &bad)
	return res.StatusCode, bad
}

// TestSessionFollowsThePolicy: an open page session stops creating,
// rotating and revoking keys once the policy no longer allows its user, the
// API answering 401 revoked (the page posts session_expired "revoked"), with
// a session.expired event naming the policy's reason.
func TestSessionFollowsThePolicy(t *testing.T) {
	cases := []struct {
		name, edit, reason string
	}{
		{"role removed", strings.Replace(recheckPolicy, "g, alice, admin, acme\n", "", 1), "no_role"},
		{"tenant suspended", recheckPolicy + "g3, acme, suspended\n", "tenant_suspended"},
		{"tenant deleted", recheckPolicy + "g3, acme, deleted\n", "tenant_deleted"},
		{"deployment moved", strings.Replace(recheckPolicy, "g2, deployment:42, acme", "g2, deployment:42, globex", 1), "not_owner"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pf := newPolicyFile(t, recheckPolicy)
			e := newEnv(t, envOptions{decider: pf.e})
			e.app("aa_42", "acme", "http://app.test")
			sess := e.routeSession("alice")
			if code, bad := e.tryCreateKey(sess, "before"); code != http.StatusCreated {
				t.Fatalf("create before the edit: %d %+v", code, bad)
			}
			var listed struct {
				Keys []keyView `json:"keys"`
			}
			e.do("GET", PagePath+"/api/keys", sess, "", "", &listed)
			id := listed.Keys[0].ID

			pf.set(tc.edit)
			if code, bad := e.tryCreateKey(sess, "after"); code != http.StatusUnauthorized || bad.Error.Code != ticket.ReasonRevoked {
				t.Fatalf("create after the edit: %d %+v, want 401 revoked", code, bad)
			}
			for _, path := range []string{"/api/keys/" + id + "/rotate", "/api/keys/" + id + "/revoke"} {
				var bad errBody
				res := e.do("POST", PagePath+path, sess, "application/json", `{"grace":"0"}`, &bad)
				if res.StatusCode != http.StatusUnauthorized || bad.Error.Code != ticket.ReasonRevoked {
					t.Fatalf("%s after the edit: %d %+v, want 401 revoked", path, res.StatusCode, bad)
				}
			}
			page, err := e.store.ListKeys(t.Context(), keystore.KeyFilter{AppSlug: "aa_42", Status: keystore.KeyAll})
			keys := page.Keys
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 || keys[0].Name != "before" || keys[0].RevokedAt != nil {
				t.Fatalf("keys after the refused calls: %+v, want the one made before, unrevoked", keys)
			}
			ended := e.events(audit.ActionSessionExpired)
			if len(ended) == 0 || ended[0].Reason != tc.reason || ended[0].Actor != "alice" {
				t.Fatalf("session.expired events %+v, want the newest with reason %s", ended, tc.reason)
			}
		})
	}
}

// TestExchangeFollowsThePolicy: a ticket issued while alice had the role is
// not exchanged (nor a renewal accepted) after the policy took it away; the
// page maps the code to session_expired "revoked"; the ticket stays unused.
func TestExchangeFollowsThePolicy(t *testing.T) {
	pf := newPolicyFile(t, recheckPolicy)
	e := newEnv(t, envOptions{decider: pf.e})
	e.app("aa_42", "acme", "http://app.test")
	sess := e.routeSession("alice")
	fresh := e.issue(routeTicket("alice")).Ticket
	renewal := e.issue(routeTicket("alice")).Ticket

	pf.set(recheckPolicy + "g3, acme, suspended\n")
	for name, tc := range map[string]struct{ tk, prev string }{"first": {fresh, ""}, "renewal": {renewal, sess}} {
		code, _, bad := e.exchangeTicket(tc.tk, tc.prev)
		if code != http.StatusForbidden || bad.Error.Code != ticket.ReasonRevoked {
			t.Fatalf("%s exchange with acme suspended: %d %+v, want 403 revoked", name, code, bad)
		}
	}
	rejected := e.events(audit.ActionTicketRejected)
	if len(rejected) != 2 || rejected[0].Reason != "tenant_suspended" {
		t.Fatalf("ticket.rejected events %+v, want 2 with reason tenant_suspended", rejected)
	}
	// Lifted: the refused ticket was not spent.
	pf.set(recheckPolicy)
	if code, _, bad := e.exchangeTicket(fresh, ""); code != http.StatusOK {
		t.Fatalf("exchange after the suspension was lifted: %d %+v", code, bad)
	}
}

// TestBackendTicketFollowsTenantStatus: a ticket of the backend API names
// no policy object, so its session follows the tenant's status only.
func TestBackendTicketFollowsTenantStatus(t *testing.T) {
	pf := newPolicyFile(t, recheckPolicy)
	e := newEnv(t, envOptions{decider: pf.e})
	e.app("aa_42", "acme", "http://app.test")
	sess := e.session("aa_42", "acme", "backend-user", "http://app.test")
	if code, bad := e.tryCreateKey(sess, "one"); code != http.StatusCreated {
		t.Fatalf("create: %d %+v (a backend ticket's user needs no role)", code, bad)
	}
	pf.set(recheckPolicy + "g3, acme, suspended\n")
	if code, bad := e.tryCreateKey(sess, "two"); code != http.StatusUnauthorized || bad.Error.Code != ticket.ReasonRevoked {
		t.Fatalf("create with acme suspended: %d %+v, want 401 revoked", code, bad)
	}
}

// TestNoDeciderKeepsSessions: without Config.Decider the portal asks no
// policy (the documented zero value).
func TestNoDeciderKeepsSessions(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.app("aa_42", "acme", "http://app.test")
	sess := e.routeSession("nobody-the-policy-knows")
	if code, bad := e.tryCreateKey(sess, "one"); code != http.StatusCreated {
		t.Fatalf("create: %d %+v", code, bad)
	}
}
