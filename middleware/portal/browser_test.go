package portal

import (
	"context"
	"encoding/json"
	"html/template"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	testbrowser "github.com/keyportal/keyportal/internal/testenv/browser"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// These tests run the portal page in Chromium, framed by embedder pages served
// from other origins: the portal is http://localhost:<p>, the allowed
// embedder http://127.0.0.1:<a>, the stranger http://127.0.0.2:<f>.

// browser starts a headless Chromium for the test.
func browser(t testing.TB) context.Context {
	t.Helper()
	return testbrowser.Start(t, 1000, 800)
}

// embedderPage frames {{.Src}} and records every message it receives; it can
// hand the frame a ticket (sendTicket) and add more frames (addFrame).
var embedderPage = template.Must(template.New("e").Parse(`<!doctype html>
<html><head><title>Acme settings</title></head><body>
<h1>Acme settings</h1>
<script>
window.__msgs = [];
window.__loaded = false;
const src = {{.Src}};
const portalOrigin = new URL(src).origin;
const frame = document.createElement('iframe');
frame.title = 'API keys';
frame.width = 900; frame.height = 600;
window.addEventListener('message', (e) => {
  window.__msgs.push({origin: e.origin, fromPortal: e.source === frame.contentWindow, data: e.data});
});
frame.onload = () => { window.__loaded = true; };
frame.src = src;
document.body.append(frame);
window.sendTicket = (t) => frame.contentWindow.postMessage({type: 'keyportal:ticket', v: 1, ticket: t}, portalOrigin);
window.sendTheme = (th) => frame.contentWindow.postMessage({type: 'keyportal:theme', v: 1, theme: th}, portalOrigin);
window.addFrame = (url) => { const f = document.createElement('iframe'); f.src = url; document.body.append(f); };
window.portalMsgs = (type) => window.__msgs.filter((m) => m.fromPortal && m.origin === portalOrigin && m.data && m.data.type === type).map((m) => m.data);
</script></body></html>`))

// attackerPage posts a ticket to its parent's first frame (the portal), then
// tells the parent it did.
const attackerPage = `<!doctype html><html><body><script>
const q = new URLSearchParams(location.search);
parent.frames[0].postMessage({type: 'keyportal:ticket', v: 1, ticket: q.get('ticket')}, q.get('target'));
parent.postMessage({attack: 'sent', from: location.origin}, '*');
</script></body></html>`

// embedder serves the embedder and attacker pages on addr.
func embedder(t *testing.T, addr string) string {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/embed", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		embedderPage.Execute(w, map[string]string{"Src": r.URL.Query().Get("src")})
	})
	mux.HandleFunc("/attack", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(attackerPage))
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// frameDocument attaches to the cross-site frame loaded from origin and says
// what it shows: "<state> <address>" for the portal page, or "blocked" when
// the browser put an error page in its place.
func frameDocument(t *testing.T, ctx context.Context, origin string) string {
	t.Helper()
	return testbrowser.Within(t, frameContext(t, ctx, origin), 10*time.Second, chromedp.Evaluate[string](
		`(() => { const m = document.getElementById('portal'); return m ? m.dataset.state + ' ' + location.href : 'blocked'; })()`))
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

// srvOrigin is the portal's origin as browsers see it.
func (e *env) srvOrigin() string { return e.portal.baseURL }

func embedURL(embedderOrigin, portalURL string) string {
	return embedderOrigin + "/embed?src=" + urlQueryEscape(portalURL)
}

func pollJS(expr string, d time.Duration) chromedp.Action[bool] {
	return chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(d))
}

