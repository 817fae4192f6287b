package shell

import (
	"errors"
	"html/template"
	"io"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/wasmui"
)

// fakeTickets answers every page with answer and counts the calls.
type fakeTickets struct {
	answer ticket.Answer
	calls  []string
}

func (f *fakeTickets) PageTicket(c *gin.Context, id string) ticket.Answer {
	f.calls = append(f.calls, id)
	return f.answer
}

const okBody = `{"ticket":"tk_page","expires_at":1900000000,"url":"https://portal.test/p/api-auth?ticket=tk_page"}`

func TestPageCarriesTheFirstTicket(t *testing.T) {
	tickets := &fakeTickets{answer: ticket.Answer{Status: 200, Body: []byte(okBody)}}
	s := newTestShell(t, Config{Tickets: tickets})
	r := gin.New()
	mount(t, s, r)
	w := serve(t, r, "GET", "/settings/api-keys/42", map[string]string{"Sec-Fetch-Site": "same-origin"})
	page := w.Body.String()
	if len(tickets.calls) != 1 || tickets.calls[0] != "42" {
		t.Fatalf("PageTicket calls %v, want one for 42", tickets.calls)
	}
	frame := `<div class="keyportal-shell keyportal-frame-slot"><iframe src="https://portal.test/p/api-auth?ticket=tk_page"`
	for _, want := range []string{
		frame,
		`<link rel="preconnect" href="https://portal.test">`,
		`data-keyportal-answer-status="200"`,
		`data-keyportal-answer-body="{&#34;ticket&#34;:&#34;tk_page&#34;`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, wasmui.TextLoading) {
		t.Error("a page that carries its portal says it is loading")
	}
	if strings.Index(page, frame) > strings.Index(page, `<script src="`+s.eagerURL()) {
		t.Error("the eager script comes before the frame: the portal would wait for it")
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("a page with a ticket has Cache-Control %q", w.Header().Get("Cache-Control"))
	}

	// A navigation from another site spends nothing; neither does HEAD.
	// Such pages still preconnect to the portal they will show.
	cross := serve(t, r, "GET", "/settings/api-keys/42", map[string]string{"Sec-Fetch-Site": "cross-site"}).Body.String()
	serve(t, r, "HEAD", "/settings/api-keys/42", map[string]string{"Sec-Fetch-Site": "same-origin"})
	if len(tickets.calls) != 1 {
		t.Fatalf("PageTicket called for a cross-site navigation or a HEAD: %v", tickets.calls)
	}
	if strings.Contains(cross, "<iframe") || strings.Contains(cross, "answer-status") {
		t.Error("the cross-site page carries a frame or an answer")
	}
	if !strings.Contains(cross, `<link rel="preconnect" href="https://portal.test">`) {
		t.Error("the cross-site page does not preconnect to the portal last seen")
	}
}

// The refusals are in the first HTML too, not after the wasm has loaded.
func TestPageCarriesTheRefusal(t *testing.T) {
	for _, tc := range []struct {
		answer ticket.Answer
		want   string
	}{
		{ticket.Answer{Status: 401, Body: []byte(`{"error":"Unauthorized"}`)}, "Your session has ended"},
		{ticket.Answer{Status: 403, Body: []byte(`{"error":"Forbidden"}`)}, "permission to manage API keys here"},
		{ticket.Answer{Status: 429, RetryAfter: "12", Body: []byte(`{"error":"Too many requests"}`)}, "Retrying in 12 s"},
		{ticket.Answer{Status: 502, Body: []byte(`{"error":"Ticket issuance failed"}`)}, "the server answered 502"},
	} {
		s := newTestShell(t, Config{Tickets: &fakeTickets{answer: tc.answer}})
		r := gin.New()
		mount(t, s, r)
		page := serve(t, r, "GET", "/settings/api-keys/42", nil).Body.String()
		if !strings.Contains(page, tc.want) || strings.Contains(page, "<iframe") || strings.Contains(page, wasmui.TextLoading) {
			t.Errorf("%d: the page does not show %q alone:\n%s", tc.answer.Status, tc.want, page)
		}
	}
}

