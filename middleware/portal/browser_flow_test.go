package portal

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/gin-gonic/gin"

	testbrowser "github.com/keyportal/keyportal/internal/testenv/browser"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// waitJS polls a JavaScript predicate in ctx's target until it is true, for
// at most 15 s. (chromedp.Poll does not reach a cross-site frame's target.)
func waitJS(t testing.TB, ctx context.Context, expr string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok := testbrowser.Within(t, ctx, 10*time.Second, chromedp.Evaluate[bool](`!!(`+expr+`)`))
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still false after 15 s: %s", expr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func evalJS(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	testbrowser.Within(t, ctx, 10*time.Second, chromedp.Evaluate[chromedp.Void](expr+"; undefined"))
}

// frameContext attaches to the portal frame (a cross-site iframe).
func frameContext(t *testing.T, ctx context.Context, origin string) context.Context {
	t.Helper()
	if fctx, ok := testbrowser.AttachFrame(t, ctx, origin); ok {
		return fctx
	}
	t.Fatalf("no frame from %s", origin)
	return nil
}

// openPortal loads the embedder page at origin embedder with the portal of
// ticket tk in its frame, waits until the portal announces an active
// session, and returns the frame's context.
func openPortal(t *testing.T, ctx context.Context, e *env, embedder string, tk ticket.Response) context.Context {
	t.Helper()
	testbrowser.Within(t, ctx, 20*time.Second, chromedp.Navigate(embedURL(embedder, tk.URL)))
	waitJS(t, ctx, `window.portalMsgs('keyportal:ready').some((m) => m.session === 'active')`)
	return frameContext(t, ctx, e.srvOrigin())
}

