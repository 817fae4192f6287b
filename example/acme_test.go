package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/wacht"
	"github.com/keyportal/keyportal/middleware/wacht/gateway"
)

// demo runs Acme on two httptest servers (app and portal), as main does.
type demo struct {
	t      *testing.T
	acme   *acme
	app    *httptest.Server
	portal *httptest.Server
}

func startDemo(t *testing.T) *demo {
	t.Helper()
	return runDemo(t, options{
		TicketRate:    0,
		BackendAPIKey: "kp_backend_test_0123456789",
		Logger:        zerolog.Nop(),
		SkipShell:     true,
	}, nil)
}

// runDemo starts Acme with o on two loopback ports (their addresses fill
// o.AppAddr and o.PortalAddr, a temporary directory o.DataDir when empty),
// served by the servers main runs (acme.servers); wrapApp, when not nil,
// wraps the app's handler (to watch its requests).
func runDemo(t *testing.T, o options, wrapApp func(http.Handler) http.Handler) *demo {
	t.Helper()
	appL, portalL := listen(t), listen(t)
	o.AppAddr, o.PortalAddr = appL.Addr().String(), portalL.Addr().String()
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	a, err := newAcme(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	d := &demo{t: t, acme: a}
	servers := a.servers(o)
	if wrapApp != nil {
		servers[0].Handler = wrapApp(servers[0].Handler)
	}
	d.app = &httptest.Server{Listener: appL, Config: servers[0]}
	d.app.Start()
	d.portal = &httptest.Server{Listener: portalL, Config: servers[1]}
	d.portal.Start()
	t.Cleanup(func() { d.app.Close(); d.portal.Close(); a.Close() })
	return d
}

// browser is one signed-in user agent with its own cookie jar.
type browser struct {
	d      *demo
	client *http.Client
}

func (d *demo) signIn(user string) *browser {
	d.t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{d: d, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	req, _ := http.NewRequest("POST", d.app.URL+"/login", strings.NewReader(url.Values{"user": {user}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", d.app.URL)
	res := do(d.t, b.client, req)
	if res.StatusCode != http.StatusSeeOther {
		d.t.Fatalf("sign in as %s: status %d", user, res.StatusCode)
	}
	return b
}

// ticket asks the app's ticket route for a ticket, as the shell does.
func (b *browser) ticket(deployment string) (int, map[string]any) {
	b.d.t.Helper()
	req, _ := http.NewRequest("POST", b.d.app.URL+"/api/settings/api-keys/embed-ticket", strings.NewReader(`{"deploymentId":"`+deployment+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", b.d.app.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res := do(b.d.t, b.client, req)
	return res.StatusCode, decode(b.d.t, res)
}

// portalCall calls the portal's JSON API as the framed page does.
func (d *demo) portalCall(method, path, session, body string) (int, map[string]any) {
	d.t.Helper()
	req, _ := http.NewRequest(method, d.portal.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if session != "" {
		req.Header.Set("Authorization", "Bearer "+session)
	}
	res := do(d.t, http.DefaultClient, req)
	return res.StatusCode, decode(d.t, res)
}

func (d *demo) whoami(secret string) int {
	d.t.Helper()
	req, _ := http.NewRequest("GET", d.app.URL+"/v1/whoami", nil)
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	res := do(d.t, http.DefaultClient, req)
	res.Body.Close()
	return res.StatusCode
}

// TestKeyMadeInPortalWorksOnPublicAPI walks the product's main path over
// HTTP: alice gets a ticket, the portal exchanges it, she creates a key, the
// key works on /v1/whoami, she revokes it, and the next request fails.
func TestKeyMadeInPortalWorksOnPublicAPI(t *testing.T) {
	d := startDemo(t)
	alice := d.signIn("alice")

	status, tk := alice.ticket("42")
	if status != http.StatusOK {
		t.Fatalf("ticket: status %d %v", status, tk)
	}
	ticketURL, _ := tk["url"].(string)
	if !strings.HasPrefix(ticketURL, "http://localhost:") || !strings.Contains(ticketURL, "/vanity/api-auth?ticket=") {
		t.Fatalf("ticket url %q: want the portal on localhost (another site than the app)", ticketURL)
	}

	status, sess := d.portalCall("POST", "/vanity/api-auth/exchange", "", `{"ticket":"`+tk["ticket"].(string)+`"}`)
	if status != http.StatusOK {
		t.Fatalf("exchange: status %d %v", status, sess)
	}
	session := sess["session"].(string)
	if sess["tenant"] != "acme" || sess["user"] != "alice" {
		t.Fatalf("session bound to %v/%v, want acme/alice", sess["tenant"], sess["user"])
	}
	if status, _ := d.portalCall("POST", "/vanity/api-auth/exchange", "", `{"ticket":"`+tk["ticket"].(string)+`"}`); status == http.StatusOK {
		t.Fatal("a replayed ticket opened a second session")
	}

	status, created := d.portalCall("POST", "/vanity/api-auth/api/keys", session, `{"name":"CI deploys"}`)
	if status != http.StatusCreated {
		t.Fatalf("create key: status %d %v", status, created)
	}
	secret := created["secret"].(string)
	if !strings.HasPrefix(secret, "acme_live_") {
		t.Fatalf("secret %q: want the acme_live_ prefix", secret)
	}
	if got := d.whoami(secret); got != http.StatusOK {
		t.Fatalf("whoami with the new key: %d, want 200", got)
	}
	if got := d.whoami("acme_live_" + strings.Repeat("A", 43)); got != http.StatusUnauthorized {
		t.Fatalf("whoami with an unknown key: %d, want 401", got)
	}

	id := created["key"].(map[string]any)["id"].(string)
	if status, body := d.portalCall("POST", "/vanity/api-auth/api/keys/"+id+"/revoke", session, `{"reason":"leaked"}`); status != http.StatusOK {
		t.Fatalf("revoke: status %d %v", status, body)
	}
	if got := d.whoami(secret); got != http.StatusUnauthorized {
		t.Fatalf("whoami after revoke: %d, want 401 on the very next request", got)
	}
}

// TestTicketsFollowTheDemoPolicy checks the demo users against docs/design.md "Demo data":
// who gets a ticket for which deployment.
func TestTicketsFollowTheDemoPolicy(t *testing.T) {
	d := startDemo(t)
	cases := []struct {
		name, user, deployment string
		want                   int
	}{
		{"owner of acme", "alice", "42", 200},
		{"admin of acme, second deployment", "bob", "43", 200},
		{"developer of acme", "carol", "42", 200},
		{"viewer may not manage keys", "dave", "42", 403},
		{"support may only read the audit trail", "erin", "42", 403},
		{"globex admin, acme's deployment", "frank", "42", 403},
		{"globex developer, own deployment", "grace", "77", 200},
		{"admin of suspended initech", "heidi", "99", 403},
		{"admin of deleted umbrella", "ivan", "66", 403},
		{"unknown deployment", "alice", "1000", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := d.signIn(tc.user).ticket(tc.deployment)
			if status != tc.want {
				t.Fatalf("%s asking for deployment %s: status %d %v, want %d", tc.user, tc.deployment, status, body, tc.want)
			}
			if status == 200 && body["ticket"] == "" {
				t.Fatal("200 without a ticket")
			}
		})
	}
}

func TestSignedOutGets401AndLoginPageListsUsers(t *testing.T) {
	d := startDemo(t)
	req, _ := http.NewRequest("POST", d.app.URL+"/api/settings/api-keys/embed-ticket", strings.NewReader(`{"deploymentId":"42"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", d.app.URL)
	if res := do(t, http.DefaultClient, req); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("signed out: %d, want 401", res.StatusCode)
	}
	res := do(t, http.DefaultClient, mustGet(d.app.URL+"/login"))
	page, _ := io.ReadAll(res.Body)
	for _, u := range demoUsers {
		if !strings.Contains(string(page), `value="`+u.Name+`"`) {
			t.Errorf("sign-in page does not offer %s", u.Name)
		}
	}
}

func TestAuditTrailIsForSupportOnly(t *testing.T) {
	d := startDemo(t)
	d.signIn("alice").ticket("42") // leaves an audit event
	for user, want := range map[string]int{"erin": 200, "alice": 403, "frank": 403} {
		b := d.signIn(user)
		res := do(t, b.client, mustGet(d.app.URL+"/settings/audit/42"))
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Errorf("%s reading deployment 42's audit trail: %d, want %d", user, res.StatusCode, want)
		}
		if want == 200 && !strings.Contains(string(body), "ticket.issue") {
			t.Errorf("support's audit page lacks the ticket.issue event")
		}
	}
	// A cursor the store did not issue is the caller's mistake, not an
	// outage.
	res := do(t, d.signIn("erin").client, mustGet(d.app.URL+"/settings/audit/42?cursor=garbage"))
	if body, _ := io.ReadAll(res.Body); res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "link to older events is not valid") {
		t.Errorf("audit page with a bad cursor: %d %s, want 400 saying the link is not valid", res.StatusCode, body)
	}
}

func TestRestartKeepsKeys(t *testing.T) {
	dir := t.TempDir()
	open := func() *acme {
		a, err := newAcme(context.Background(), options{AppAddr: "127.0.0.1:1", PortalAddr: "127.0.0.1:2", DataDir: dir, Logger: zerolog.Nop(), SkipShell: true})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	// Provisioning recreates the apps on every start, so only a key proves
	// that state survived: make one, restart, and use it.
	a := open()
	_, secret, err := a.store.CreateKey(context.Background(), keystore.NewKey{AppSlug: "aa_42", Name: "before restart"}, keystore.Actor{Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	b := open()
	defer b.Close()
	k, _, err := b.store.LookupKey(context.Background(), keystore.HashSecret(secret))
	if err != nil || k.Name != "before restart" {
		t.Fatalf("key after restart: %+v %v, want the key made before it", k, err)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustGet(u string) *http.Request {
	req, _ := http.NewRequest("GET", u, nil)
	return req
}

func do(t *testing.T, c *http.Client, req *http.Request) *http.Response {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func decode(t *testing.T, res *http.Response) map[string]any {
	t.Helper()
	var m map[string]any
	b, _ := io.ReadAll(res.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: body %q is not JSON", res.Request.Method, res.Request.URL.Path, b)
		}
	}
	return m
}

// TestBackendAPISpeaksWacht points Wacht's Go client at the demo portal: the
// provisioned apps are there, and a wrong backend key changes nothing.
func TestBackendAPISpeaksWacht(t *testing.T) {
	d := startDemo(t)
	client, err := wacht.New(wacht.Config{APIKey: "kp_backend_test_0123456789", BaseURL: d.portal.URL})
	if err != nil {
		t.Fatal(err)
	}
	apps, err := client.ListApps(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	var slugs []string
	for _, a := range apps {
		slugs = append(slugs, a.AppSlug)
	}
	if got := strings.Join(slugs, ","); !strings.Contains(got, "aa_42") || !strings.Contains(got, "aa_77") {
		t.Fatalf("apps %s: want the demo's aa_42 and aa_77", got)
	}
	wrong, _ := wacht.New(wacht.Config{APIKey: "kp_backend_wrong_key_0123456789", BaseURL: d.portal.URL})
	if _, err := wrong.ListApps(context.Background(), true); !errors.Is(err, wacht.ErrUnauthorized) {
		t.Fatalf("wrong backend key: %v, want ErrUnauthorized", err)
	}
}

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// TestWachtModeWalkthrough runs Acme in Wacht mode against the demo portal's
// Wacht-compatible backend API (keyportal serve's) standing in for Wacht: a
// key made there works on /v1/whoami with the same identity as in local
// mode, an unknown key gets 401, and a revoked one gets 401 once the cache
// bound (gateway.DefaultCacheTTL) has passed — never 503.
func TestWachtModeWalkthrough(t *testing.T) {
	wachtStandIn := startDemo(t)
	backend, err := wacht.New(wacht.Config{APIKey: "kp_backend_test_0123456789", BaseURL: wachtStandIn.portal.URL})
	if err != nil {
		t.Fatal(err)
	}
	clock := testenv.NewClock(time.Now())
	appL := listen(t)
	a, err := newAcme(context.Background(), options{
		AppAddr: appL.Addr().String(), DataDir: t.TempDir(), Logger: zerolog.Nop(), SkipShell: true,
		WachtAPIKey: "kp_backend_test_0123456789", WachtBaseURL: wachtStandIn.portal.URL, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &demo{t: t, acme: a}
	d.app = &httptest.Server{Listener: appL, Config: &http.Server{Handler: a.App}}
	d.app.Start()
	t.Cleanup(func() { d.app.Close(); a.Close() })

	key, secret, err := backend.CreateKey(context.Background(), "aa_42", wacht.CreateKeyRequest{Name: "ci", Permissions: []string{"deploy:read"}})
	if err != nil {
		t.Fatal(err)
	}
	res := do(t, http.DefaultClient, func() *http.Request {
		req := mustGet(d.app.URL + "/v1/whoami")
		req.Header.Set("Authorization", "Bearer "+secret)
		return req
	}())
	id := decode(t, res)
	if res.StatusCode != http.StatusOK || id["key_id"] != key.ID || id["app_slug"] != "aa_42" || id["tenant"] != "acme" ||
		id["deployment_id"] != "42" || id["key_name"] != "ci" {
		t.Fatalf("whoami with a key made through the backend API: %d %v", res.StatusCode, id)
	}
	if got := d.whoami("acme_live_" + strings.Repeat("A", 43)); got != http.StatusUnauthorized {
		t.Errorf("unknown key: %d, want 401", got)
	}
	if got := d.whoami(""); got != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", got)
	}
	if err := backend.RevokeKey(context.Background(), "aa_42", key.ID, "leaked"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(gateway.DefaultCacheTTL)
	if got := d.whoami(secret); got != http.StatusUnauthorized {
		t.Errorf("revoked key after %s: %d, want 401", gateway.DefaultCacheTTL, got)
	}
}
