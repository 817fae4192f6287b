package portal

import (
	"bytes"
	"compress/gzip"
	"io"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"

	"github.com/keyportal/keyportal/internal/testenv"
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
	return getWith(t, url, nil)
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
	e.clock.Advance(ticket.DefaultTTL)

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
// together at most 100 KB on the wire, uncompressed (the worst case) and as
// Chromium fetches them (Accept-Encoding: gzip, deflate, br, zstd).
func TestPageWeight(t *testing.T) {
	e := newAcmeEnv(t)
	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA})
	res, html := get(t, e.portal.TicketURL(tk.Ticket))
	if res.StatusCode != 200 {
		t.Fatal(res.Status)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllSubmatch(html, -1)
	if len(refs) != 2 {
		t.Fatalf("the page loads %d resources, want the script and the stylesheet: %q", len(refs), refs)
	}
	for _, accept := range []string{"identity", "gzip, deflate, br, zstd"} {
		total := len(html)
		for _, m := range refs {
			ref := strings.ReplaceAll(string(m[1]), "&amp;", "&")
			r, wire := getEncoded(t, e.srv.URL+ref, accept)
			if r.StatusCode != 200 || r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("%s: %s", ref, r.Status)
			}
			if !strings.Contains(r.Header.Get("Cache-Control"), "immutable") {
				t.Fatalf("%s is not cacheable: %q", ref, r.Header.Get("Cache-Control"))
			}
			total += len(wire)
		}
		t.Logf("page transfer with Accept-Encoding %q: %d bytes (HTML %d)", accept, total, len(html))
		if total > 100_000 {
			t.Fatalf("page transfer %d bytes, budget 100 KB", total)
		}
	}
}

// getEncoded fetches url with an explicit Accept-Encoding, so that the body
// comes back as it was on the wire (net/http decompresses only what it asked
// for itself).
func getEncoded(t *testing.T, url, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	return getWith(t, url, http.Header{"Accept-Encoding": {acceptEncoding}})
}

// getWith fetches url with these request headers and reads the body.
func getWith(t *testing.T, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	maps.Copy(req.Header, header)
	return testenv.Do(t, req)
}

// TestAssetEncodings checks that the script is served in the form the
// browser accepts, that every form decodes to the same bytes, and that
// revalidation is per form. Which form an Accept-Encoding header gets is
// httpenc's rule, tested there; here one header for each form.
func TestAssetEncodings(t *testing.T) {
	e := newEnv(t, envOptions{})
	url := e.srv.URL + PagePath + "/portal.js?v=" + jsAsset.version
	tests := []struct {
		name, accept, wantEncoding string
	}{
		{"Chromium", "gzip, deflate, br, zstd", "br"},
		{"gzip only", "gzip", "gzip"},
		{"no compression", "identity", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, wire := getEncoded(t, url, tt.accept)
			if got := res.Header.Get("Content-Encoding"); got != tt.wantEncoding {
				t.Fatalf("Content-Encoding %q, want %q", got, tt.wantEncoding)
			}
			if !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
				t.Fatalf("Vary %q: caches would mix the forms", res.Header.Get("Vary"))
			}
			var plain []byte
			switch tt.wantEncoding {
			case "br":
				plain, _ = io.ReadAll(brotli.NewReader(bytes.NewReader(wire)))
			case "gzip":
				zr, err := gzip.NewReader(bytes.NewReader(wire))
				if err != nil {
					t.Fatal(err)
				}
				plain, _ = io.ReadAll(zr)
			default:
				plain = wire
			}
			if !bytes.Equal(plain, portalJS) {
				t.Fatalf("the %q form decodes to %d bytes, not the script's %d", tt.wantEncoding, len(plain), len(portalJS))
			}
			if tt.wantEncoding != "" && len(wire) >= len(portalJS) {
				t.Fatalf("the %q form is %d bytes, the script %d", tt.wantEncoding, len(wire), len(portalJS))
			}

			// Revalidating with this form's ETag: 304; with another's: 200.
			revalidate := func(etag string) int {
				r, _ := getWith(t, url, http.Header{"Accept-Encoding": {tt.accept}, "If-None-Match": {etag}})
				return r.StatusCode
			}
			if got := revalidate(res.Header.Get("ETag")); got != http.StatusNotModified {
				t.Fatalf("revalidation with its own ETag: %d", got)
			}
			if got := revalidate(`"` + jsAsset.version + `-other"`); got != http.StatusOK {
				t.Fatalf("revalidation with another form's ETag: %d", got)
			}
		})
	}
}
