package main

import (
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
)

// TestBrowserPortalWhileTheShellBuilds is a first start: the shell's wasm
// is still being built (a go command that builds only when the test says
// so), yet the app answers, and alice's settings page shows the portal in
// its iframe through the eager script. When the build ends the shell's
// component takes over the same page, without a reload, and the portal
// stays.
func TestBrowserPortalWhileTheShellBuilds(t *testing.T) {
	wasm := prebuiltShell(t) // before the fake go command is on PATH
	fake := testenv.NewFakeGo(t, wasm)
	d := startLiveDemo(t, func(o *options) { o.ShellWasm = "" })
	tab := newTab(t, chromium(t))

	signInWithForm(t, tab, d, "alice")
	waitFor(t, tab, 30*time.Second, `location.pathname === '/settings/api-keys/42'`)
	waitFor(t, tab, firstLoad, q(shellFrame+`[data-keyportal-ready]`))
	if src := eval[string](t, tab, q(shellFrame)+`.getAttribute('src')`); !strings.HasPrefix(src, d.acme.PortalURL+"/") {
		t.Fatalf("iframe src %q: want the portal at %s", src, d.acme.PortalURL)
	}
	f := frameOf(t, tab, d.acme.PortalURL)
	waitFor(t, f, 30*time.Second, portalIsReady)
	// Still the server's markup: the wasm has not run.
	if !eval[bool](t, tab, `!!document.querySelector('.keyportal-shell[data-keyportal-prerendered]')`) {
		t.Fatal("the shell's component ran although its wasm is not built")
	}

	fake.Release(t)
	waitFor(t, tab, firstLoad, `document.querySelector('.keyportal-shell') && !document.querySelector('.keyportal-shell[data-keyportal-prerendered]')`)
	waitFor(t, tab, 30*time.Second, q(shellFrame+`[data-keyportal-ready]`))
	if n := eval[int](t, tab, `document.querySelectorAll('iframe').length`); n != 1 {
		t.Fatalf("%d iframes after the wasm took over, want 1", n)
	}
	if nav := eval[int](t, tab, `performance.getEntriesByType('navigation').length`); nav != 1 {
		t.Fatalf("%d navigations: the page reloaded", nav)
	}
}
