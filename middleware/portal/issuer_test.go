package portal

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ticket"
)

const (
	originA = "https://app.acme.test"
	originB = "https://globex.test:8443"
)

func TestIssuerChecksAppTenantAndOrigin(t *testing.T) {
	e := newAcmeEnv(t)
	e.app("aa_77", "globex", originB)
	e.app("aa_43", "acme", originA)
	off := false
	if _, err := e.store.UpdateApp(context.Background(), "aa_43", keystore.AppPatch{IsActive: &off}, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	e.app("aa_66", "acme", originA)
	if err := e.store.DeleteApp(context.Background(), "aa_66", keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}

	ok := ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", Resource: "42", EmbedderOrigin: originA}
	with := func(f func(*ticket.Request)) ticket.Request { r := ok; f(&r); return r }
	tests := []struct {
		name    string
		req     ticket.Request
		wantErr error
	}{
		{"owner's app from an allowed origin", ok, nil},
		{"origin spelled differently but the same", with(func(r *ticket.Request) { r.EmbedderOrigin = "HTTPS://App.Acme.test:443" }), nil},
		{"tenant that does not own the app", with(func(r *ticket.Request) { r.Tenant = "globex" }), ticket.ErrRejected},
		{"app of another tenant", with(func(r *ticket.Request) { r.AppSlug = "aa_77" }), ticket.ErrRejected},
		{"unknown app", with(func(r *ticket.Request) { r.AppSlug = "aa_404" }), ticket.ErrRejected},
		{"disabled app", with(func(r *ticket.Request) { r.AppSlug = "aa_43" }), ticket.ErrRejected},
		{"deleted app", with(func(r *ticket.Request) { r.AppSlug = "aa_66" }), ticket.ErrRejected},
		{"origin not allowed for the app", with(func(r *ticket.Request) { r.EmbedderOrigin = originB }), ticket.ErrRejected},
		{"origin with a path", with(func(r *ticket.Request) { r.EmbedderOrigin = originA + "/settings" }), ticket.ErrRejected},
		{"no origin", with(func(r *ticket.Request) { r.EmbedderOrigin = "" }), ticket.ErrRejected},
		{"no subject", with(func(r *ticket.Request) { r.Subject = "" }), ticket.ErrRejected},
		{"no tenant", with(func(r *ticket.Request) { r.Tenant = "" }), ticket.ErrRejected},
		// A ticket longer than the exchange opens (maxSealedLen) would be
		// refused there as forged: it is refused here, with the reason.
		{"long subject that fits", with(func(r *ticket.Request) { r.Subject = strings.Repeat("u", 1000) }), nil},
		{"subject too long for a ticket", with(func(r *ticket.Request) { r.Subject = strings.Repeat("u", 1600) }), ticket.ErrRejected},
		{"resource too long for a ticket", with(func(r *ticket.Request) { r.Resource = strings.Repeat("4", 1600) }), ticket.ErrRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.portal.Issuer().Issue(context.Background(), tc.req)
			remember(res.Ticket)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Issue = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				if res.Ticket != "" {
					t.Fatal("a refused request got a ticket")
				}
				return
			}
			if !strings.HasPrefix(res.URL, e.srv.URL+"/vanity/api-auth?ticket=") {
				t.Fatalf("URL %q", res.URL)
			}
			u, _ := url.Parse(res.URL)
			if u.Query().Get("ticket") != res.Ticket {
				t.Fatal("the URL does not carry the ticket")
			}
		})
	}
}

