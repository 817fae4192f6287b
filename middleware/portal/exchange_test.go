package portal

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ticket"
)

func TestFiftyParallelExchangesOpenOneSession(t *testing.T) {
	e := newAcmeEnv(t)
	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA})

	const n = 50
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		sessions []string
		codes    = map[int]int{}
		reasons  = map[string]int{}
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			code, ok, bad := e.exchangeTicket(tk.Ticket, "")
			mu.Lock()
			defer mu.Unlock()
			codes[code]++
			if code == http.StatusOK {
				sessions = append(sessions, ok.Session)
			} else {
				reasons[bad.Error.Code]++
			}
		})
	}
	close(start)
	wg.Wait()

	if len(sessions) != 1 || codes[http.StatusConflict] != n-1 || reasons[ticket.ReasonTicketUsed] != n-1 {
		t.Fatalf("%d sessions, statuses %v, codes %v; want 1 session and %d ticket_used", len(sessions), codes, reasons, n-1)
	}
	if got := len(e.events(audit.ActionTicketExchanged)); got != 1 {
		t.Fatalf("%d ticket.exchanged events, want 1", got)
	}
	used := 0
	for _, ev := range e.events(audit.ActionTicketRejected) {
		if ev.Reason == RejectUsed && ev.TicketFingerprint == ticket.Fingerprint(tk.Ticket) && ev.Actor == "alice" && ev.Tenant == "acme" {
			used++
		}
	}
	if used != n-1 {
		t.Fatalf("%d ticket.rejected/used events, want %d", used, n-1)
	}
	// The one session works.
	var list struct{ Keys []keyView }
	if res := e.do("GET", PagePath+"/api/keys", sessions[0], "", "", &list); res.StatusCode != 200 {
		t.Fatalf("the winning session got %d", res.StatusCode)
	}
}

