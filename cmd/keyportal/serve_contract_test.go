package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/middleware/wacht"
)

// TestServeContractOverHTTP runs `keyportal serve` as its own process and
// drives it the way an app's backend and the portal page do: the
// middleware/wacht client provisions apps, gets a ticket, and creates,
// rotates and revokes keys; the page exchanges the ticket once; the gateway
// check follows each key's state; the CLI reads the same store's audit trail
// while the server runs; SIGTERM stops it cleanly.
func TestServeContractOverHTTP(t *testing.T) {
	const backendKey = "kpb_contract_test_key_0123456789"
	const embedder = "https://app.acme.test"
	db := filepath.Join(t.TempDir(), "kp.db")
	s := startServer(t, "serve", []string{
		"KEYPORTAL_BACKEND_API_KEY=other_rotated_key_0000000," + backendKey,
		"KEYPORTAL_DB=" + db,
		"KEYPORTAL_ALLOWED_ORIGINS=" + embedder,
		"KEYPORTAL_POLICY=../../internal/demo/demo.csv",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl := wachtClient(t, backendKey, s.base)
	var secrets []string

	// Provisioning: the guide's one-time app, with the tenant as
	// organization_id and the server's default embedder origin.
	app, err := cl.CreateApp(ctx, wacht.CreateAppRequest{AppSlug: "aa_42", Name: "Acme Public API", KeyPrefix: "acme_live",
		Description: "API keys for deployment 42", OrganizationID: "acme"})
	if err != nil {
		t.Fatalf("CreateApp: %v\n%s", err, s.logs.String())
	}
	if app.AppSlug != "aa_42" || app.DeploymentID != "42" || app.KeyPrefix != "acme_live" || !app.IsActive {
		t.Errorf("created app = %+v", app)
	}
	if _, err := cl.CreateApp(ctx, wacht.CreateAppRequest{AppSlug: "aa_42", Name: "again", KeyPrefix: "x"}); !errors.Is(err, wacht.ErrConflict) && !errors.Is(err, wacht.ErrBadRequest) {
		t.Errorf("second CreateApp of aa_42: %v, want a conflict", err)
	}
	if _, err := cl.CreateApp(ctx, wacht.CreateAppRequest{AppSlug: "aa_99", Name: "Initech", KeyPrefix: "initech", OrganizationID: "initech"}); err != nil {
		t.Fatal(err)
	}
	if got, err := cl.GetApp(ctx, "aa_42"); err != nil || got.Name != "Acme Public API" {
		t.Errorf("GetApp = %+v, %v", got, err)
	}

	// A wrong backend key changes nothing.
	bad, _ := wacht.New(wacht.Config{APIKey: "kpb_wrong_key_000000000000000", BaseURL: s.base})
	if _, err := bad.CreateApp(ctx, wacht.CreateAppRequest{AppSlug: "aa_13", Name: "x", KeyPrefix: "x", OrganizationID: "acme"}); !errors.Is(err, wacht.ErrUnauthorized) {
		t.Errorf("wrong backend key: %v, want unauthorized", err)
	}
	if _, err := cl.GetApp(ctx, "aa_13"); !errors.Is(err, wacht.ErrNotFound) {
		t.Errorf("the refused CreateApp left app aa_13 behind: %v", err)
	}

	// A ticket, exchanged once by the page.
	tk, err := cl.CreateTicket(ctx, wacht.TicketRequest{AppSlug: "aa_42", UserID: "alice", ExpiresIn: 2 * time.Minute})
	if err != nil {
		t.Fatalf("CreateTicket: %v", err)
	}
	secrets = append(secrets, tk.Ticket)
	// The default public URL is the listen address, as a browser names it.
	public := "http://" + publicHost(strings.TrimPrefix(s.base, "http://"))
	if !strings.HasPrefix(tk.URL, public+"/vanity/api-auth?ticket=") || tk.ExpiresAt <= time.Now().Unix() {
		t.Errorf("ticket URL %s, expiry %d: want a URL on %s and a future expiry", tk.URL, tk.ExpiresAt, public)
	}
	if code, _ := s.get("/vanity/api-auth?ticket=" + url.QueryEscape(tk.Ticket)); code != http.StatusOK {
		t.Errorf("portal page = %d", code)
	}
	status, body := s.post("/vanity/api-auth/exchange", "", `{"ticket":"`+tk.Ticket+`"}`)
	if status != http.StatusOK {
		t.Fatalf("exchange = %d %s", status, body)
	}
	var session struct{ Session, Origin, Tenant, User string }
	if err := json.Unmarshal([]byte(body), &session); err != nil || session.Session == "" {
		t.Fatalf("exchange body %s: %v", body, err)
	}
	secrets = append(secrets, session.Session)
	if session.Origin != embedder || session.Tenant != "acme" || session.User != "alice" {
		t.Errorf("session bound to %+v, want origin %s, tenant acme, user alice", session, embedder)
	}
	if status, _ := s.post("/vanity/api-auth/exchange", "", `{"ticket":"`+tk.Ticket+`"}`); status != http.StatusConflict {
		t.Errorf("replayed ticket = %d, want 409", status)
	}

	// Keys: create, check, rotate, revoke.
	key, secret, err := cl.CreateKey(ctx, "aa_42", wacht.CreateKeyRequest{Name: "CI"})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	secrets = append(secrets, secret)
	if !strings.HasPrefix(secret, "acme_live_") || len(secret) != len("acme_live_")+43 || key.KeySuffix != secret[len(secret)-8:] {
		t.Errorf("key %+v with secret of %d chars, want acme_live_ + 43", key, len(secret))
	}
	checkKey(t, ctx, cl, secret, "")
	checkKey(t, ctx, cl, "acme_live_"+strings.Repeat("A", 43), "unknown")
	wrong, err := wacht.New(wacht.Config{APIKey: "kpb_wrong_backend_key_0123456789", BaseURL: s.base})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := wrong.Check(ctx, wacht.CheckRequest{Principal: wacht.Principal{Value: secret}, Resource: "/v1/whoami", Method: "GET"}); !errors.Is(err, wacht.ErrUnauthorized) || v.Allowed || v.Reason != "" {
		t.Errorf("Check with a wrong backend API key = %+v, %v; want no verdict and wacht.ErrUnauthorized", v, err)
	}
	rotated, newSecret, err := cl.RotateKey(ctx, "aa_42", key.ID, wacht.RotateKeyRequest{})
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	secrets = append(secrets, newSecret)
	if rotated.ID == key.ID || newSecret == secret {
		t.Error("rotation gave back the same key")
	}
	checkKey(t, ctx, cl, secret, "revoked") // Wacht's rotate ends the old key at once
	checkKey(t, ctx, cl, newSecret, "")
	// The page session sees the backend's keys.
	status, body = s.getWithSession("/vanity/api-auth/api/keys?status=all", session.Session)
	if status != http.StatusOK || !strings.Contains(body, rotated.ID) {
		t.Errorf("page key list = %d %s, want the rotated key", status, body)
	}
	if err := cl.RevokeKey(ctx, "aa_42", rotated.ID, "leaked"); err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	checkKey(t, ctx, cl, newSecret, "revoked")
	if err := cl.RevokeKey(ctx, "aa_42", rotated.ID, "again"); !errors.Is(err, wacht.ErrNotFound) {
		t.Errorf("second revoke: %v, want not found", err)
	}
	// Tenant status from --policy: initech is suspended, so its keys fail.
	_, initechSecret, err := cl.CreateKey(ctx, "aa_99", wacht.CreateKeyRequest{Name: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, initechSecret)
	checkKey(t, ctx, cl, initechSecret, "tenant_inactive")
	// ... and no ticket is issued for it (issue 13 §4).
	if itk, err := cl.Issue(ctx, ticket.Request{AppSlug: "aa_99", Tenant: "initech", Subject: "heidi"}); !errors.Is(err, ticket.ErrRejected) || !strings.Contains(err.Error(), "suspended") {
		t.Errorf("Issue for suspended initech = %+v, %v; want refused (ticket.ErrRejected)", itk, err)
	}

	// The operator's view of the same store while the server runs.
	h := newHarness(t)
	r := h.run("audit", "--db", db, "--app", "aa_42", "--json", "--limit", "1000")
	expect(t, r, exitOK)
	for _, action := range []string{"app.created", "ticket.issue", "ticket.exchanged", "ticket.rejected", "key.created", "key.rotated", "key.revoked"} {
		if !strings.Contains(r.stdout, `"action":"`+action+`"`) {
			t.Errorf("audit trail lacks %s:\n%s", action, r.stdout)
		}
	}
	r = h.run("keys", "list", "--db", db, "--app", "aa_42", "--status", "revoked")
	expect(t, r, exitOK)
	if !strings.Contains(r.stdout, "2 keys") {
		t.Errorf("keys list after rotate and revoke:\n%s", r.stdout)
	}

	if code, body := s.get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d %s", code, body)
	}
	_, metrics := s.get("/metrics")
	for _, want := range []string{`route="/api-auth/apps/:slug/keys"`, `route="/session/tickets"`, `route="/vanity/api-auth/exchange"`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, tk.Ticket) {
		t.Error("a ticket reached /metrics")
	}
	s.stop(syscall.SIGTERM)
	logs := s.logs.String()
	for _, secret := range append(secrets, backendKey) {
		if strings.Contains(logs, secret) {
			t.Errorf("a secret or ticket reached the log: %.12s…", secret)
		}
	}
}

// checkKey asks serve's /v1/authz/check about secret: allowed when detail
// is "", else a verdict (not an error) refusing the key with
// wacht.ReasonInvalidKey and that detail.
func checkKey(t *testing.T, ctx context.Context, cl *wacht.Client, secret, detail string) {
	t.Helper()
	got, err := cl.Check(ctx, wacht.CheckRequest{Principal: wacht.Principal{Type: wacht.PrincipalAPIKey, Value: secret}, Resource: "/v1/whoami", Method: "GET"})
	if err != nil {
		t.Fatalf("Check(%.14s…): %v, want a verdict", secret, err)
	}
	if detail == "" {
		if !got.Allowed {
			t.Errorf("Check(%.14s…) refused (reason %q, detail %q), want allowed", secret, got.Reason, got.Detail)
		}
		return
	}
	if got.Allowed || got.Reason != wacht.ReasonInvalidKey || got.Detail != detail {
		t.Errorf("Check(%.14s…) = allowed %v, reason %q, detail %q; want refused, %q, %q", secret, got.Allowed, got.Reason, got.Detail, wacht.ReasonInvalidKey, detail)
	}
}

// post sends a JSON body, as the portal page does (same origin).
func (s *server) post(path, session, body string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	// As the portal's page sends it: the page is at the ticket URL, on the
	// server's public URL (publicHost of the listen address).
	req.Header.Set("Origin", "http://"+publicHost(strings.TrimPrefix(s.base, "http://")))
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if session != "" {
		req.Header.Set("Authorization", "Bearer "+session)
	}
	return s.do(req)
}

func (s *server) getWithSession(path, session string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+session)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return s.do(req)
}

func (s *server) do(req *http.Request) (int, string) {
	s.t.Helper()
	resp, b := testenv.Do(s.t, req)
	return resp.StatusCode, string(b)
}