func TestIssuerTTL(t *testing.T) {
	e := newAcmeEnv(t)
	now := e.clock.Now()
	for _, tc := range []struct {
		name string
		ttl  time.Duration
		want time.Duration
	}{
		{"default", 0, ticket.DefaultTTL},
		{"asked", 90 * time.Second, 90 * time.Second},
		{"clamped", 12 * time.Hour, ticket.MaxTTL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA, TTL: tc.ttl})
			if got := time.Unix(res.ExpiresAt, 0).Sub(now); got != tc.want {
				t.Fatalf("expires in %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTicketsAreUnguessableAndBound(t *testing.T) {
	e := newAcmeEnv(t)
	req := ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", Resource: "42", EmbedderOrigin: originA}
	a, b := e.issue(req), e.issue(req)
	if a.Ticket == b.Ticket {
		t.Fatal("two tickets for one request are equal")
	}
	ca, err := e.portal.tickets.open(context.Background(), a.Ticket)
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := b64.DecodeString(ca.ID); len(raw) < 16 {
		t.Fatalf("ticket id has %d random bytes, want ≥ 16", len(raw))
	}
	want := claims{ID: ca.ID, App: "aa_42", Tenant: "acme", User: "alice", Origin: originA, Resource: "42", Exp: a.ExpiresAt}
	if ca != want {
		t.Fatalf("claims %+v, want %+v", ca, want)
	}
	// The claims are sealed, not merely encoded: nothing of them shows.
	for _, s := range []string{"alice", "acme", "aa_42", "app.acme"} {
		if strings.Contains(a.Ticket, s) {
			t.Fatalf("ticket shows %q in clear", s)
		}
	}
	// A session token is sealed under another key: it does not open as a ticket.
	sess := e.session("aa_42", "acme", "alice", originA)
	if _, err := e.portal.tickets.open(context.Background(), sess); !errors.Is(err, errUnopenable) {
		t.Fatalf("a session token opened as a ticket: %v", err)
	}
	if _, err := e.portal.sessions.open(context.Background(), a.Ticket); !errors.Is(err, errUnopenable) {
		t.Fatalf("a ticket opened as a session token: %v", err)
	}
}

func TestTwoPortalsOnOneStoreAgree(t *testing.T) {
	e := newAcmeEnv(t)
	other, err := New(Config{Store: e.store, BaseURL: "http://localhost:8081", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	res, err := other.Issuer().Issue(context.Background(), ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA})
	if err != nil {
		t.Fatal(err)
	}
	remember(res.Ticket)
	if code, _, bad := e.exchangeTicket(res.Ticket, ""); code != 200 {
		t.Fatalf("a ticket of another instance was refused: %d %+v", code, bad)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no store", Config{BaseURL: "http://localhost:8081"}, "Store is required"},
		{"no base URL", Config{Store: e.store}, "BaseURL is required"},
		{"relative base URL", Config{Store: e.store, BaseURL: "/portal"}, "absolute http or https"},
		{"other scheme", Config{Store: e.store, BaseURL: "ftp://x"}, "absolute http or https"},
		{"query", Config{Store: e.store, BaseURL: "http://x/?a=1"}, "query"},
		{"negative TTL", Config{Store: e.store, BaseURL: "http://x", SessionTTL: -time.Second}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.HasPrefix(err.Error(), "portal: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want a portal: error about %q", err, tc.want)
			}
		})
	}
	p, err := New(Config{Store: e.store, BaseURL: "https://Keys.Example.com/portal/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.TicketURL("kpt1.x+y"); got != "https://keys.example.com/portal/vanity/api-auth?ticket=kpt1.x%2By" {
		t.Fatalf("TicketURL = %q", got)
	}
}

// The issuer caches apps; a change must reach it before the change returns.
func TestIssuerSeesAppChangesAtOnce(t *testing.T) {
	e := newAcmeEnv(t)
	req := ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA}
	e.issue(req) // cached now
	ctx := context.Background()
	by := keystore.Actor{Name: "test"}

	only := []string{originB}
	if _, err := e.store.UpdateApp(ctx, "aa_42", keystore.AppPatch{AllowedOrigins: &only}, by); err != nil {
		t.Fatal(err)
	}
	if _, err := e.portal.Issuer().Issue(ctx, req); !errors.Is(err, ticket.ErrRejected) {
		t.Fatalf("after the origin was withdrawn: %v", err)
	}
	req.EmbedderOrigin = originB
	e.issue(req)

	off := false
	if _, err := e.store.UpdateApp(ctx, "aa_42", keystore.AppPatch{IsActive: &off}, by); err != nil {
		t.Fatal(err)
	}
	if _, err := e.portal.Issuer().Issue(ctx, req); !errors.Is(err, ticket.ErrRejected) {
		t.Fatalf("after the app was disabled: %v", err)
	}
}
