package wacht

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/keyportal/keyportal/middleware/ticket"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newTestClient returns a client for baseURL with cfg's other fields, whose
// idle connections are closed when the test ends.
func newTestClient(t testing.TB, baseURL string, cfg Config) *Client {
	t.Helper()
	if cfg.APIKey == "" {
		cfg.APIKey = testAPIKey
	}
	cfg.BaseURL = baseURL
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		c.CloseIdleConnections()
		if cfg.HTTPClient != nil {
			cfg.HTTPClient.CloseIdleConnections()
		}
	})
	return c
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" for success
		base    string
	}{
		{name: "defaults", cfg: Config{APIKey: "k"}, base: DefaultBaseURL},
		{name: "trailing slash trimmed", cfg: Config{APIKey: "k", BaseURL: "http://127.0.0.1:8081/"}, base: "http://127.0.0.1:8081"},
		{name: "path prefix kept", cfg: Config{APIKey: "k", BaseURL: "https://portal.example/wacht/"}, base: "https://portal.example/wacht"},
		{name: "missing api key", cfg: Config{}, wantErr: "wacht: Config.APIKey is required"},
		{name: "blank api key", cfg: Config{APIKey: "  "}, wantErr: "wacht: Config.APIKey is required"},
		{name: "api key with newline", cfg: Config{APIKey: "k\nX-Evil: 1"}, wantErr: "wacht: Config.APIKey contains whitespace"},
		{name: "relative url", cfg: Config{APIKey: "k", BaseURL: "/v1"}, wantErr: "absolute http or https"},
		{name: "ftp scheme", cfg: Config{APIKey: "k", BaseURL: "ftp://api.wacht.dev"}, wantErr: "absolute http or https"},
		{name: "no host", cfg: Config{APIKey: "k", BaseURL: "https://"}, wantErr: "has no host"},
		{name: "credentials in url", cfg: Config{APIKey: "k", BaseURL: "https://u:p@api.wacht.dev"}, wantErr: "must not carry credentials"},
		{name: "query in url", cfg: Config{APIKey: "k", BaseURL: "https://api.wacht.dev/?x=1"}, wantErr: "query or fragment"},
		{name: "unparseable url", cfg: Config{APIKey: "k", BaseURL: "http://[::1"}, wantErr: "is not a URL"},
		{name: "negative timeout", cfg: Config{APIKey: "k", Timeout: -time.Second}, wantErr: "Timeout must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "wacht: ") {
					t.Fatalf("New error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer c.CloseIdleConnections()
			if c.base != tt.base || c.timeout != DefaultTimeout || c.userAgent != DefaultUserAgent || c.http == nil || !c.ownHTTP {
				t.Errorf("client = base %q timeout %s ua %q http %v own %v", c.base, c.timeout, c.userAgent, c.http, c.ownHTTP)
			}
		})
	}
}

