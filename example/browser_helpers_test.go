package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	testbrowser "github.com/keyportal/keyportal/internal/testenv/browser"
	"github.com/keyportal/keyportal/internal/wasmbuild"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// The browser tests run Acme as `go run ./example` does: the app on
// http://127.0.0.1:<port>, the portal on http://localhost:<port> (another
// site), the settings page served with the real wasm shell, and drive it in
// headless Chromium.

var (
	shellOnce sync.Once
	shellWasm string
	shellErr  error
)

// prebuiltShell returns the shell wasm built from the current sources, built
// once per test binary and cached across runs (keyed by the sources, as the
// example's own first-start build is) with its gzip and brotli forms beside
// it, so that no demo started by a test compresses in the background.
func prebuiltShell(t *testing.T) string {
	t.Helper()
	shellOnce.Do(func() {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		// One directory per checkout: two checkouts testing at once would
		// otherwise prune each other's builds (pruneOtherBuilds).
		wd, _ := os.Getwd()
		dir = filepath.Join(dir, "keyportal", "example-browser-test", wasmbuild.Hash([]byte(wd)))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		shellWasm, shellErr = wasmbuild.Cached(ctx, wasmbuild.Options{Progress: os.Stderr}, dir)
		if shellErr != nil {
			return
		}
		pruneOtherBuilds(dir, shellWasm)
		shellErr = precompress(ctx, shellWasm)
	})
	if shellErr != nil {
		t.Fatalf("building the shell wasm: %v", shellErr)
	}
	return shellWasm
}

// pruneOtherBuilds removes the builds of older sources (and their
// compressed forms) from the test's own cache directory, so that it holds
// one build.
func pruneOtherBuilds(dir, current string) {
	keep := strings.TrimSuffix(filepath.Base(current), ".wasm") + "."
	old, _ := filepath.Glob(filepath.Join(dir, "shell-*"))
	for _, p := range old {
		if name := filepath.Base(p); name != filepath.Base(current) && !strings.HasPrefix(name, keep) {
			os.Remove(p)
		}
	}
}

// precompress writes the gzip and brotli forms where the shell middleware
// looks for them. Without the brotli command, brotli at quality 11 in Go
// takes minutes; a test needs a valid brotli body, not the smallest one.
func precompress(ctx context.Context, wasmPath string) error {
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		return err
	}
	gzPath, brPath := wasmbuild.CompressedPaths(wasmPath, wasmbuild.Hash(wasm))
	if _, err := os.Stat(gzPath); err != nil {
		if err := wasmbuild.WriteFile(gzPath, wasmbuild.Gzip(wasm)); err != nil {
			return err
		}
	}
	if _, err := os.Stat(brPath); err == nil {
		return nil
	}
	var br []byte
	if _, err := exec.LookPath("brotli"); err == nil {
		if br, err = wasmbuild.Brotli(ctx, wasm); err != nil {
			return err
		}
	} else {
		var buf strings.Builder
		w := brotli.NewWriterLevel(&buf, 5)
		w.Write(wasm)
		if err := w.Close(); err != nil {
			return err
		}
		br = []byte(buf.String())
	}
	return wasmbuild.WriteFile(brPath, br)
}

// shiftClock is real time plus an offset the test moves forward, so that
// the servers see a page session expire while the browser runs at its own
// pace.
type shiftClock struct {
	mu    sync.Mutex
	shift time.Duration
}

func (c *shiftClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.shift)
}

func (c *shiftClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shift += d
}

// liveDemo is Acme with the wasm shell on real loopback listeners.
type liveDemo struct {
	*demo
	clock *shiftClock

	mu        sync.Mutex
	tickets   int      // requests to the ticket route, as the app received them
	pageSites []string // Sec-Fetch-Site of each settings page request
}

// record counts what the browser asks of the app, as the server sees it.
func (d *liveDemo) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		switch {
		case r.URL.Path == ticket.DefaultPath: // the demo's ticket route
			d.tickets++
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/settings/api-keys/"):
			d.pageSites = append(d.pageSites, r.Header.Get("Sec-Fetch-Site"))
		}
		d.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// ticketRequests returns how many requests reached the ticket route.
func (d *liveDemo) ticketRequests() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tickets
}

// ticketAttempts counts the ticket attempts audited for user: those of the
// ticket route and of the settings pages that issued their ticket while
// they rendered.
func (d *liveDemo) ticketAttempts(t *testing.T, user string) int {
	t.Helper()
	page, err := d.acme.store.QueryAudit(context.Background(), audit.Query{Action: audit.ActionTicketIssue, Actor: user, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Events)
}

// lastPageSite returns the Sec-Fetch-Site of the last settings page request.
func (d *liveDemo) lastPageSite() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.pageSites) == 0 {
		return "(no page request)"
	}
	return d.pageSites[len(d.pageSites)-1]
}

func startLiveDemo(t *testing.T, mutate ...func(*options)) *liveDemo {
	t.Helper()
	wasm := prebuiltShell(t)
	clock := &shiftClock{}
	d := &liveDemo{clock: clock}
	o := options{
		TicketRate: 0,
		Logger:     zerolog.Nop(),
		ShellWasm:  wasm,
		Now:        clock.Now,
	}
	for _, m := range mutate {
		m(&o)
	}
	d.demo = runDemo(t, o, d.record)
	a := d.acme
	if !strings.HasPrefix(a.PortalURL, "http://localhost:") {
		t.Fatalf("portal at %s: want http://localhost:<port>, another site than the app at %s", a.PortalURL, a.AppURL)
	}
	return d
}

