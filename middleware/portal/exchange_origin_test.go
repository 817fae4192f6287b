package portal

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// TestExchangeRefusesAForeignOrigin is the attack of issue 14 §7: another
// site's page POSTs a ticket to the exchange. Any Origin other than the
// portal's own is refused with 403 and a ticket.rejected event, and the
// ticket stays unspent for the portal's page. No Origin (a client that is
// not a browser) and the portal's own origin are served.
func TestExchangeRefusesAForeignOrigin(t *testing.T) {
	e := newAcmeEnv(t)
	own := e.srv.URL // BaseURL: the portal's origin
	exchange := func(tk string, origins ...string) (int, errBody) {
		t.Helper()
		body, _ := json.Marshal(exchangeRequest{Ticket: tk})
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+PagePath+"/exchange", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		for _, o := range origins {
			req.Header.Add("Origin", o)
		}
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var bad errBody
		if res.StatusCode != http.StatusOK {
			if err := json.Unmarshal(raw, &bad); err != nil {
				t.Fatalf("%d %q is not JSON", res.StatusCode, raw)
			}
		} else {
			var ok exchangeResponse
			_ = json.Unmarshal(raw, &ok)
			remember(ok.Session)
		}
		return res.StatusCode, bad
	}

	for _, origins := range [][]string{
		{"http://evil"},
		{originA}, // the embedder's origin is not the portal's
		{"null"},  // an opaque origin: a sandboxed frame, a data: URL
		{strings.Replace(own, "http://", "https://", 1)},
		{own, "http://evil"}, // two Origin headers
	} {
		t.Run(strings.Join(origins, ", "), func(t *testing.T) {
			tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA}).Ticket
			counted := e.refusals(RejectForeignOrigin)
			code, bad := exchange(tk, origins...)
			if code != http.StatusForbidden || bad.Error.Code != "cross_site" || !strings.Contains(bad.Error.Message, "portal page only") {
				t.Fatalf("exchange with Origin %q: %d %+v, want 403 cross_site", origins, code, bad)
			}
			var recorded []string
			for _, ev := range e.events(audit.ActionTicketRejected) {
				if ev.TicketFingerprint == ticket.Fingerprint(tk) {
					recorded = append(recorded, ev.Reason)
				}
			}
			// Anyone can send it: counted, not audited (issue 14 §1).
			if len(recorded) != 0 {
				t.Fatalf("ticket.rejected events of the ticket: %q, want none", recorded)
			}
			if got := e.refusals(RejectForeignOrigin); got != counted+1 {
				t.Fatalf("keyportal_exchange_refusals_total{reason=%q} went from %v to %v, want +1", RejectForeignOrigin, counted, got)
			}
			if code, bad := exchange(tk, own); code != http.StatusOK {
				t.Fatalf("the portal's own page, after the refusal: %d %+v, want the ticket still unspent", code, bad)
			}
		})
	}
	t.Run("no Origin", func(t *testing.T) {
		tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA}).Ticket
		if code, bad := exchange(tk); code != http.StatusOK {
			t.Fatalf("exchange without Origin: %d %+v", code, bad)
		}
	})
}