func TestBrowserFrameAncestorsAndMessageOrigins(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, envOptions{listen: "127.0.0.1:0", realClock: true})
	allowed := embedder(t, "127.0.0.1:0")
	foreign := embedder(t, "127.0.0.2:0")
	e.app("aa_42", "acme", allowed)
	req := ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: allowed}

	// 1. The allowed origin frames the portal: it exchanges its ticket and
	//    says so, with the exact target origin.
	t1 := e.issue(req)
	testbrowser.Within(t, ctx, 20*time.Second, chromedp.Steps(
		chromedp.Navigate(embedURL(allowed, t1.URL)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := pollJS(`window.portalMsgs('keyportal:ready').some((m) => m.session === 'active' && m.v === 1)`, 15*time.Second)(ctx, tg)
			return err
		}),
	))
	resize := testbrowser.Within(t, ctx, 10*time.Second, pollJS(`window.portalMsgs('keyportal:resize').some((m) => m.height > 100)`, 8*time.Second))
	if !resize {
		t.Fatal("no keyportal:resize with a height")
	}
	if got := frameDocument(t, ctx, e.srvOrigin()); got != "ready "+e.srvOrigin()+PagePath {
		t.Fatalf("the allowed frame shows %q, want the ready portal with the ticket gone from its address", got)
	}

	// 2. Messages from a stranger, and from a window of the right origin
	//    that is not the parent, are ignored. Both carry valid tickets that
	//    the page would exchange if it listened to them.
	fromStranger, fromSibling, fromParent := e.issue(req), e.issue(req), e.issue(req)
	testbrowser.Within(t, ctx, 20*time.Second, chromedp.Steps(
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[chromedp.Void](`window.addFrame(`+jsString(foreign+"/attack?ticket="+urlQueryEscape(fromStranger.Ticket)+"&target="+urlQueryEscape(e.srvOrigin()))+`);`+
				`window.addFrame(`+jsString(allowed+"/attack?ticket="+urlQueryEscape(fromSibling.Ticket)+"&target="+urlQueryEscape(e.srvOrigin()))+`); undefined`)(ctx, tg)
			return err
		}),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := pollJS(`window.__msgs.filter((m) => m.data && m.data.attack === 'sent').length === 2`, 15*time.Second)(ctx, tg)
			return err
		}),
		// Then the parent hands over a ticket the right way: renewal in place.
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[chromedp.Void](`window.sendTicket(`+jsString(fromParent.Ticket)+`); undefined`)(ctx, tg)
			return err
		}),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := pollJS(`window.portalMsgs('keyportal:ready').filter((m) => m.session === 'active').length === 2`, 15*time.Second)(ctx, tg)
			return err
		}),
	))
	exchanged := map[string]bool{}
	for _, ev := range e.events(audit.ActionTicketExchanged) {
		exchanged[ev.TicketFingerprint] = true
	}
	if !exchanged[ticket.Fingerprint(t1.Ticket)] || !exchanged[ticket.Fingerprint(fromParent.Ticket)] {
		t.Fatal("the parent's tickets were not exchanged")
	}
	if exchanged[ticket.Fingerprint(fromStranger.Ticket)] || exchanged[ticket.Fingerprint(fromSibling.Ticket)] {
		t.Fatal("the page exchanged a ticket posted by a window that is not its parent")
	}
	// Not even tried: the tickets are still unspent.
	for name, tk := range map[string]string{"stranger's": fromStranger.Ticket, "sibling's": fromSibling.Ticket} {
		if code, _, bad := e.exchangeTicket(tk, ""); code != 200 {
			t.Fatalf("the %s ticket was spent: %d %+v", name, code, bad)
		}
	}

	// 3. A stranger frames the portal (with a ticket it got hold of): the
	//    browser refuses to render it, so the ticket is never exchanged.
	stolen := e.issue(req)
	cctx, stopConsole := context.WithCancel(ctx)
	defer stopConsole()
	consoleCh := make(chan string, 100)
	go func() {
		for m, err := range chromedp.Console(cctx) {
			if err != nil {
				return
			}
			consoleCh <- string(m.Type) + ": " + m.Text
		}
	}()
	testbrowser.Within(t, ctx, 20*time.Second, chromedp.Steps(
		chromedp.Navigate(embedURL(foreign, stolen.URL)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := pollJS(`window.__loaded`, 15*time.Second)(ctx, tg)
			return err
		}),
	))
	if got := frameDocument(t, ctx, e.srvOrigin()); got != "blocked" {
		t.Fatalf("the stranger's frame shows %q, want nothing of the portal", got)
	}
	sawViolation := false
	for len(consoleCh) > 0 {
		line := <-consoleCh
		sawViolation = sawViolation || strings.Contains(line, "frame-ancestors "+allowed)
	}
	if !sawViolation {
		t.Fatal("Chromium reported no frame-ancestors violation")
	}
	msgs := testbrowser.Within(t, ctx, 5*time.Second, chromedp.Evaluate[int](`window.__msgs.length`))
	if msgs != 0 {
		t.Fatalf("the framed portal posted %d messages to a stranger", msgs)
	}
	for _, ev := range e.events("ticket.") {
		if ev.TicketFingerprint == ticket.Fingerprint(stolen.Ticket) {
			t.Fatalf("the framed portal tried the stranger's ticket: %+v", ev)
		}
	}
}