// TestRequestHeaders checks what every call sends: the bearer key, JSON
// content type, the user agent.
func TestRequestHeaders(t *testing.T) {
	f := newFakeWacht(t)
	c := newTestClient(t, f.URL(), Config{UserAgent: "acme-backend/2"})
	if _, err := c.CreateApp(context.Background(), CreateAppRequest{AppSlug: "aa_42", Name: "Acme", KeyPrefix: "acme"}); err != nil {
		t.Fatal(err)
	}
	r := f.last()
	for name, want := range map[string]string{
		"Authorization": "Bearer " + testAPIKey,
		"Content-Type":  "application/json",
		"Accept":        "application/json",
		"User-Agent":    "acme-backend/2",
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
}

// provision creates the app aa_42 on f.
func provision(t *testing.T, c *Client) App {
	t.Helper()
	app, err := c.CreateApp(context.Background(), CreateAppRequest{
		AppSlug: "aa_42", Name: "Acme production", KeyPrefix: "acme", Description: "deployment 42",
		Permissions: []string{"read", "write"},
	})
	if err != nil {
		t.Fatalf("CreateApp: %v", err)
	}
	return app
}

func TestTickets(t *testing.T) {
	f := newFakeWacht(t)
	c := newTestClient(t, f.URL(), Config{})
	provision(t, c)
	ctx := context.Background()

	tests := []struct {
		name     string
		issue    func() (ticket.Response, error)
		wantBody map[string]any
	}{
		{
			name: "CreateTicket sends type, slug, seconds and user",
			issue: func() (ticket.Response, error) {
				return c.CreateTicket(ctx, TicketRequest{AppSlug: "aa_42", ExpiresIn: 90 * time.Second, UserID: "alice"})
			},
			wantBody: map[string]any{"ticket_type": "api_auth_access", "api_auth_app_slug": "aa_42", "expires_in": 90.0, "user_id": "alice"},
		},
		{
			name: "CreateTicket rounds a partial second up and omits an empty user",
			issue: func() (ticket.Response, error) {
				return c.CreateTicket(ctx, TicketRequest{AppSlug: "aa_42", ExpiresIn: 1500 * time.Millisecond})
			},
			wantBody: map[string]any{"ticket_type": "api_auth_access", "api_auth_app_slug": "aa_42", "expires_in": 2.0},
		},
		{
			name: "CreateTicket without ExpiresIn leaves it to the server",
			issue: func() (ticket.Response, error) {
				return c.CreateTicket(ctx, TicketRequest{AppSlug: "aa_42"})
			},
			wantBody: map[string]any{"ticket_type": "api_auth_access", "api_auth_app_slug": "aa_42"},
		},
		{
			name: "Issue maps the ticket request",
			issue: func() (ticket.Response, error) {
				return c.Issue(ctx, ticket.Request{AppSlug: "aa_42", Subject: "bob", Tenant: "acme", Resource: "42", TTL: 2 * time.Minute})
			},
			wantBody: map[string]any{"ticket_type": "api_auth_access", "api_auth_app_slug": "aa_42", "expires_in": 120.0, "user_id": "bob"},
		},
		{
			name: "Issue sends the embedder origin (keyportal's extension, which Wacht ignores)",
			issue: func() (ticket.Response, error) {
				return c.Issue(ctx, ticket.Request{AppSlug: "aa_42", Subject: "bob", EmbedderOrigin: "https://b.acme.test"})
			},
			wantBody: map[string]any{"ticket_type": "api_auth_access", "api_auth_app_slug": "aa_42", "expires_in": 120.0, "user_id": "bob", "embedder_origin": "https://b.acme.test"},
		},
		{
			name: "Issue without TTL asks for the default, not Wacht's 12 hours",
			issue: func() (ticket.Response, error) {
				return c.Issue(ctx, ticket.Request{AppSlug: "aa_42", Subject: "bob"})
			},
			wantBody: map[string]any{"ticket_type": "api_auth_access", "api_auth_app_slug": "aa_42", "expires_in": 120.0, "user_id": "bob"},
		},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tt.issue()
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			r := f.last()
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatal(err)
			}
			if r.Method != http.MethodPost || r.Path != "/session/tickets" {
				t.Errorf("request = %s %s", r.Method, r.Path)
			}
			if !jsonEqual(body, tt.wantBody) {
				t.Errorf("body = %v, want %v", body, tt.wantBody)
			}
			want := fakeNow.Unix() + 43200
			if secs, set := body["expires_in"].(float64); set {
				want = fakeNow.Unix() + int64(secs)
			}
			if resp.Ticket == "" || seen[resp.Ticket] || resp.ExpiresAt != want ||
				resp.URL != "https://backend.example.wacht.services/vanity/api-auth?ticket="+resp.Ticket {
				t.Errorf("response = %+v (expires_at want %d)", resp, want)
			}
			seen[resp.Ticket] = true
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestAppsLifecycle(t *testing.T) {
	f := newFakeWacht(t)
	c := newTestClient(t, f.URL(), Config{})
	ctx := context.Background()

	app := provision(t, c)
	if app.AppSlug != "aa_42" || app.Name != "Acme production" || app.KeyPrefix != "acme" || !app.IsActive ||
		!app.CreatedAt.Equal(fakeNow) || !app.DeletedAt.IsZero() || len(app.Permissions) != 2 {
		t.Fatalf("CreateApp = %+v", app)
	}
	// keyportal's extension fields, unset, are not sent: Wacht sees only
	// its own fields.
	var created map[string]any
	_ = json.Unmarshal(f.last().Body, &created)
	if !jsonEqual(created, map[string]any{"app_slug": "aa_42", "description": "deployment 42", "key_prefix": "acme",
		"name": "Acme production", "permissions": []string{"read", "write"}}) {
		t.Errorf("POST body = %v, want only the set fields", created)
	}
	if _, err := c.CreateApp(ctx, CreateAppRequest{AppSlug: "aa_42", Name: "again", KeyPrefix: "acme"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("CreateApp twice = %v, want ErrConflict", err)
	}
	if _, err := c.CreateApp(ctx, CreateAppRequest{AppSlug: "aa_43", Name: "Staging", KeyPrefix: "stg"}); err != nil {
		t.Fatal(err)
	}

	got, err := c.GetApp(ctx, "aa_42")
	if err != nil || got.AppSlug != "aa_42" || got.Description != "deployment 42" {
		t.Fatalf("GetApp = %+v, %v", got, err)
	}

	name, off := "Acme prod", false
	upd, err := c.UpdateApp(ctx, "aa_43", UpdateAppRequest{Name: &name, IsActive: &off})
	if err != nil || upd.Name != "Acme prod" || upd.IsActive || !upd.UpdatedAt.After(upd.CreatedAt) {
		t.Fatalf("UpdateApp = %+v, %v", upd, err)
	}
	var sent map[string]any
	_ = json.Unmarshal(f.last().Body, &sent)
	if !jsonEqual(sent, map[string]any{"name": "Acme prod", "is_active": false}) {
		t.Errorf("PATCH body = %v, want only the set fields", sent)
	}
	if f.last().Method != http.MethodPatch {
		t.Errorf("UpdateApp method = %s", f.last().Method)
	}

	list := func(all bool) []string {
		apps, err := c.ListApps(ctx, all)
		if err != nil {
			t.Fatalf("ListApps(%v): %v", all, err)
		}
		var slugs []string
		for _, a := range apps {
			slugs = append(slugs, a.AppSlug)
		}
		return slugs
	}
	if got := list(false); !jsonEqual(got, []string{"aa_42"}) {
		t.Errorf("ListApps(active) = %v", got)
	}
	if got := list(true); !jsonEqual(got, []string{"aa_42", "aa_43"}) || f.last().RawQuery != "include_inactive=true" {
		t.Errorf("ListApps(all) = %v, query %q", got, f.last().RawQuery)
	}

	if err := c.DeleteApp(ctx, "aa_42"); err != nil {
		t.Fatal(err)
	}
	if f.last().Method != http.MethodDelete || f.last().Path != "/api-auth/apps/aa_42" {
		t.Errorf("DeleteApp sent %s %s", f.last().Method, f.last().Path)
	}
	if _, err := c.GetApp(ctx, "aa_42"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetApp after delete = %v, want ErrNotFound", err)
	}
}

func TestKeysLifecycle(t *testing.T) {
	for _, shape := range []string{"flat", "nested", "both"} {
		t.Run(shape, func(t *testing.T) {
			f := newFakeWacht(t)
			f.keyShape = shape
			c := newTestClient(t, f.URL(), Config{})
			ctx := context.Background()
			provision(t, c)

			exp := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
			key, secret, err := c.CreateKey(ctx, "aa_42", CreateKeyRequest{
				Name: "ci", Permissions: []string{"read"}, Metadata: map[string]any{"team": "infra"}, ExpiresAt: exp,
			})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(secret, "acme_") || len(secret) != len("acme_")+43 {
				t.Errorf("secret has the wrong format (len %d)", len(secret))
			}
			if key.ID == "" || key.Name != "ci" || key.AppSlug != "aa_42" || key.KeySuffix != secret[len(secret)-8:] ||
				!key.ExpiresAt.Equal(exp) || !key.IsActive || key.Metadata["team"] != "infra" {
				t.Errorf("CreateKey = %+v", key)
			}
			var sent map[string]any
			_ = json.Unmarshal(f.last().Body, &sent)
			if sent["expires_at"] != "2027-01-02T03:04:05Z" {
				t.Errorf("expires_at sent as %v", sent["expires_at"])
			}

			newKey, newSecret, err := c.RotateKey(ctx, "aa_42", key.ID, RotateKeyRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if newKey.ID == key.ID || newSecret == secret || newKey.Name != "ci" || !newKey.IsActive {
				t.Errorf("RotateKey = %+v", newKey)
			}
			if p := f.last().Path; p != "/api-auth/apps/aa_42/keys/"+key.ID+"/rotate" {
				t.Errorf("RotateKey path = %s", p)
			}
			if b := f.last().Body; len(b) != 0 {
				t.Errorf("RotateKey without a grace period sent %s, want no body (as Wacht's clients)", b)
			}

			keys, err := c.ListKeys(ctx, "aa_42", false)
			if err != nil || len(keys) != 1 || keys[0].ID != newKey.ID {
				t.Fatalf("ListKeys(active) = %+v, %v", keys, err)
			}
			all, err := c.ListKeys(ctx, "aa_42", true)
			if err != nil || len(all) != 2 || all[0].IsActive || all[0].RevokedReason != "Rotated" || all[0].RevokedAt.IsZero() {
				t.Fatalf("ListKeys(all) = %+v, %v", all, err)
			}

			if err := c.RevokeKey(ctx, "aa_42", newKey.ID, "leaked in CI log"); err != nil {
				t.Fatal(err)
			}
			_ = json.Unmarshal(f.last().Body, &sent)
			if sent["reason"] != "leaked in CI log" {
				t.Errorf("revoke body = %v", sent)
			}
			if err := c.RevokeKey(ctx, "aa_42", newKey.ID, "again"); !errors.Is(err, ErrNotFound) {
				t.Errorf("RevokeKey twice = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestCheckAndAudit(t *testing.T) {
	f := newFakeWacht(t)
	c := newTestClient(t, f.URL(), Config{})
	ctx := context.Background()
	provision(t, c)
	key, secret, err := c.CreateKey(ctx, "aa_42", CreateKeyRequest{Name: "ci", Permissions: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		req        CheckRequest
		allowed    bool
		reason     string
		noIdentity bool
		wantErrIs  error
	}{
		{name: "valid key", req: CheckRequest{Principal: Principal{Value: secret}, Resource: "/v1/whoami", Method: "GET", ClientIP: "203.0.113.7", UserAgent: "curl/8"}, allowed: true},
		{name: "held permission", req: CheckRequest{Principal: Principal{Value: secret}, Resource: "/v1/things", Method: "GET", RequiredPermissions: []string{"read"}}, allowed: true},
		{name: "missing permission", req: CheckRequest{Principal: Principal{Value: secret}, Resource: "/v1/things", Method: "POST", RequiredPermissions: []string{"write"}}, reason: ReasonPermissionDenied},
		{name: "unknown key", req: CheckRequest{Principal: Principal{Value: "acme_nope"}, Resource: "/", Method: "GET"}, reason: ReasonInvalidKey, noIdentity: true},
		{name: "empty principal", req: CheckRequest{Resource: "/", Method: "GET"}, wantErrIs: ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Check(ctx, tt.req)
			if tt.wantErrIs != nil {
				if !errors.Is(err, tt.wantErrIs) {
					t.Fatalf("Check = %+v, %v; want %v", resp, err, tt.wantErrIs)
				}
				if tt.req.Principal.Value != "" && strings.Contains(err.Error(), tt.req.Principal.Value) {
					t.Errorf("error %q quotes the checked secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.noIdentity {
				if resp.Allowed || resp.Reason != tt.reason || resp.Identity != nil || resp.RequestID == "" {
					t.Errorf("Check = %+v", resp)
				}
				return
			}
			if resp.Allowed != tt.allowed || resp.Reason != tt.reason || resp.Identity == nil ||
				resp.Identity.KeyID != key.ID || resp.Identity.AppSlug != "aa_42" || resp.RequestID == "" ||
				len(resp.RateLimits) != 1 || resp.Headers["X-RateLimit-Remaining"] != "59" {
				t.Errorf("Check = %+v", resp)
			}
			var sent map[string]any
			_ = json.Unmarshal(f.last().Body, &sent)
			if p, _ := sent["principal"].(map[string]any); p["type"] != "api_key" || p["value"] != secret {
				t.Errorf("principal sent as %v", sent["principal"])
			}
		})
	}

	// Three checks were recorded: two allowed, one blocked.
	page, err := c.AuditLogs(ctx, "aa_42", AuditQuery{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Logs) != 2 || !page.HasMore || page.NextCursor == "" || page.Logs[0].Outcome != OutcomeBlocked ||
		page.Logs[0].KeyID != key.ID || page.Logs[0].Timestamp.IsZero() || page.Limit != 2 {
		t.Fatalf("AuditLogs page 1 = %+v", page)
	}
	page2, err := c.AuditLogs(ctx, "aa_42", AuditQuery{Limit: 2, Cursor: page.NextCursor})
	if err != nil || len(page2.Logs) != 1 || page2.HasMore || page2.NextCursor != "" || page2.Logs[0].Path != "/v1/whoami" ||
		page2.Logs[0].ClientIP != "203.0.113.7" {
		t.Fatalf("AuditLogs page 2 = %+v, %v", page2, err)
	}
	blocked, err := c.AuditLogs(ctx, "aa_42", AuditQuery{
		Outcome: OutcomeBlocked, KeyID: key.ID, Start: fakeNow.Add(-time.Hour), End: fakeNow.Add(time.Hour),
	})
	if err != nil || len(blocked.Logs) != 1 || blocked.Logs[0].Outcome != OutcomeBlocked {
		t.Fatalf("AuditLogs(blocked) = %+v, %v", blocked, err)
	}
	wantQuery := "end_date=2026-11-26T13%3A00%3A00Z&key_id=" + key.ID + "&outcome=blocked&start_date=2026-11-26T11%3A00%3A00Z"
	if q := f.last().RawQuery; q != wantQuery {
		t.Errorf("audit query = %q, want %q", q, wantQuery)
	}
}

// TestPathEscaping proves slugs and ids cannot name another endpoint.
func TestPathEscaping(t *testing.T) {
	f := newFakeWacht(t)
	c := newTestClient(t, f.URL(), Config{})
	ctx := context.Background()

	if _, err := c.GetApp(ctx, "aa_42/keys"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetApp(aa_42/keys) = %v, want ErrNotFound", err)
	}
	if r := f.last(); r.RawPath != "/api-auth/apps/aa_42%2Fkeys" {
		t.Errorf("escaped path = %q", r.RawPath)
	}
	if err := c.RevokeKey(ctx, "aa 42", "1?x=y#z", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("RevokeKey = %v, want ErrNotFound", err)
	}
	if r := f.last(); r.Path != "/api-auth/apps/aa 42/keys/1?x=y#z/revoke" || r.RawQuery != "" {
		t.Errorf("path = %q query %q", r.Path, r.RawQuery)
	}

	before := f.hits()
	for name, call := range map[string]func() error{
		"empty slug":  func() error { _, err := c.GetApp(ctx, ""); return err },
		"dot slug":    func() error { return c.DeleteApp(ctx, ".") },
		"dotdot slug": func() error { _, err := c.ListKeys(ctx, "..", false); return err },
		"dotdot id":   func() error { _, _, err := c.RotateKey(ctx, "aa_42", "..", RotateKeyRequest{}); return err },
		"empty id":    func() error { return c.RevokeKey(ctx, "aa_42", "", "") },
	} {
		if err := call(); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: err = %v, want ErrBadRequest", name, err)
		}
	}
	if f.hits() != before {
		t.Errorf("invalid path segments reached the server (%d requests)", f.hits()-before)
	}
}

// TestRotateKeyGracePeriod: a grace period is sent as keyportal's
// grace_period_seconds.
func TestRotateKeyGracePeriod(t *testing.T) {
	f := newFakeWacht(t)
	c := newTestClient(t, f.URL(), Config{})
	ctx := context.Background()
	provision(t, c)
	key, _, err := c.CreateKey(ctx, "aa_42", CreateKeyRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.RotateKey(ctx, "aa_42", key.ID, RotateKeyRequest{GracePeriod: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if b := string(f.last().Body); b != `{"grace_period_seconds":7200}` {
		t.Errorf("RotateKey with a 2h grace period sent %s, want {\"grace_period_seconds\":7200}", b)
	}
}

// TestInputValidation: requests that cannot succeed are refused before
// anything is sent.
func TestInputValidation(t *testing.T) {
	f := newFakeWacht(t)
	c := newTestClient(t, f.URL(), Config{})
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
	}{
		{"ticket without slug", func() error { _, err := c.CreateTicket(ctx, TicketRequest{}); return err }},
		{"ticket with negative ttl", func() error {
			_, err := c.CreateTicket(ctx, TicketRequest{AppSlug: "a", ExpiresIn: -time.Second})
			return err
		}},
		{"app without slug", func() error { _, err := c.CreateApp(ctx, CreateAppRequest{Name: "n", KeyPrefix: "p"}); return err }},
		{"app without name", func() error { _, err := c.CreateApp(ctx, CreateAppRequest{AppSlug: "s", KeyPrefix: "p"}); return err }},
		{"app without prefix", func() error { _, err := c.CreateApp(ctx, CreateAppRequest{AppSlug: "s", Name: "n"}); return err }},
		{"key without name", func() error { _, _, err := c.CreateKey(ctx, "s", CreateKeyRequest{}); return err }},
		{"rotate with negative grace", func() error {
			_, _, err := c.RotateKey(ctx, "s", "k", RotateKeyRequest{GracePeriod: -time.Second})
			return err
		}},
		{"rotate with fractional grace", func() error {
			_, _, err := c.RotateKey(ctx, "s", "k", RotateKeyRequest{GracePeriod: 1500 * time.Millisecond})
			return err
		}},
		{"audit limit too large", func() error { _, err := c.AuditLogs(ctx, "s", AuditQuery{Limit: 1001}); return err }},
		{"audit end before start", func() error {
			_, err := c.AuditLogs(ctx, "s", AuditQuery{Start: fakeNow, End: fakeNow.Add(-time.Second)})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, ErrBadRequest) || !strings.HasPrefix(err.Error(), "wacht: ") {
				t.Fatalf("err = %v, want ErrBadRequest", err)
			}
		})
	}
	if n := f.hits(); n != 0 {
		t.Errorf("%d invalid requests reached the server", n)
	}
	// The Issuer maps a missing slug to a rejection, not an upstream failure.
	if _, err := c.Issue(ctx, ticket.Request{Subject: "alice"}); !errors.Is(err, ticket.ErrRejected) {
		t.Errorf("Issue without slug = %v, want ticket.ErrRejected", err)
	}
}