var hostTmpl = template.Must(template.New("host").Parse(`<!doctype html><html lang="{{.Shell.Lang}}"><head><title>{{.Shell.Title}} · Host</title>{{.Shell.Head}}</head>` +
	`<body><header id="host-header">Host — {{.User}}</header><nav id="host-nav"><a href="/">Home</a></nav><main>{{.Shell.Body}}</main><footer>Host footer</footer></body></html>`))

func TestLayoutPutsTheShellInTheHostsPage(t *testing.T) {
	s := newTestShell(t, Config{Title: "Keys", Layout: func(c *gin.Context, w io.Writer, p Page) error {
		return hostTmpl.Execute(w, map[string]any{"User": c.GetHeader("X-User"), "Shell": p})
	}})
	r := gin.New()
	mount(t, s, r)
	w := serve(t, r, "GET", "/settings/api-keys/42", map[string]string{"X-User": "<alice>"})
	page := w.Body.String()
	main := page[strings.Index(page, "<main>"):strings.Index(page, "</main>")]
	for _, want := range []string{`<link rel="stylesheet" href="` + s.cssURL() + `">`, `class="keyportal-shell"`, `<script src="` + s.eagerURL(), `id="app-wasm-loader"`} {
		if !strings.Contains(main, want) {
			t.Errorf("the host's <main> lacks %s:\n%s", want, page)
		}
	}
	head := page[:strings.Index(page, "</head>")]
	for _, want := range []string{`<title>Keys · Host</title>`, `<script defer src="/_keyportal/app.js"></script>`} {
		if !strings.Contains(head, want) {
			t.Errorf("the host's <head> lacks %s:\n%s", want, head)
		}
	}
	// Nothing of the shell's blocks the host's header from rendering.
	if strings.Contains(head, "stylesheet") {
		t.Errorf("the shell put a render-blocking stylesheet in the host's <head>:\n%s", head)
	}
	if !strings.Contains(page, `<header id="host-header">Host — &lt;alice&gt;</header>`) || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("host data not escaped by the host's template, or the page may be cached:\n%s", page)
	}

	broken := newTestShell(t, Config{Layout: func(*gin.Context, io.Writer, Page) error { return errors.New("template: no such field") }})
	r2 := gin.New()
	mount(t, broken, r2)
	if w := serve(t, r2, "GET", "/settings/api-keys/42", nil); w.Code != 500 || strings.Contains(w.Body.String(), "no such field") {
		t.Errorf("a failing layout: %d %q, want 500 without the detail", w.Code, w.Body)
	}
}

func TestPageAndEagerScriptCompressed(t *testing.T) {
	s := newTestShell(t, Config{})
	r := gin.New()
	mount(t, s, r)
	plain := serve(t, r, "GET", "/settings/api-keys/42", nil)
	w := serve(t, r, "GET", "/settings/api-keys/42", map[string]string{"Accept-Encoding": "gzip, br"})
	if w.Header().Get("Content-Encoding") != "br" || !strings.Contains(w.Header().Values("Vary")[1], "Accept-Encoding") {
		t.Fatalf("page Content-Encoding %q Vary %q, want br, varying on Accept-Encoding", w.Header().Get("Content-Encoding"), w.Header().Values("Vary"))
	}
	sent := w.Body.Len()
	b, err := io.ReadAll(brotli.NewReader(w.Body))
	if err != nil || len(b) != plain.Body.Len() || !strings.Contains(string(b), `class="keyportal-shell"`) || sent > plain.Body.Len()*2/3 { // go-app orders attributes at random
		t.Fatalf("brotli page: %v; %d bytes for %d plain", err, sent, plain.Body.Len())
	}
	js := serve(t, r, "GET", s.eagerURL(), map[string]string{"Accept-Encoding": "gzip"})
	if js.Header().Get("Content-Encoding") != "gzip" || js.Body.Len() >= len(wasmui.EagerScript) {
		t.Fatalf("eager script Content-Encoding %q, %d bytes", js.Header().Get("Content-Encoding"), js.Body.Len())
	}
}