// flip changes the character at i to another valid base64url character.
func flip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestExchangeRefusesBadTickets(t *testing.T) {
	e := newAcmeEnv(t)
	e.app("aa_43", "acme", originA)
	e.app("aa_44", "acme", originA)
	e.app("aa_46", "acme", originA, originB)
	alice := ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA}

	tests := []struct {
		name string
		// setup returns the ticket and the previous session to send.
		setup      func(t *testing.T) (tk, previous string)
		wantStatus int
		wantCode   string
		wantReason string
	}{
		{
			name: "expired",
			setup: func(t *testing.T) (string, string) {
				tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA, TTL: time.Minute})
				e.clock.Advance(time.Minute)
				return tk.Ticket, ""
			},
			wantStatus: 401, wantCode: ticket.ReasonTicketExpired, wantReason: RejectExpired,
		},
		{
			name:       "forged: one byte changed in the middle",
			setup:      func(t *testing.T) (string, string) { tk := e.issue(alice).Ticket; return flip(tk, len(tk)/2), "" },
			wantStatus: 401, wantCode: ticket.ReasonTicketInvalid, wantReason: RejectForged,
		},
		{
			name:       "forged: last character changed",
			setup:      func(t *testing.T) (string, string) { tk := e.issue(alice).Ticket; return flip(tk, len(tk)-1), "" },
			wantStatus: 401, wantCode: ticket.ReasonTicketInvalid, wantReason: RejectForged,
		},
		{
			name: "forged: first sealed byte changed",
			setup: func(t *testing.T) (string, string) {
				tk := e.issue(alice).Ticket
				return flip(tk, len(ticketPrefix)), ""
			},
			wantStatus: 401, wantCode: ticket.ReasonTicketInvalid, wantReason: RejectForged,
		},
		{
			name: "forged: made up",
			setup: func(t *testing.T) (string, string) {
				return "kpt1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ""
			},
			wantStatus: 401, wantCode: ticket.ReasonTicketInvalid, wantReason: RejectForged,
		},
		{
			name: "wrong app: renewal of a session of another app",
			setup: func(t *testing.T) (string, string) {
				prev := e.session("aa_43", "acme", "alice", originA)
				return e.issue(alice).Ticket, prev
			},
			wantStatus: 401, wantCode: ticket.ReasonTicketInvalid, wantReason: RejectWrongApp,
		},
		{
			name: "wrong user: renewal of another user's session",
			setup: func(t *testing.T) (string, string) {
				prev := e.session("aa_42", "acme", "bob", originA)
				return e.issue(alice).Ticket, prev
			},
			wantStatus: 401, wantCode: ticket.ReasonTicketInvalid, wantReason: RejectWrongUser,
		},
		{
			name: "wrong app: the app was deleted after issue",
			setup: func(t *testing.T) (string, string) {
				tk := e.issue(ticket.Request{AppSlug: "aa_44", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA})
				if err := e.store.DeleteApp(context.Background(), "aa_44", keystore.Actor{Name: "test"}); err != nil {
					t.Fatal(err)
				}
				return tk.Ticket, ""
			},
			wantStatus: 403, wantCode: ticket.ReasonRevoked, wantReason: RejectAppInactive,
		},
		{
			// Only a holder of the sealing key could make this ticket; the
			// exchange still checks the app's tenant (defence in depth).
			name: "cross tenant: a sealed ticket naming a tenant that does not own the app",
			setup: func(t *testing.T) (string, string) {
				return e.seal(t, e.portal.tickets, e.claims("aa_42", "globex", "frank")), ""
			},
			wantStatus: 401, wantCode: ticket.ReasonTicketInvalid, wantReason: RejectCrossTenant,
		},
		{
			name: "wrong tenant: renewal of a session of another tenant",
			setup: func(t *testing.T) (string, string) {
				prev := e.seal(t, e.portal.sessions, e.claims("aa_42", "globex", "alice"))
				return e.issue(alice).Ticket, prev
			},
			wantStatus: 401, wantCode: ticket.ReasonTicketInvalid, wantReason: RejectWrongTenant,
		},
		{
			// Same app, user and tenant, another allowed origin: continuing
			// the session would move the page's postMessage target.
			name: "wrong origin: renewal of a session bound to another origin",
			setup: func(t *testing.T) (string, string) {
				prev := e.session("aa_46", "acme", "alice", originA)
				tk := e.issue(ticket.Request{AppSlug: "aa_46", Tenant: "acme", Subject: "alice", EmbedderOrigin: originB})
				return tk.Ticket, prev
			},
			wantStatus: 401, wantCode: ticket.ReasonTicketInvalid, wantReason: RejectWrongOrigin,
		},
		{
			name: "forged previous session on renewal",
			setup: func(t *testing.T) (string, string) {
				prev := e.session("aa_42", "acme", "alice", originA)
				return e.issue(alice).Ticket, flip(prev, len(prev)/2)
			},
			wantStatus: 401, wantCode: ticket.ReasonTicketInvalid, wantReason: RejectForged,
		},
		{
			name: "wrong origin: the origin was withdrawn after issue",
			setup: func(t *testing.T) (string, string) {
				e.app("aa_45", "acme", originA, originB)
				tk := e.issue(ticket.Request{AppSlug: "aa_45", Tenant: "acme", Subject: "alice", EmbedderOrigin: originB})
				only := []string{originA}
				if _, err := e.store.UpdateApp(context.Background(), "aa_45", keystore.AppPatch{AllowedOrigins: &only}, keystore.Actor{Name: "test"}); err != nil {
					t.Fatal(err)
				}
				return tk.Ticket, ""
			},
			wantStatus: 401, wantCode: ticket.ReasonTicketInvalid, wantReason: RejectWrongOrigin,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tk, prev := tc.setup(t)
			before := len(e.events(audit.ActionTicketRejected))
			counted := e.refusals(tc.wantReason)
			code, ok, bad := e.exchangeTicket(tk, prev)
			if code != tc.wantStatus || bad.Error.Code != tc.wantCode || ok.Session != "" {
				t.Fatalf("exchange = %d %+v, want %d %s", code, bad, tc.wantStatus, tc.wantCode)
			}
			evs := e.events(audit.ActionTicketRejected)
			if prev == "" && (tc.wantReason == RejectForged || tc.wantReason == RejectExpired) {
				// Anyone can send such a ticket: counted, not audited.
				if len(evs) != before {
					t.Fatalf("%d new ticket.rejected events for an anonymous refusal, want 0", len(evs)-before)
				}
				if got := e.refusals(tc.wantReason); got != counted+1 {
					t.Fatalf("keyportal_exchange_refusals_total{reason=%q} went from %v to %v, want +1", tc.wantReason, counted, got)
				}
				return
			}
			if len(evs) != before+1 {
				t.Fatalf("%d new ticket.rejected events, want 1", len(evs)-before)
			}
			var ev audit.Event
			for _, x := range evs {
				if x.TicketFingerprint == ticket.Fingerprint(tk) {
					ev = x
				}
			}
			if ev.Reason != tc.wantReason || ev.Outcome != audit.OutcomeDenied || ev.TicketFingerprint != ticket.Fingerprint(tk) {
				t.Fatalf("event %+v, want reason %s", ev, tc.wantReason)
			}
		})
	}
}