// seedKeys creates keys of app named names, as bob, and keeps their secrets
// out of logs and files (remember).
func (e *env) seedKeys(t *testing.T, app string, names ...string) {
	t.Helper()
	for _, name := range names {
		_, secret, err := e.store.CreateKey(context.Background(), keystore.NewKey{AppSlug: app, Name: name}, keystore.Actor{Name: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		remember(secret)
	}
}

// The page runs in a cross-site frame, where chromedp's DOM queries do not
// reach (its target is attached after it loaded); these helpers act through
// the page's own DOM instead: real click events on real controls.

func tid(id string) string { return `[data-testid="` + id + `"]` }

func q(sel string) string { return `document.querySelector(` + jsString(sel) + `)` }

// click waits for an enabled, visible control and clicks it.
func click(t *testing.T, f context.Context, sel string) {
	t.Helper()
	waitJS(t, f, q(sel)+` && !`+q(sel)+`.disabled && `+q(sel)+`.getClientRects().length > 0`)
	evalJS(t, f, q(sel)+`.focus(); `+q(sel)+`.click()`)
}

// typeInto sets a field's value as typing would (an input event follows).
func typeInto(t *testing.T, f context.Context, sel, text string) {
	t.Helper()
	waitJS(t, f, q(sel)+` && `+q(sel)+`.getClientRects().length > 0`)
	evalJS(t, f, `{ const el = `+q(sel)+`; el.focus(); el.value = `+jsString(text)+`; el.dispatchEvent(new Event('input', {bubbles: true})); }`)
}

func value(t *testing.T, f context.Context, sel string) string {
	t.Helper()
	return testbrowser.Within(t, f, 5*time.Second, chromedp.Evaluate[string](q(sel)+`.value`))
}

// activityLists opens the Activity tab of the portal frame f, waits for at
// least len(want) entries and checks that the list holds each text of want.
func activityLists(t *testing.T, f context.Context, want ...string) {
	t.Helper()
	click(t, f, tid("tab-activity"))
	waitJS(t, f, fmt.Sprintf(`document.querySelectorAll('[data-testid="activity-item"]').length >= %d`, len(want)))
	activity := text(t, f, tid("activity-list"))
	for _, w := range want {
		if !strings.Contains(activity, w) {
			t.Errorf("activity %q lacks %q", activity, w)
		}
	}
}

func text(t *testing.T, f context.Context, sel string) string {
	t.Helper()
	return testbrowser.Within(t, f, 5*time.Second, chromedp.Evaluate[string](q(sel)+`.textContent`))
}

func dialogOpen(sel string) string { return q(sel) + `.open` }

func row(name string) string { return `tr[data-testid="key-row"][data-key-name="` + name + `"]` }

// TestBrowserKeyManagement drives the page the way a user does, inside the
// embedder's frame: create a key (the secret shown once), rotate it with a
// grace, revoke the new one; the embedder hears of each, never a secret.
func TestBrowserKeyManagement(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, envOptions{listen: "127.0.0.1:0", realClock: true})
	allowed := embedder(t, "127.0.0.1:0")
	e.app("aa_42", "acme", allowed)
	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: allowed})

	f := openPortal(t, ctx, e, allowed, tk)
	waitJS(t, f, `document.getElementById('portal').dataset.state === 'ready' && document.getElementById('keys-status').textContent.includes('No active keys')`)

	// The shell's theme applies: dark, then back to light.
	bg := `getComputedStyle(document.body).backgroundColor`
	evalJS(t, ctx, `window.sendTheme('dark')`)
	waitJS(t, f, `document.documentElement.dataset.theme === 'dark' && `+bg+` === 'rgb(20, 23, 28)'`)
	evalJS(t, ctx, `window.sendTheme('light')`)
	waitJS(t, f, `document.documentElement.dataset.theme === 'light' && `+bg+` === 'rgb(255, 255, 255)'`)

	// Create.
	click(t, f, tid("create-key"))
	waitJS(t, f, dialogOpen(tid("create-dialog"))+` && document.activeElement === `+q(tid("create-name")))
	typeInto(t, f, tid("create-name"), "billing worker")
	click(t, f, tid("create-submit"))
	waitJS(t, f, dialogOpen(tid("secret-dialog"))+` && `+q(tid("secret-output"))+`.value !== ''`)
	secret := value(t, f, tid("secret-output"))
	remember(secret)
	if !regexp.MustCompile(`^kp_aa_42_[A-Za-z0-9_-]{43}$`).MatchString(secret) {
		t.Fatalf("secret shown %q", secret)
	}
	if w := text(t, f, "#secret-warning"); !strings.Contains(w, "only time") {
		t.Fatalf("no plain warning next to the secret: %q", w)
	}
	click(t, f, tid("secret-done"))
	waitJS(t, f, `!`+dialogOpen(tid("secret-dialog"))+` && `+q(row("billing worker")))
	if v := value(t, f, tid("secret-output")); v != "" {
		t.Fatal("the secret stays in the page after the dialog closed")
	}
	cells := text(t, f, row("billing worker"))
	for _, want := range []string{"billing worker", "kp_aa_42_…" + secret[len(secret)-8:], "alice", "Never", "Active"} {
		if !strings.Contains(cells, want) {
			t.Fatalf("the key row %q lacks %q", cells, want)
		}
	}

	// Rotate with a one-hour grace: the dialog says when the key was last used.
	click(t, f, row("billing worker")+` [data-testid="rotate-key"]`)
	waitJS(t, f, dialogOpen(tid("rotate-dialog")))
	if lu := text(t, f, tid("rotate-last-used")); !strings.Contains(lu, "never been used") {
		t.Fatalf("rotate dialog says %q about last use", lu)
	}
	click(t, f, tid("grace-1h"))
	click(t, f, tid("rotate-confirm"))
	waitJS(t, f, dialogOpen(tid("secret-dialog"))+` && `+q(tid("secret-output"))+`.value !== ''`)
	rotated := value(t, f, tid("secret-output"))
	remember(rotated)
	if rotated == secret || !strings.HasPrefix(rotated, "kp_aa_42_") {
		t.Fatalf("rotation showed %q", rotated)
	}
	click(t, f, tid("secret-done"))
	waitJS(t, f, `document.querySelectorAll('tr[data-testid="key-row"]').length === 2`)

	// Revoke the new key (the one with actions), with a reason.
	click(t, f, `tr[data-testid="key-row"] [data-testid="revoke-key"]`)
	waitJS(t, f, dialogOpen(tid("revoke-dialog")))
	typeInto(t, f, tid("revoke-reason"), "moved to vault")
	click(t, f, tid("revoke-confirm"))
	waitJS(t, f, `!`+dialogOpen(tid("revoke-dialog"))+` && document.querySelectorAll('tr[data-testid="key-row"]').length === 1`)
	page, err := e.store.ListKeys(context.Background(), keystore.KeyFilter{AppSlug: "aa_42"})
	if err != nil {
		t.Fatal(err)
	}
	keys := page.Keys
	revoked := 0
	for _, k := range keys {
		if k.RevokedReason == "moved to vault" && k.CreatedBy == "alice" {
			revoked++
		}
	}
	if len(keys) != 2 || revoked != 1 {
		t.Fatalf("store has %d keys, %d revoked with the reason", len(keys), revoked)
	}

	// The Activity tab lists what alice did.
	activityLists(t, f, "alice created a key", "alice rotated a key", "alice revoked a key", "alice opened the key portal")

	// The embedder heard of each action, and of no secret.
	waitJS(t, ctx, `window.portalMsgs('keyportal:event').length === 3`)
	names := testbrowser.Within(t, ctx, 5*time.Second, chromedp.Evaluate[[]string](`window.portalMsgs('keyportal:event').map((m) => m.name)`))
	if !slices.Equal(names, []string{ticket.EventKeyCreated, ticket.EventKeyRotated, ticket.EventKeyRevoked}) {
		t.Fatalf("events %v", names)
	}
	all := testbrowser.Within(t, ctx, 5*time.Second, chromedp.Evaluate[string](`JSON.stringify(window.__msgs)`))
	if strings.Contains(all, secret) || strings.Contains(all, rotated) || strings.Contains(all, "kpt1.") || strings.Contains(all, "kps1.") {
		t.Fatal("a message to the embedder carries a secret, a ticket or a session")
	}
}

