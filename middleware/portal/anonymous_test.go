package portal

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// TestForgedExchangeFloodLeavesNoAuditRows: forged and expired tickets,
// which anyone can send, are counted in keyportal_exchange_refusals_total
// instead of stored; an exchange by a real ticket's user is still recorded
// (issue 14 §1).
func TestForgedExchangeFloodLeavesNoAuditRows(t *testing.T) {
	e := newAcmeEnv(t)
	alice := ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA}
	expired := e.issue(alice).Ticket
	e.clock.Advance(time.Hour)
	rows := func() int {
		page, err := e.store.QueryAudit(context.Background(), audit.Query{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Events)
	}
	before := rows()

	const n = 2500
	for i := range n {
		tk := expired
		if i%2 == 0 {
			tk = flip(expired, 10+i%40)
		}
		if code, _, bad := e.exchangeTicket(tk, ""); code != http.StatusUnauthorized {
			t.Fatalf("exchange %d: %d %+v, want 401", i, code, bad)
		}
	}
	if added := rows() - before; added != 0 {
		t.Fatalf("%d forged or expired exchanges added %d audit rows, want 0", n, added)
	}
	if got := e.refusals(RejectForged) + e.refusals(RejectExpired); got != n {
		t.Fatalf("keyportal_exchange_refusals_total counted %v, want %d", got, n)
	}

	e.session("aa_42", "acme", "alice", originA)
	if got := len(e.events(audit.ActionTicketExchanged)); got != 1 {
		t.Fatalf("%d ticket.exchanged events after a real exchange, want 1", got)
	}
}

// TestAnonymousRefusalsLogTheConnectionsAddress: on an engine that trusts
// every address (gin's default), X-Forwarded-For is anyone's to write, so
// the refusal log names the connection's address and throttles by it: a
// client that writes a new address into every request neither chooses the
// client_ip logged nor gets past its few lines (docs/design.md
// "Invariants": a client cannot choose its IP).
func TestAnonymousRefusalsLogTheConnectionsAddress(t *testing.T) {
	e := newAcmeEnv(t)
	forged := flip(e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA}).Ticket, 12)
	before := len(suiteLog.String())
	for i := range 20 {
		req, err := http.NewRequest("POST", e.srv.URL+PagePath+"/exchange", strings.NewReader(`{"ticket":"`+forged+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i+1))
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("forged exchange %d: %d, want 401", i, res.StatusCode)
		}
	}
	var lines []string
	for _, l := range strings.Split(suiteLog.String()[before:], "\n") {
		if strings.Contains(l, `"test":"`+t.Name()+`"`) && strings.Contains(l, `"ticket.refused"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 || len(lines) > 5 {
		t.Fatalf("%d refusal lines for 20 forged exchanges from one connection, want 1 to 5 (the per-IP burst):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if !strings.Contains(l, `"client_ip":"127.0.0.1"`) {
			t.Fatalf("refusal line names an address the client wrote, want the connection's 127.0.0.1:\n%s", l)
		}
	}
}