func TestRenewalInPlace(t *testing.T) {
	e := newEnv(t, envOptions{sessionTTL: time.Minute})
	e.app("aa_42", "acme", originA)
	req := ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA}
	first := e.session("aa_42", "acme", "alice", originA)
	e.clock.Advance(2 * time.Minute)
	if res := e.do("GET", PagePath+"/api/keys", first, "", "", nil); res.StatusCode != 401 {
		t.Fatalf("an expired session got %d", res.StatusCode)
	}
	code, ok, bad := e.exchangeTicket(e.issue(req).Ticket, first)
	if code != 200 {
		t.Fatalf("renewal: %d %+v", code, bad)
	}
	if ok.Origin != originA || ok.User != "alice" || ok.App.Slug != "aa_42" || ok.ExpiresIn != 60 {
		t.Fatalf("renewed session %+v", ok)
	}
	if res := e.do("GET", PagePath+"/api/keys", ok.Session, "", "", nil); res.StatusCode != 200 {
		t.Fatalf("the renewed session got %d", res.StatusCode)
	}
	found := false
	for _, ev := range e.events(audit.ActionSessionExpired) {
		found = found || (ev.Reason == "ttl" && ev.Actor == "alice" && ev.AppSlug == "aa_42")
	}
	if !found {
		t.Fatal("no session.expired event")
	}
}

// TestExchangeTicketExpiry exchanges tickets one second before and exactly
// at their expiry: the first opens a session, the second is refused as
// expired and counted.
func TestExchangeTicketExpiry(t *testing.T) {
	e := newAcmeEnv(t)
	req := ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA, TTL: 30 * time.Second}

	early := e.issue(req)
	e.clock.Advance(29 * time.Second)
	if code, ok, bad := e.exchangeTicket(early.Ticket, ""); code != http.StatusOK || ok.Session == "" {
		t.Fatalf("a second before expiry: %d %+v", code, bad)
	}

	late := e.issue(req)
	e.clock.Advance(30 * time.Second)
	counted := e.refusals(RejectExpired)
	code, ok, bad := e.exchangeTicket(late.Ticket, "")
	if code != http.StatusUnauthorized || bad.Error.Code != ticket.ReasonTicketExpired || ok.Session != "" {
		t.Fatalf("at expiry: %d %+v %+v, want 401 %s", code, bad, ok, ticket.ReasonTicketExpired)
	}
	// A replayable expired ticket is counted, not audited (issue 14 §1).
	if got := e.refusals(RejectExpired); got != counted+1 {
		t.Fatalf("keyportal_exchange_refusals_total{reason=expired} went from %v to %v, want +1", counted, got)
	}
	if evs := e.events(audit.ActionTicketRejected); len(evs) != 0 {
		t.Fatalf("the late ticket left audit events %+v, want none", evs)
	}
}