// TestBrowserSessionEnds shows the page ending its session at the TTL (and
// telling the embedder, reason ttl), renewing in place with the state kept,
// and reporting revoked when the app is disabled, and ticket_used for a
// spent ticket.
func TestBrowserSessionEnds(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t, envOptions{listen: "127.0.0.1:0", realClock: true, sessionTTL: 2 * time.Second})
	allowed := embedder(t, "127.0.0.1:0")
	e.app("aa_42", "acme", allowed)
	req := ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: allowed}
	tk := e.issue(req)

	f := openPortal(t, ctx, e, allowed, tk)
	click(t, f, tid("filter-all"))

	waitJS(t, ctx, `window.portalMsgs('keyportal:session_expired').some((m) => m.reason === 'ttl')`)
	if st := testbrowser.Within(t, f, 5*time.Second, chromedp.Evaluate[string](`document.getElementById('portal').dataset.state + ' ' + `+q(tid("create-key"))+`.disabled`)); st != "ended true" {
		t.Fatalf("after the TTL the page is %q", st)
	}
	// Renewal in place: the shell hands a fresh ticket; the filter stays.
	evalJS(t, ctx, `window.sendTicket(`+jsString(e.issue(req).Ticket)+`)`)
	waitJS(t, ctx, `window.portalMsgs('keyportal:ready').filter((m) => m.session === 'active').length === 2`)
	waitJS(t, f, `document.getElementById('portal').dataset.state === 'ready'`)
	if p := testbrowser.Within(t, f, 5*time.Second, chromedp.Evaluate[string](q(tid("filter-all"))+`.getAttribute('aria-pressed')`)); p != "true" {
		t.Fatalf("the filter was lost in the renewal: aria-pressed=%s", p)
	}

	// The app is disabled: the next call answers 401 revoked.
	off := false
	if _, err := e.store.UpdateApp(context.Background(), "aa_42", keystore.AppPatch{IsActive: &off}, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	click(t, f, tid("filter-revoked"))
	waitJS(t, ctx, `window.portalMsgs('keyportal:session_expired').some((m) => m.reason === 'revoked')`)

	// A spent ticket: the page says so at once.
	on := true
	if _, err := e.store.UpdateApp(context.Background(), "aa_42", keystore.AppPatch{IsActive: &on}, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	testbrowser.Within(t, ctx, 20*time.Second, chromedp.Navigate(embedURL(allowed, tk.URL)))
	waitJS(t, ctx, `window.portalMsgs('keyportal:session_expired').some((m) => m.reason === 'ticket_used') && window.portalMsgs('keyportal:ready').some((m) => m.session === 'none')`)
}

// TestBrowserPaintsBeforeScript holds the page's script on the server and
// requires the page to paint its content meanwhile: the script must never
// become render-blocking (a user would stare at a blank frame for as long as
// the script takes to arrive). Once released, the page becomes ready.
func TestBrowserPaintsBeforeScript(t *testing.T) {
	ctx := browser(t)
	release := make(chan struct{})
	var held atomic.Int32
	e := newEnv(t, envOptions{listen: "127.0.0.1:0", realClock: true, wrap: func(c *gin.Context) {
		if strings.HasSuffix(c.Request.URL.Path, "/portal.js") {
			held.Add(1)
			select {
			case <-release:
			case <-c.Request.Context().Done():
			}
		}
	}})
	unhold := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unhold) // before the server's Close, which waits for held requests
	e.app("aa_42", "acme", "http://127.0.0.1:1")
	tk := e.issue(ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: "http://127.0.0.1:1"})

	testbrowser.Within(t, ctx, 20*time.Second, navigateNoWait(tk.URL)) // Navigate would wait for the held script
	waitJS(t, ctx, `performance.getEntriesByName('first-contentful-paint').length > 0`)
	state := testbrowser.Within(t, ctx, 5*time.Second, chromedp.Evaluate[string](
		`document.getElementById('portal').dataset.state + ' ' + document.querySelector('h1').textContent + ' ' + (document.querySelector('h1').getBoundingClientRect().height > 0)`))
	if state != "loading API keys true" || held.Load() == 0 {
		t.Fatalf("painted with the script held: page %q, script requests held %d; want the loading page with its heading laid out", state, held.Load())
	}
	unhold()
	waitJS(t, ctx, `document.getElementById('portal').dataset.state === 'ready'`)
}

