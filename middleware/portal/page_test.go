package portal

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// frameAncestors returns the sources of the CSP's frame-ancestors directive.
func frameAncestors(csp string) []string {
	for _, d := range strings.Split(csp, ";") {
		f := strings.Fields(d)
		if len(f) > 0 && f[0] == "frame-ancestors" {
			return f[1:]
		}
	}
	return nil
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

var (
	scriptTag    = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	inlineStyle  = regexp.MustCompile(`(?i)<style\b|\sstyle\s*=|\son[a-z]+\s*=`)
	inlineScript = inlineCode{}
)

// inlineCode finds inline script (a script element without src, or with a
// body), event-handler attributes or inline styles.
type inlineCode struct{}

func (inlineCode) Find(html []byte) []byte {
	for _, m := range scriptTag.FindAllSubmatch(html, -1) {
		if !strings.Contains(string(m[1]), "src=") || strings.TrimSpace(string(m[2])) != "" {
			return m[0]
		}
	}
	return inlineStyle.Find(html)
}

func TestPageHeaders(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.app("aa_42", "acme", originA, "http://127.0.0.1:9000")
	e.app("aa_77", "globex", originB)
	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA})
	expired := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA})
	e.clock.Advance(DefaultTicketTTL)

	tests := []struct {
		name          string
		ticket        string
		status        int
		wantAncestors []string
		wantOrigin    string
	}{
		{"valid ticket", tk.Ticket, 200, []string{originA, "http://127.0.0.1:9000"}, originA},
		{"expired but authentic ticket: framed, so it can tell the shell", expired.Ticket, 200, []string{originA, "http://127.0.0.1:9000"}, originA},
		{"forged ticket", flip(tk.Ticket, 20), 400, []string{"'none'"}, ""},
		{"no ticket", "", 400, []string{"'none'"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, body := get(t, e.portal.TicketURL(tc.ticket))
			h := res.Header
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			csp := h.Get("Content-Security-Policy")
			if got := frameAncestors(csp); strings.Join(got, " ") != strings.Join(tc.wantAncestors, " ") {
				t.Fatalf("frame-ancestors %v, want %v (CSP %q)", got, tc.wantAncestors, csp)
			}
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Fatalf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Fatalf("CSP allows inline code: %q", csp)
			}
			for k, v := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
				if h.Get(k) != v {
					t.Fatalf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
			if m := inlineScript.Find(body); m != nil {
				t.Fatalf("the page has inline script or style: %q", m)
			}
			if tc.ticket != "" && strings.Contains(string(body), tc.ticket) {
				t.Fatal("the page repeats the ticket")
			}
			if got := regexp.MustCompile(`data-origin="([^"]*)"`).FindSubmatch(body); got == nil || string(got[1]) != tc.wantOrigin {
				t.Fatalf("data-origin %q, want %q", got, tc.wantOrigin)
			}
		})
	}
	// A ticket of another app frames only that app's origins.
	other := e.issue(ticket.Request{AppSlug: "aa_77", Tenant: "globex", Subject: "frank", EmbedderOrigin: originB})
	res, _ := get(t, e.portal.TicketURL(other.Ticket))
	if got := frameAncestors(res.Header.Get("Content-Security-Policy")); len(got) != 1 || got[0] != originB {
		t.Fatalf("frame-ancestors for aa_77: %v", got)
	}
	// Viewing the page does not spend the ticket.
	if code, _, bad := e.exchangeTicket(other.Ticket, ""); code != 200 {
		t.Fatalf("exchange after viewing: %d %+v", code, bad)
	}
}

// TestPageWeight holds the page to its budget: HTML, script and stylesheet
// together at most 100 KB on the wire.
func TestPageWeight(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.app("aa_42", "acme", originA)
	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA})
	res, html := get(t, e.portal.TicketURL(tk.Ticket))
	if res.StatusCode != 200 {
		t.Fatal(res.Status)
	}
	total := len(html)
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllSubmatch(html, -1)
	if len(refs) != 2 {
		t.Fatalf("the page loads %d resources, want the script and the stylesheet: %q", len(refs), refs)
	}
	for _, m := range refs {
		ref := strings.ReplaceAll(string(m[1]), "&amp;", "&")
		r, b := get(t, e.srv.URL+ref)
		if r.StatusCode != 200 || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: %s", ref, r.Status)
		}
		if !strings.Contains(r.Header.Get("Cache-Control"), "immutable") {
			t.Fatalf("%s is not cacheable: %q", ref, r.Header.Get("Cache-Control"))
		}
		total += len(b)
	}
	t.Logf("page transfer: %d bytes (HTML %d)", total, len(html))
	if total > 100_000 {
		t.Fatalf("page transfer %d bytes, budget 100 KB", total)
	}
}
