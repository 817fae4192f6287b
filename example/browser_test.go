package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/portal"
	"github.com/keyportal/keyportal/wasmui"
)

// Texts and elements the settings page shows, as a user sees them.
const (
	// The page's one iframe, wherever the shell puts it.
	shellFrame    = `iframe`
	shellAlert    = `[role="alert"]`
	portalIsReady = `document.getElementById('portal').dataset.state === 'ready'`
	// firstLoad bounds the first wasm load of a fresh browser profile on a
	// loaded machine: download, compile, Go start, ticket.
	firstLoad = 90 * time.Second
)

// TestBrowserAdminManagesKeys is the product's main path in Chromium: alice
// (owner of acme) signs in with the sign-in form, the settings page shows
// the loading state and then the portal framed from its own site; she
// creates a key there whose secret works on /v1/whoami, revokes it and it
// stops working; her page session expires, the shell renews it in place
// (same frame, same document, same tab) and she creates another key without
// a reload.
func TestBrowserAdminManagesKeys(t *testing.T) {
	d := startLiveDemo(t)
	tab := newTab(t, chromium(t))

	// Sign in: the form sends alice to her first deployment's settings.
	signInWithForm(t, tab, d, "alice")
	waitFor(t, tab, 30*time.Second, `location.pathname === '/settings/api-keys/42'`)

	// The portal is in the page's first HTML (its ticket issued while the
	// page rendered), in Acme's own layout: its header and navigation
	// around it.
	waitFor(t, tab, 30*time.Second, `window.__firstRender !== undefined`)
	if first := eval[string](t, tab, `window.__firstFrame`); !strings.HasPrefix(first, d.acme.PortalURL+"/") {
		t.Fatalf("the settings page's first HTML had no portal frame (%q); it showed %q", first, eval[string](t, tab, `window.__firstRender`))
	}
	if first := eval[string](t, tab, `window.__firstRender`); strings.Contains(first, wasmui.TextLoading) {
		t.Fatalf("the settings page first showed the loading state with its portal: %q", first)
	}
	inLayout := `(() => {
	  const h = document.querySelector('[data-testid="acme-header"]'), n = document.querySelector('[data-testid="acme-nav"]');
	  const f = document.querySelector('main iframe');
	  return !!(h && n && f && h.innerText.includes('alice') && n.innerText.includes('Audit trail') &&
	    (h.compareDocumentPosition(f) & Node.DOCUMENT_POSITION_FOLLOWING) && (n.compareDocumentPosition(f) & Node.DOCUMENT_POSITION_FOLLOWING));
	})()`
	if !eval[bool](t, tab, inLayout) {
		t.Fatalf("the portal is not inside Acme's layout: %s", eval[string](t, tab, `document.body.innerHTML.slice(0, 2000)`))
	}
	frameSrc := eval[string](t, tab, q(shellFrame)+`.getAttribute('src')`)
	waitFor(t, tab, firstLoad, q(shellFrame+`[data-keyportal-ready]`))
	// The wasm took over the shell where it is: the header and navigation
	// are still there, the go-app component sits in the page's main card,
	// and the frame was neither replaced nor reloaded.
	waitFor(t, tab, firstLoad, q(`main .keyportal-shell:not([data-keyportal-prerendered]):not(.keyportal-frame-slot)`))
	if !eval[bool](t, tab, inLayout+` && document.body.firstElementChild.matches('[data-testid="acme-header"]') && document.querySelectorAll('iframe').length === 1`) {
		t.Fatalf("the wasm's mount changed Acme's layout: %s", eval[string](t, tab, `document.body.innerHTML.slice(0, 2000)`))
	}
	if src := eval[string](t, tab, q(shellFrame)+`.getAttribute('src')`); src != frameSrc {
		t.Fatalf("the wasm replaced the first HTML's frame: src %q, was %q", src, frameSrc)
	}
	if !strings.HasPrefix(frameSrc, d.acme.PortalURL+"/") {
		t.Fatalf("iframe src %q: want the portal's own site %s", frameSrc, d.acme.PortalURL)
	}
	if title := eval[string](t, tab, q(shellFrame)+`.title`); title != wasmui.DefaultTitle {
		t.Fatalf("iframe title %q, want %q", title, wasmui.DefaultTitle)
	}
	if busy := eval[bool](t, tab, `!!document.querySelector('[aria-busy="true"]')`); busy {
		t.Fatal("the page still says it is busy with the portal shown")
	}

	f := frameOf(t, tab, d.acme.PortalURL)
	waitFor(t, f, 30*time.Second, portalIsReady+` && `+q(tid("keys-status"))+`.textContent.includes('No active keys')`)

	// Create a key: the secret is shown once, and works on the public API.
	secret := createKey(t, f, "CI deploys")
	screenshot(t, tab, "create-key-secret.png")
	if status, body := d.whoamiBody(secret); status != http.StatusOK || !strings.Contains(body, `"acme"`) {
		t.Fatalf("whoami with the new key: %d %s, want 200 naming tenant acme", status, body)
	}
	click(t, f, tid("secret-done"))
	waitFor(t, f, 30*time.Second, `!`+q(tid("secret-dialog"))+`.open && `+q(keyRow("CI deploys")))

	// Revoke it: the next request with it fails.
	click(t, f, keyRow("CI deploys")+` [data-testid="revoke-key"]`)
	waitFor(t, f, 30*time.Second, q(tid("revoke-dialog"))+`.open`)
	typeInto(t, f, tid("revoke-reason"), "pasted in a public issue")
	click(t, f, tid("revoke-confirm"))
	waitFor(t, f, 30*time.Second, `!`+q(tid("revoke-dialog"))+`.open && !`+q(keyRow("CI deploys")))
	if status, body := d.whoamiBody(secret); status != http.StatusUnauthorized {
		t.Fatalf("whoami with the revoked key: %d %s, want 401", status, body)
	}

	// Alice looks at the activity tab: she opened the portal once.
	opened := `[...document.querySelectorAll('[data-testid="activity-item"]')].filter((li) => li.textContent.includes('alice opened the key portal')).length`
	click(t, f, tid("tab-activity"))
	waitFor(t, f, 30*time.Second, opened+` === 1`)
	// Marks that survive only if neither document is reloaded.
	runJS(t, tab, `window.__sameShellDocument = true`)
	runJS(t, f, `window.__samePortalDocument = true`)

	// Her page session expires (the servers' clock passes its TTL); her next
	// action in the portal finds it over, and the shell renews it in place:
	// one new ticket, posted to the same frame.
	d.clock.Advance(portal.DefaultSessionTTL + time.Minute)
	click(t, f, tid("tab-activity"))
	waitFor(t, f, 60*time.Second, portalIsReady+` && `+opened+` === 2`)
	if src := eval[string](t, tab, q(shellFrame)+`.getAttribute('src')`); src != frameSrc {
		t.Fatalf("the iframe src changed in the renewal: %q, was %q", src, frameSrc)
	}
	if !eval[bool](t, tab, `window.__sameShellDocument === true && !!`+q(shellFrame+`[data-keyportal-ready]`)) {
		t.Fatal("the settings page was reloaded by the renewal")
	}
	if !eval[bool](t, f, `window.__samePortalDocument === true`) {
		t.Fatal("the portal frame was reloaded by the renewal")
	}
	if sel := eval[string](t, f, q(tid("tab-activity"))+`.getAttribute('aria-selected')`); sel != "true" {
		t.Fatalf("the activity tab lost its selection in the renewal (aria-selected=%s)", sel)
	}

	// The renewed portal keeps working: another key, that works at once.
	again := createKey(t, f, "after renewal")
	if status, body := d.whoamiBody(again); status != http.StatusOK {
		t.Fatalf("whoami with the key made after the renewal: %d %s", status, body)
	}
	click(t, f, tid("secret-done"))
	click(t, f, tid("tab-keys"))
	waitFor(t, f, 30*time.Second, q(keyRow("after renewal"))+` && !`+q(keyRow("CI deploys")))
	// One ticket for the page and exactly one for the renewal.
	issued, err := d.acme.store.QueryAudit(context.Background(), audit.Query{Tenant: "acme", Action: audit.ActionTicketIssue, Actor: "alice", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(issued.Events); n != 2 {
		t.Fatalf("alice was issued %d tickets, want 2 (the page's and one renewal)", n)
	}

	// The README's screenshots: the settings page, light then dark.
	runJS(t, f, `document.activeElement && document.activeElement.blur()`)
	runJS(t, tab, `window.scrollTo(0, 0)`)
	screenshot(t, tab, "settings-light.png")
	colorScheme(t, "dark", tab, f)
	waitFor(t, tab, 30*time.Second, `matchMedia('(prefers-color-scheme: dark)').matches`)
	waitFor(t, f, 30*time.Second, `matchMedia('(prefers-color-scheme: dark)').matches && getComputedStyle(document.body).backgroundColor !== 'rgb(255, 255, 255)'`)
	screenshot(t, tab, "settings-dark.png")
}

// createKey creates a key named name in the portal frame and returns the
// secret the dialog shows, leaving the dialog open.
func createKey(t *testing.T, f context.Context, name string) string {
	t.Helper()
	click(t, f, tid("create-key"))
	waitFor(t, f, 30*time.Second, q(tid("create-dialog"))+`.open`)
	typeInto(t, f, tid("create-name"), name)
	click(t, f, tid("create-submit"))
	waitFor(t, f, 30*time.Second, q(tid("secret-dialog"))+`.open && `+q(tid("secret-output"))+`.value !== ''`)
	secret := eval[string](t, f, q(tid("secret-output"))+`.value`)
	if !regexp.MustCompile(`^acme_live_[A-Za-z0-9_-]{43}$`).MatchString(secret) {
		t.Fatalf("the portal showed the secret %q: want acme_live_ and 43 base64url characters", secret)
	}
	return secret
}

// TestBrowserNoTicketNoPortal shows what users who get no ticket see: a
// viewer, another tenant's admin, the admin of a suspended tenant (no
// permission, and no frame), and a visitor who is not signed in (sign in
// again).
func TestBrowserNoTicketNoPortal(t *testing.T) {
	d := startLiveDemo(t)
	b := chromium(t)
	cases := []struct {
		name, user, deployment string
		want                   []string
	}{
		{"viewer of acme", "dave", "42", []string{wasmui.TextForbidden, wasmui.TextAskAdmin}},
		{"globex admin on acme's deployment", "frank", "42", []string{wasmui.TextForbidden}},
		{"admin of suspended initech", "heidi", "99", []string{wasmui.TextForbidden}},
		{"signed out", "", "42", []string{wasmui.TextSignedOut, wasmui.TextSignIn}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tab := newTab(t, b)
			if tc.user == "" {
				clearCookies(t, tab)
			} else {
				signInWithForm(t, tab, d, tc.user)
			}
			within(t, tab, 30*time.Second, chromedp.Navigate(d.acme.AppURL+"/settings/api-keys/"+tc.deployment))
			// The refusal is in the page's first HTML, not shown once the
			// wasm is up.
			waitFor(t, tab, 30*time.Second, `window.__firstRender !== undefined`)
			if first := eval[string](t, tab, `window.__firstRender`); !strings.Contains(first, tc.want[0]) {
				t.Fatalf("the first HTML showed %q, want %q", first, tc.want[0])
			}
			// One evaluation reads the alert: the wasm replaces the server's
			// alert with its own, so a second query may find none between.
			alert := `(` + q(shellAlert) + `?.innerText ?? '')`
			var shows []string
			for _, w := range tc.want {
				shows = append(shows, alert+`.includes(`+jsString(w)+`)`)
			}
			waitFor(t, tab, firstLoad, strings.Join(shows, " && "))
			if eval[bool](t, tab, `!!document.querySelector('iframe')`) {
				t.Fatal("the page frames something for a user who may not manage keys")
			}
			if tc.user == "" {
				waitFor(t, tab, 10*time.Second, q(shellAlert+` a`)+`?.getAttribute('href') === '/login'`)
			}
		})
	}
}

// TestBrowserRestoredPageGetsAFreshTicket: the settings page is never
// cached (no-store), and one the browser restores from its back/forward
// cache anyway would show a frame whose single-use ticket is spent: the
// page reloads on that pageshow and shows the portal with a new ticket.
func TestBrowserRestoredPageGetsAFreshTicket(t *testing.T) {
	d := startLiveDemo(t)
	tab := newTab(t, chromium(t))
	signInWithForm(t, tab, d, "alice")
	waitFor(t, tab, 30*time.Second, `location.pathname === '/settings/api-keys/42' && window.__firstRender !== undefined`)
	first := eval[string](t, tab, `window.__firstFrame`)
	if first == "" {
		t.Fatalf("no portal frame in the first HTML: %s", eval[string](t, tab, `window.__firstRender`))
	}
	// What Chromium dispatches on a restore from the back/forward cache.
	runJS(t, tab, `window.__beforeRestore = true; window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))`)
	waitFor(t, tab, 30*time.Second, `window.__beforeRestore === undefined && typeof window.__firstFrame === 'string'`)
	second := eval[string](t, tab, `window.__firstFrame`)
	if second == "" || second == first {
		t.Fatalf("after the restore the page shows frame %q, want a new ticket (was %q)", second, first)
	}
	// A pageshow that is no restore (every load has one) changes nothing.
	runJS(t, tab, `window.__same = true; window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: false}))`)
	time.Sleep(500 * time.Millisecond)
	if !eval[bool](t, tab, `window.__same === true`) {
		t.Fatal("a pageshow without persisted reloaded the page")
	}
}