// navigateNoWait starts a navigation and returns once the document is
// committed, without waiting for the page's load event.
func navigateNoWait(url string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		res, err := cdp.Call(ctx, tg, page.Navigate, page.NavigateParams{URL: url})
		if err == nil && res.ErrorText != "" {
			err = errors.New(res.ErrorText)
		}
		return err
	})
}

// BenchmarkBrowserFirstContentfulPaint loads the portal page in headless
// Chromium (warm: its script and stylesheet cached, as for a returning user)
// and reports its first contentful paint, fcp-ms (mean over the loads;
// ns/op is a whole load, navigation to a ready page):
//
//	KEYPORTAL_REQUIRE_SERVICES=1 go test -run '^$' -bench BrowserFirstContentfulPaint -benchtime 10x -count 5 ./middleware/portal
func BenchmarkBrowserFirstContentfulPaint(b *testing.B) {
	ctx := browser(b)
	e := newEnv(b, envOptions{listen: "127.0.0.1:0", realClock: true})
	e.app("aa_42", "acme", "http://127.0.0.1:1")
	req := ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: "http://127.0.0.1:1"}
	load := func(url string) float64 {
		testbrowser.Within(b, ctx, 20*time.Second, chromedp.Navigate(url))
		waitJS(b, ctx, `document.getElementById('portal').dataset.state === 'ready' && performance.getEntriesByName('first-contentful-paint').length > 0`)
		return testbrowser.Within(b, ctx, 5*time.Second, chromedp.Evaluate[float64](`performance.getEntriesByName('first-contentful-paint')[0].startTime`))
	}
	load(e.issue(req).URL) // warms the browser
	var total float64
	for b.Loop() {
		b.StopTimer()
		url := e.issue(req).URL
		b.StartTimer()
		total += load(url)
	}
	b.ReportMetric(total/float64(b.N), "fcp-ms")
}
