package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/httpserver/httpservertest"
	"github.com/keyportal/keyportal/middleware/audit"
)

// TestSlowClientsAreCutOff attacks both of the demo's servers as a
// slowloris would (issue 14 §3): headers or a body trickled in, an idle
// keep-alive connection, an oversized header. With short limits injected,
// each connection is closed well within the bound.
func TestSlowClientsAreCutOff(t *testing.T) {
	d := runDemo(t, options{
		BackendAPIKey: "kp_backend_test_0123456789",
		Logger:        zerolog.Nop(),
		SkipShell:     true,
		ServerLimits:  httpservertest.Short,
	}, nil)
	t.Run("app", func(t *testing.T) {
		httpservertest.Attack(t, d.app.Listener.Addr().String(), "/login", "/api/settings/api-keys/embed-ticket")
	})
	t.Run("portal", func(t *testing.T) {
		httpservertest.Attack(t, d.portal.Listener.Addr().String(), "/vanity/api-auth", "/vanity/api-auth/exchange")
	})
}

// TestForwardedForIsBelievedFromTrustedProxiesOnly spoofs X-Forwarded-For
// on the ticket route and the portal's exchange (issue 14 §2). By default
// the demo trusts no proxy, so the audit trail records the connection's
// address; with -trusted-proxies naming the proxy (here the test client at
// 127.0.0.1), it records the address the proxy forwarded.
func TestForwardedForIsBelievedFromTrustedProxiesOnly(t *testing.T) {
	const claimed = "198.51.100.23"
	for _, tt := range []struct {
		name    string
		proxies []string
		want    string
	}{
		{"no proxy trusted", nil, "127.0.0.1"},
		{"the client is a trusted proxy", []string{"127.0.0.1"}, claimed},
		{"another proxy is trusted", []string{"10.0.0.0/8"}, "127.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := runDemo(t, options{Logger: zerolog.Nop(), SkipShell: true, TrustedProxies: tt.proxies}, nil)
			alice := d.signIn("alice")
			req, _ := http.NewRequest("POST", d.app.URL+"/api/settings/api-keys/embed-ticket", strings.NewReader(`{"deploymentId":"42"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", d.app.URL)
			req.Header.Set("X-Forwarded-For", claimed)
			res := do(t, alice.client, req)
			tk := decode(t, res)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("ticket: %d %v", res.StatusCode, tk)
			}
			req, _ = http.NewRequest("POST", d.portal.URL+"/vanity/api-auth/exchange", strings.NewReader(`{"ticket":"`+tk["ticket"].(string)+`"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", claimed)
			if res := do(t, http.DefaultClient, req); res.StatusCode != http.StatusOK {
				t.Fatalf("exchange: %d %v", res.StatusCode, decode(t, res))
			}
			page, err := d.acme.store.QueryAudit(context.Background(), audit.Query{Tenant: "acme"})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]string{}
			for _, ev := range page.Events {
				seen[ev.Action] = ev.ClientIP
			}
			for _, action := range []string{audit.ActionTicketIssue, audit.ActionTicketExchanged} {
				if got, ok := seen[action]; !ok || got != tt.want {
					t.Errorf("%s audited with client_ip %q (recorded: %v), want %q", action, got, ok, tt.want)
				}
			}
		})
	}
}
