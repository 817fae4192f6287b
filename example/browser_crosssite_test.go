package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/chromedp"

	"github.com/keyportal/keyportal/wasmui"
)

// TestBrowserLinkFromAnotherSiteWaitsForClick (issue 14 §6): alice is
// signed in, and a page on another site links to her settings page. The
// link carries her Lax session cookie, but the page asks for no ticket
// until she clicks its "Open API keys" button; then for one, and the
// portal opens.
//
// The navigation is real: the tab first shows a page of the portal's
// origin (http://localhost:<port>, another site than the app's
// http://127.0.0.1:<port>) and follows a link on it with a mouse click, so
// Chromium itself sends Sec-Fetch-Site: cross-site. No header is injected.
// (Chromium keys its HTTP cache apart for cross-site main-frame
// navigations, so it does not revalidate the page cached from alice's own
// visit here; a browser that does gets the page that waits, which
// middleware/shell's TestPageIsNeverCached checks.)
func TestBrowserLinkFromAnotherSiteWaitsForClick(t *testing.T) {
	d := startLiveDemo(t)
	tab := newTab(t, chromium(t))

	// From the app itself, the page asks at once (same-origin).
	signInWithForm(t, tab, d, "alice")
	waitFor(t, tab, firstLoad, q(shellFrame+`[data-keyportal-ready]`))
	// (The page carries its ticket: issued while it rendered, audited as
	// the route's are.)
	if site, n := d.lastPageSite(), d.ticketAttempts(t, "alice"); site != "same-origin" || n != 1 {
		t.Fatalf("after sign-in: page requested with Sec-Fetch-Site %q, %d ticket attempts; want same-origin and 1", site, n)
	}

	// Another site links to the settings page.
	target := d.acme.AppURL + "/settings/api-keys/42"
	within(t, tab, 30*time.Second, chromedp.Navigate(d.acme.PortalURL+"/elsewhere"))
	runJS(t, tab, `document.body.innerHTML = '<a id="to-app">Manage your API keys</a>'; document.getElementById('to-app').href = `+jsString(target))
	mouseClick(t, tab, `#to-app`)
	waitFor(t, tab, 30*time.Second, `location.href === `+jsString(target))
	if site := d.lastPageSite(); site != "cross-site" {
		t.Fatalf("the settings page was requested with Sec-Fetch-Site %q, want cross-site", site)
	}

	// The shell is up (go-app's own element, not the server's), so both
	// the eager script and the wasm have had their chance to ask.
	waitFor(t, tab, firstLoad, `document.querySelector('.keyportal-shell:not([data-keyportal-prerendered]):not(.keyportal-frame-slot)')`)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if n := d.ticketAttempts(t, "alice"); n != 1 || d.ticketRequests() != 0 {
			t.Fatalf("the page opened from another site asked for %d ticket(s) without a click, want 0", n-1)
		}
	}
	if eval[bool](t, tab, `!!document.querySelector('iframe')`) {
		t.Fatal("the page frames the portal without a click")
	}

	// The button is there for everyone: a button whose accessible name is
	// "Open API keys", with the reason beside it.
	button := `.keyportal-start button`
	waitFor(t, tab, 30*time.Second, q(button)+` && `+q(button)+`.getClientRects().length > 0`)
	if shown := eval[string](t, tab, q(".keyportal-shell")+`.innerText`); !strings.Contains(shown, wasmui.TextFromAnotherSite) {
		t.Fatalf("the page shows %q, want it to say %q", shown, wasmui.TextFromAnotherSite)
	}
	if n := accessibleButtons(t, tab, wasmui.TextOpen); n != 1 {
		t.Fatalf("%d buttons named %q in the accessibility tree, want 1", n, wasmui.TextOpen)
	}

	// One click: one ticket, and the portal.
	mouseClick(t, tab, button)
	waitFor(t, tab, firstLoad, q(shellFrame+`[data-keyportal-ready]`))
	f := frameOf(t, tab, d.acme.PortalURL)
	waitFor(t, f, 30*time.Second, portalIsReady)
	if n := d.ticketAttempts(t, "alice"); n != 2 || d.ticketRequests() != 1 {
		t.Fatalf("%d ticket attempts after the click, want 1", n-1)
	}
}

// mouseClick clicks the middle of the element sel matches with the mouse,
// as a user does (a trusted click, unlike element.click()).
func mouseClick(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	at := eval[[]float64](t, tab, `(() => { const r = `+q(sel)+`.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`)
	within(t, tab, 30*time.Second, chromedp.MouseClickXY(at[0], at[1]))
}

// accessibleButtons counts the page's buttons whose computed accessible
// name is name, as assistive technology sees them.
func accessibleButtons(t *testing.T, tab context.Context, name string) int {
	t.Helper()
	doc, err := chromedp.Call(tab, dom.GetDocument, dom.GetDocumentParams{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := chromedp.Call(tab, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{NodeID: doc.Root.NodeID, AccessibleName: name, Role: "button"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, node := range res.Nodes {
		if !node.Ignored {
			n++
		}
	}
	return n
}