// chromium starts a headless Chromium for the test (one profile, so one
// cookie jar, shared by its tabs).
func chromium(t *testing.T) context.Context {
	t.Helper()
	return testbrowser.Start(t, 1000, 700, chromedp.Flag("hide-scrollbars", true))
}

// newTab opens a tab in the browser of ctx; it records, at DOMContentLoaded
// of every page, what the page showed before any script ran (the shell's
// prerendered state) in window.__firstRender: its rendered text (innerText),
// so the start panel the server sends hidden is not counted as shown; and
// the src of the portal frame the first HTML carried, if any, in
// window.__firstFrame.
func newTab(t *testing.T, browserCtx context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx)
	t.Cleanup(cancel)
	// A fixed 1000×700 viewport: the README's screenshots are that size.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1000, 700)); err != nil {
		t.Fatal(err)
	}
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
document.addEventListener('DOMContentLoaded', () => {
  const busy = document.querySelector('.keyportal-shell[aria-busy="true"]');
  window.__firstRender = busy ? 'busy: ' + busy.innerText.trim() : 'not busy: ' + document.body.innerText.trim().slice(0, 400);
  window.__firstFrame = (document.querySelector('iframe[src*="ticket="]') || {}).src || '';
});`})
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// within runs a with a deadline.
func within[T any](t *testing.T, ctx context.Context, d time.Duration, a chromedp.Action[T]) T {
	t.Helper()
	return testbrowser.Within(t, ctx, d, a)
}

// eval evaluates a JavaScript expression in ctx's target (page or frame).
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return within(t, ctx, 20*time.Second, chromedp.Evaluate[T](expr))
}

func runJS(t *testing.T, ctx context.Context, stmt string) {
	t.Helper()
	eval[chromedp.Void](t, ctx, stmt+"; undefined")
}

// waitFor polls a JavaScript predicate in ctx's target until it holds, for
// at most d; evaluation errors (a page that is navigating) count as false.
// On failure it reports what the page showed.
func waitFor(t *testing.T, ctx context.Context, d time.Duration, expr string) {
	t.Helper()
	deadline := time.Now().Add(d)
	var lastErr error
	for {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool](`!!(`+expr+`)`))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			c, cancel := context.WithTimeout(ctx, 5*time.Second)
			shown, _ := chromedp.Run(c, chromedp.Evaluate[string](`location.href + ' shows: ' + (document.body ? document.body.innerText.slice(0, 600) : '(no body)')`))
			cancel()
			t.Fatalf("still false after %s: %s (last error %v)\n%s", d, expr, lastErr, shown)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// frameOf attaches to the cross-site iframe loaded from origin (a separate
// target: chromedp's DOM queries of the page do not reach into it).
func frameOf(t *testing.T, ctx context.Context, origin string) context.Context {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if fctx, ok := testbrowser.AttachFrame(t, ctx, origin); ok {
			return fctx
		}
		if time.Now().After(deadline) {
			t.Fatalf("no frame from %s among the browser's targets", origin)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

func tid(id string) string { return `[data-testid="` + id + `"]` }

func q(sel string) string { return `document.querySelector(` + jsString(sel) + `)` }

func keyRow(name string) string { return `tr[data-testid="key-row"][data-key-name="` + name + `"]` }

// click waits for an enabled, visible control in the frame and clicks it
// (a real click event on the real control; the frame is another process, so
// the page's DOM queries do not reach it).
func click(t *testing.T, f context.Context, sel string) {
	t.Helper()
	waitFor(t, f, 30*time.Second, q(sel)+` && !`+q(sel)+`.disabled && `+q(sel)+`.getClientRects().length > 0`)
	runJS(t, f, q(sel)+`.focus(); `+q(sel)+`.click()`)
}

// typeInto sets a field's value as typing does (an input event follows).
func typeInto(t *testing.T, f context.Context, sel, text string) {
	t.Helper()
	waitFor(t, f, 30*time.Second, q(sel)+` && `+q(sel)+`.getClientRects().length > 0`)
	runJS(t, f, `{ const el = `+q(sel)+`; el.focus(); el.value = `+jsString(text)+`; el.dispatchEvent(new Event('input', {bubbles: true})); }`)
}

// signInWithForm signs in as user on the real /login page (a click on the
// user's button), and waits for the redirect away from it.
func signInWithForm(t *testing.T, ctx context.Context, d *liveDemo, user string) {
	t.Helper()
	within(t, ctx, 30*time.Second, chromedp.Steps(
		chromedp.Navigate(d.acme.AppURL+"/login"),
		chromedp.Click(`[data-testid="login-`+user+`"]`, chromedp.NodeVisible),
	))
	waitFor(t, ctx, 30*time.Second, `location.pathname !== '/login'`)
}

func clearCookies(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
}

// colorScheme emulates prefers-color-scheme on the page and on the frame
// (each is its own target).
func colorScheme(t *testing.T, scheme string, targets ...context.Context) {
	t.Helper()
	for _, ctx := range targets {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// screenshot writes the tab's viewport (the page with the portal frame
// composited in) to docs/screenshots/name when KEYPORTAL_SCREENSHOTS=1.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	testbrowser.Screenshot(t, ctx, filepath.Join("..", "docs", "screenshots"), name)
}

// whoamiBody calls GET /v1/whoami with secret and returns status and body.
func (d *liveDemo) whoamiBody(secret string) (int, string) {
	d.t.Helper()
	req, _ := http.NewRequest("GET", d.acme.AppURL+"/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	res := do(d.t, http.DefaultClient, req)
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}
