package portal

import (
	"context"
	"net/http"
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
