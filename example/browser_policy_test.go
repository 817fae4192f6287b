package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	demodata "github.com/keyportal/keyportal/internal/demo"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/policy"
	"github.com/keyportal/keyportal/wasmui"
)

// TestBrowserRoleRemovedEndsSession: alice has the portal open; an edit of
// the watched policy file removes her role; her next create is refused (no
// key is made), the portal ends her session as revoked, the shell asks once
// for a ticket, the route answers 403, and the page shows "no permission"
// instead of the frame, with no reload loop (issue 13 §4).
func TestBrowserRoleRemovedEndsSession(t *testing.T) {
	policyPath := filepath.Join(t.TempDir(), "policy.csv")
	if err := os.WriteFile(policyPath, []byte(demodata.Policy), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startLiveDemo(t, func(o *options) { o.PolicyPath = policyPath })
	tab := newTab(t, chromium(t))
	signInWithForm(t, tab, d, "alice")
	waitFor(t, tab, 30*time.Second, `location.pathname === '/settings/api-keys/42'`)
	waitFor(t, tab, firstLoad, q(shellFrame+`[data-keyportal-ready]`))
	f := frameOf(t, tab, d.acme.PortalURL)
	waitFor(t, f, 30*time.Second, portalIsReady)
	runJS(t, tab, `window.__sameShellDocument = true`)

	// The policy edit: alice is no longer owner of acme.
	const aliceRow = "g, alice, owner, acme\n"
	if !strings.Contains(demodata.Policy, aliceRow) {
		t.Fatalf("the demo policy has no row %q", aliceRow)
	}
	if err := os.WriteFile(policyPath, []byte(strings.Replace(demodata.Policy, aliceRow, "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		dec, err := d.acme.policy.Decide(context.Background(), policy.Request{Subject: "alice", Tenant: "acme", Object: "deployment:42", Action: "api_keys:manage"})
		if err == nil && !dec.Allowed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watched policy was not reloaded within 10 s: %+v, %v", dec, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Her next create, in the page she still has open.
	click(t, f, tid("create-key"))
	waitFor(t, f, 30*time.Second, q(tid("create-dialog"))+`.open`)
	typeInto(t, f, tid("create-name"), "after the edit")
	click(t, f, tid("create-submit"))

	// The shell shows "no permission", and no frame.
	waitFor(t, tab, 60*time.Second, q(shellAlert)+` && !document.querySelector('iframe')`)
	if shown := eval[string](t, tab, q(shellAlert)+`.innerText`); !strings.Contains(shown, wasmui.TextForbidden) {
		t.Fatalf("the page shows %q, want %q", shown, wasmui.TextForbidden)
	}
	if !eval[bool](t, tab, `window.__sameShellDocument === true`) {
		t.Fatal("the settings page was reloaded")
	}

	page, err := d.acme.store.ListKeys(context.Background(), keystore.KeyFilter{AppSlug: "aa_42", Status: keystore.KeyAll})
	keys := page.Keys
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Fatalf("the refused create made keys: %+v", keys)
	}
	ended, err := d.acme.store.QueryAudit(context.Background(), audit.Query{Tenant: "acme", Action: audit.ActionSessionExpired, Actor: "alice", Limit: 10})
	if err != nil || len(ended.Events) != 1 || ended.Events[0].Reason != string(policy.ReasonNoRole) {
		t.Fatalf("session.expired events %+v (%v): want one, reason no_role", ended.Events, err)
	}
	// No loop: after a while, still exactly one refused ticket request.
	time.Sleep(3 * time.Second)
	attempts, err := d.acme.store.QueryAudit(context.Background(), audit.Query{Tenant: "acme", Action: audit.ActionTicketIssue, Actor: "alice", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var issued, refused int
	for _, e := range attempts.Events {
		switch {
		case e.Outcome == audit.OutcomeIssued:
			issued++
		case e.Reason == string(policy.ReasonNoRole):
			refused++
		}
	}
	if issued != 1 || refused != 1 || len(attempts.Events) != 2 {
		t.Fatalf("alice's ticket attempts: %d issued, %d refused for no_role, %d in all; want 1, 1, 2", issued, refused, len(attempts.Events))
	}
}