// TestRenewalIsBoundToItsSession renews a session with a fresh, valid
// ticket for alice at originA on aa_42 of acme. The previous session differs
// from the ticket in one field at a time; only the identical one continues.
func TestRenewalIsBoundToItsSession(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.app("aa_42", "acme", originA, originB)
	e.app("aa_43", "acme", originA)
	tests := []struct {
		name   string
		change func(*claims)
		reason string // "" means renewed
	}{
		{"same app, tenant, user and origin", func(*claims) {}, ""},
		{"session of another user", func(c *claims) { c.User = "bob" }, RejectWrongUser},
		{"session of another tenant", func(c *claims) { c.Tenant = "globex" }, RejectWrongTenant},
		{"session bound to another origin", func(c *claims) { c.Origin = originB }, RejectWrongOrigin},
		{"session of another app", func(c *claims) { c.App = "aa_43" }, RejectWrongApp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prev := e.claims("aa_42", "acme", "alice")
			tc.change(&prev)
			sealed := e.seal(t, e.portal.sessions, prev)
			tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA})

			code, ok, bad := e.exchangeTicket(tk.Ticket, sealed)
			if tc.reason == "" {
				if code != http.StatusOK || ok.User != "alice" || ok.Tenant != "acme" || ok.Origin != originA || ok.App.Slug != "aa_42" {
					t.Fatalf("renewal: %d %+v %+v", code, ok, bad)
				}
				return
			}
			if code != http.StatusUnauthorized || bad.Error.Code != ticket.ReasonTicketInvalid || ok.Session != "" {
				t.Fatalf("renewal: %d %+v, want 401 %s", code, bad, ticket.ReasonTicketInvalid)
			}
			var reasons []string
			for _, ev := range e.events(audit.ActionTicketRejected) {
				if ev.TicketFingerprint == ticket.Fingerprint(tk.Ticket) {
					reasons = append(reasons, ev.Reason)
				}
			}
			if len(reasons) != 1 || reasons[0] != tc.reason {
				t.Fatalf("ticket.rejected reasons %q, want [%s]", reasons, tc.reason)
			}
		})
	}
}

// TestExchangeAfterOriginWithdrawn replaces the app's only origin between
// issue and exchange: the ticket for the withdrawn origin is refused, and a
// ticket for the new origin works.
func TestExchangeAfterOriginWithdrawn(t *testing.T) {
	e := newAcmeEnv(t)
	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA})

	only := []string{originB}
	if _, err := e.store.UpdateApp(context.Background(), "aa_42", keystore.AppPatch{AllowedOrigins: &only}, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	code, ok, bad := e.exchangeTicket(tk.Ticket, "")
	if code != http.StatusUnauthorized || bad.Error.Code != ticket.ReasonTicketInvalid || ok.Session != "" {
		t.Fatalf("ticket for the withdrawn origin: %d %+v, want 401 %s", code, bad, ticket.ReasonTicketInvalid)
	}
	var found bool
	for _, ev := range e.events(audit.ActionTicketRejected) {
		found = found || (ev.Reason == RejectWrongOrigin && ev.TicketFingerprint == ticket.Fingerprint(tk.Ticket))
	}
	if !found {
		t.Fatal("no ticket.rejected/wrong_origin event")
	}

	nb := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originB})
	if code, ok, bad := e.exchangeTicket(nb.Ticket, ""); code != http.StatusOK || ok.Origin != originB {
		t.Fatalf("ticket for the new origin: %d %+v %+v", code, ok, bad)
	}
}

// TestRenewalRecordsThePreviousSessionsEnd: renewing a session that has
// reached its end records session.expired for it (once, reason ttl);
// renewing one a second before its end records nothing.
func TestRenewalRecordsThePreviousSessionsEnd(t *testing.T) {
	e := newEnv(t, envOptions{sessionTTL: time.Minute})
	e.app("aa_42", "acme", originA)
	req := ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA}
	for _, tc := range []struct {
		name  string
		after time.Duration
		want  int // session.expired events the renewal adds
	}{
		{"a second before the end", time.Minute - time.Second, 0},
		{"at the end", time.Minute, 1},
	} {
		prev := e.session("aa_42", "acme", "alice", originA)
		e.clock.Advance(tc.after)
		before := len(e.events(audit.ActionSessionExpired))
		if code, _, bad := e.exchangeTicket(e.issue(req).Ticket, prev); code != http.StatusOK {
			t.Fatalf("%s: renewal %d %+v", tc.name, code, bad)
		}
		evs := e.events(audit.ActionSessionExpired)
		if len(evs)-before != tc.want {
			t.Fatalf("%s: %d session.expired events added, want %d", tc.name, len(evs)-before, tc.want)
		}
		if tc.want == 1 && (evs[0].Reason != "ttl" || evs[0].Actor != "alice" || evs[0].AppSlug != "aa_42") {
			t.Fatalf("%s: event %+v", tc.name, evs[0])
		}
	}
}
