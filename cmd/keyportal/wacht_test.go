package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/httpserver"
	"github.com/keyportal/keyportal/middleware/wacht"
)

// serveInProcess runs `keyportal serve` on the harness's store and clock and
// returns its base URL; it stops when the test ends.
func (h *harness) serveInProcess(backendKey string) string {
	h.t.Helper()
	return h.serveWith(httpserver.Limits{}, map[string]string{
		"KEYPORTAL_BACKEND_API_KEY": backendKey, "KEYPORTAL_ALLOWED_ORIGINS": "https://app.acme.test",
	}, "--log-level", "error").base
}

// serveForWacht runs `keyportal serve` as serveInProcess does and points
// the --wacht commands at it (WACHT_BACKEND_API_KEY, WACHT_BASE_URL); it
// returns its base URL.
func (h *harness) serveForWacht(backendKey string) string {
	h.t.Helper()
	base := h.serveInProcess(backendKey)
	h.env["WACHT_BACKEND_API_KEY"], h.env["WACHT_BASE_URL"] = backendKey, base
	return base
}

// TestWachtModeGolden runs the --wacht commands against a keyportal server
// speaking Wacht's backend API, the way they would run against Wacht.
func TestWachtModeGolden(t *testing.T) {
	h := newHarness(t)
	const backendKey = "kpb_wacht_mode_key_0123456789"
	base := h.serveForWacht(backendKey)
	h.names[base] = "$SERVER"

	tr := &transcript{h: h} // no tick: the clock moves only where the test moves it
	step := tr.step
	step(exitOK, "apps", "create", "--wacht", "--deployment", "42", "--tenant", "acme", "--name", "Acme Public API", "--key-prefix", "acme_live", "--description", "API keys for deployment 42")
	step(exitFindings, "apps", "create", "--wacht", "--deployment", "42", "--tenant", "acme", "--name", "Again", "--key-prefix", "acme_live")
	step(exitOK, "apps", "list", "--wacht")
	step(exitOK, "apps", "get", "--wacht", "aa_42", "--json")

	cl := wachtClient(t, backendKey, base)
	ctx := context.Background()
	ci, _, err := cl.CreateKey(ctx, "aa_42", wacht.CreateKeyRequest{Name: "CI"})
	if err != nil {
		t.Fatal(err)
	}
	h.name(ci.ID, "key_ci")
	h.name(ci.KeySuffix, "CI")
	h.clock.Advance(time.Minute) // keys list newest first: make the order certain
	ops, _, err := cl.CreateKey(ctx, "aa_42", wacht.CreateKeyRequest{Name: "Ops"})
	if err != nil {
		t.Fatal(err)
	}
	h.name(ops.ID, "key_ops")
	h.name(ops.KeySuffix, "OPS")

	step(exitOK, "keys", "list", "--wacht", "--app", "aa_42")
	step(exitUsage, "keys", "list", "--wacht", "--tenant", "acme")
	step(exitOK, "keys", "revoke", "--wacht", ci.ID, "--app", "aa_42", "--reason", "leaked")
	step(exitFindings, "keys", "revoke", "--wacht", ci.ID, "--app", "aa_42", "--reason", "again")
	step(exitOK, "keys", "list", "--wacht", "--app", "aa_42", "--status", "active")
	// --all revokes the active keys, as with the local store: not an
	// expired one, and nothing (said so) the second time.
	h.clock.Advance(time.Minute) // newest first, as above
	exp, _, err := cl.CreateKey(ctx, "aa_42", wacht.CreateKeyRequest{Name: "Expiring", ExpiresAt: h.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	h.name(exp.ID, "key_exp")
	h.name(exp.KeySuffix, "EXP")
	h.clock.Advance(2 * time.Hour)
	step(exitOK, "keys", "revoke", "--wacht", "--all", "--app", "aa_42", "--reason", "offboarded")
	step(exitOK, "keys", "revoke", "--wacht", "--all", "--app", "aa_42", "--reason", "offboarded")
	step(exitOK, "keys", "list", "--wacht", "--app", "aa_42")
	step(exitOK, "apps", "disable", "--wacht", "--deployment", "42")
	step(exitFindings, "apps", "disable", "--wacht", "--deployment", "42")
	step(exitOK, "apps", "list", "--wacht", "--all")

	// The wrong key, or none, says what to do.
	h.env["WACHT_BACKEND_API_KEY"] = "kpb_wrong_key_00000000000000"
	step(exitUsage, "apps", "list", "--wacht")
	delete(h.env, "WACHT_BACKEND_API_KEY")
	step(exitUsage, "apps", "list", "--wacht")
	h.golden("wacht_mode", tr.runs...)
}

// TestWachtCreateSendsDeploymentAndOrigins: apps create --wacht sends
// --deployment and --origin (keyportal's extension fields), so a slug that
// is not aa_<id> keeps its deployment, and the origins shown are the ones
// the server stored, not "n/a".
func TestWachtCreateSendsDeploymentAndOrigins(t *testing.T) {
	h := newHarness(t)
	const backendKey = "kpb_wacht_create_key_0123456789"
	base := h.serveForWacht(backendKey)

	r := h.run("apps", "create", "--wacht", "--slug", "acme_public", "--deployment", "43", "--tenant", "acme",
		"--name", "Acme Public API", "--key-prefix", "acme_pub", "--origin", "https://other.acme.test")
	expect(t, r, exitOK)
	for _, want := range []string{"deployment:   43\n", "origins:      https://other.acme.test\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("stderr = %q, want nothing", r.stderr)
	}
	cl := wachtClient(t, backendKey, base)
	app, err := cl.GetApp(context.Background(), "acme_public")
	if err != nil {
		t.Fatal(err)
	}
	if app.DeploymentID != "43" || !slices.Equal(app.AllowedOrigins, []string{"https://other.acme.test"}) {
		t.Errorf("stored app: deployment %q, origins %q; want 43, [https://other.acme.test]", app.DeploymentID, app.AllowedOrigins)
	}
}

// TestWachtAppOrigins: an answer without allowed_origins (Wacht's) shows
// "n/a"; an empty list (keyportal's, for an app no page may embed) shows "-".
func TestWachtAppOrigins(t *testing.T) {
	for _, tt := range []struct {
		origins []string
		want    string
	}{{nil, "n/a"}, {[]string{}, "-"}, {[]string{"https://a.test", "https://b.test"}, "https://a.test,https://b.test"}} {
		if got := fromWacht(wacht.App{AllowedOrigins: tt.origins}).originList(","); got != tt.want {
			t.Errorf("origins %#v shown as %q, want %q", tt.origins, got, tt.want)
		}
	}
}

// TestWachtRefusesTenantFilter: --tenant filters the local store only; with
// --wacht, apps list and keys list refuse it (exit 2) rather than list every
// tenant's apps or keys as if they were the tenant's.
func TestWachtRefusesTenantFilter(t *testing.T) {
	h := newHarness(t)
	const backendKey = "kpb_wacht_tenant_key_0123456789"
	base := h.serveForWacht(backendKey)
	expect(t, h.run("apps", "create", "--wacht", "--deployment", "7", "--tenant", "globex", "--name", "Globex", "--key-prefix", "globex_live"), exitOK)
	if _, _, err := wachtClient(t, backendKey, base).CreateKey(context.Background(), "aa_7", wacht.CreateKeyRequest{Name: "CI"}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"apps", "list", "--wacht", "--tenant", "acme"},
		{"keys", "list", "--wacht", "--app", "aa_7", "--tenant", "acme"},
	} {
		r := h.run(args...)
		if r.code != exitUsage || strings.Contains(r.stdout, "globex") || !strings.Contains(r.stderr, "--tenant") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 naming --tenant, and no globex row",
				strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
	}
}
