//go:build js && wasm

// A page opened from another site (data-keyportal-start="click") asks for
// no ticket until the user clicks, whether the eager script or the Shell
// is up first, and then for one.

package wasmui

import (
	"strings"
	"syscall/js"
	"testing"
	"time"
)

// markStartOnClick sets the page's start mode on the prerendered shell
// element, where the eager script reads it when run by eval (no
// currentScript).
func markStartOnClick(h *harness) {
	h.query("[data-keyportal-resource]").Call("setAttribute", startAttr, StartOnClick)
}

// startButton is the visible start button, or null.
func (h *harness) startButton() js.Value {
	b := h.query(".keyportal-start:not([hidden]) button")
	if b.Truthy() && b.Get("textContent").String() != TextOpen {
		h.t.Fatalf("start button says %q, want %q", b.Get("textContent").String(), TextOpen)
	}
	return b
}

// TestHeldShellAsksOnlyAfterClick: without the eager script, the Shell
// shows the button, asks nothing (not even when its timers could run) and
// asks once on the click.
func TestHeldShellAsksOnlyAfterClick(t *testing.T) {
	h := mount(t, markStartOnClick)
	h.pump()
	h.advance(time.Minute)
	if len(h.calls) != 0 {
		t.Fatalf("%d ticket requests before the click, want 0", len(h.calls))
	}
	if !h.startButton().Truthy() || h.query(`[aria-busy="true"]`).Truthy() || strings.Contains(h.text(), TextLoading) {
		t.Fatalf("want the start button, not the loading state: %s", h.html())
	}
	h.startButton().Call("click")
	h.waitFor("the fetch after the click", func() bool { return len(h.calls) == 1 })
	if c := h.calls[0]; c.body != `{"deploymentId":"42"}` || c.credentials != "same-origin" {
		t.Fatalf("request %+v", c)
	}
	if h.startButton().Truthy() || h.query(`.keyportal-shell[aria-busy="true"]`).IsNull() {
		t.Fatalf("after the click: want the loading state: %s", h.html())
	}
	h.lastCall().ticket("t1", 2*time.Minute, h.clock.Now())
	h.waitFor("the iframe", func() bool { return h.iframe().Truthy() })
	h.pump()
	if len(h.calls) != 1 {
		t.Fatalf("%d ticket requests, want 1", len(h.calls))
	}
}

// TestHeldShellReadsTheModeFromTheEagerScriptElement: as middleware/shell
// serves the page, the mode is on the eager script's element in the head;
// the click marks it StartAtOnce, so that nothing on this page waits again.
func TestHeldShellReadsTheModeFromTheEagerScriptElement(t *testing.T) {
	doc := js.Global().Get("document")
	el := doc.Call("createElement", "script")
	el.Call("setAttribute", startAttr, StartOnClick)
	doc.Get("head").Call("appendChild", el)
	t.Cleanup(func() { el.Call("remove") })

	h := mount(t, nil)
	h.pump()
	if len(h.calls) != 0 || !h.startButton().Truthy() {
		t.Fatalf("%d requests, shell %s; want none and the start button", len(h.calls), h.html())
	}
	h.startButton().Call("click")
	h.waitFor("the fetch after the click", func() bool { return len(h.calls) == 1 })
	if got := el.Call("getAttribute", startAttr).String(); got != StartAtOnce {
		t.Fatalf("after the click the page says %s=%q, want %q", startAttr, got, StartAtOnce)
	}
}

// TestEagerScriptWaitsForClickThenShellAdopts: the eager script shows the
// prerendered button instead of asking; its click asks once, and the Shell,
// up later, adopts that request and its frame.
func TestEagerScriptWaitsForClickThenShellAdopts(t *testing.T) {
	h := mount(t, func(h *harness) {
		markStartOnClick(h)
		js.Global().Call("eval", string(EagerScript))
		h.pump()
		if len(h.calls) != 0 {
			t.Fatalf("the eager script made %d requests before the click, want 0", len(h.calls))
		}
		if !js.Global().Get(EagerGlobal).IsUndefined() {
			t.Fatal("the eager script left a request for the wasm to wait for")
		}
		b := h.startButton()
		if !b.Truthy() || h.query(".keyportal-status").Get("hidden").Bool() != true || h.query(`[aria-busy="true"]`).Truthy() {
			t.Fatalf("the eager script did not show the start button instead of the loading state: %s", h.html())
		}
		b.Call("click")
		b.Call("click") // a second click asks nothing more
		if len(h.calls) != 1 {
			t.Fatalf("the eager script made %d requests after the click, want 1", len(h.calls))
		}
		if h.startButton().Truthy() || h.query(`.keyportal-shell[aria-busy="true"]`).IsNull() {
			t.Fatalf("after the click: want the loading state: %s", h.html())
		}
		h.calls[0].ticket("t1", 2*time.Minute, h.clock.Now())
		h.waitFor("the eager iframe", func() bool { return eagerFrameEl().Truthy() })
	})
	h.waitFor("the adoption", func() bool { return eagerRequest().IsUndefined() && h.shell.adopted })
	if len(h.calls) != 1 || iframeCount() != 1 {
		t.Fatalf("%d requests, %d iframes; want the eager request and its frame only", len(h.calls), iframeCount())
	}
}

// TestEagerButtonUnclickedThenShellAsksOnce: the wasm comes up before the
// user clicked the eager script's button; the Shell shows its own, and its
// click asks once.
func TestEagerButtonUnclickedThenShellAsksOnce(t *testing.T) {
	h := mount(t, func(h *harness) {
		markStartOnClick(h)
		js.Global().Call("eval", string(EagerScript))
		h.pump()
	})
	h.pump()
	if len(h.calls) != 0 || !h.startButton().Truthy() {
		t.Fatalf("%d requests, shell %s; want none and the start button", len(h.calls), h.html())
	}
	h.startButton().Call("click")
	h.waitFor("the fetch after the click", func() bool { return len(h.calls) == 1 })
	h.pump()
	if len(h.calls) != 1 {
		t.Fatalf("%d requests after one click, want 1", len(h.calls))
	}
}

// TestEagerScriptLateForAHeldShellAsksNothing: an eager script that runs
// only after the Shell is up (async) finds the Shell's own element, which
// says it waits, and leaves the click to the Shell.
func TestEagerScriptLateForAHeldShellAsksNothing(t *testing.T) {
	h := mount(t, markStartOnClick)
	h.pump()
	js.Global().Call("eval", string(EagerScript))
	h.pump()
	if len(h.calls) != 0 {
		t.Fatalf("the late eager script made %d requests, want 0", len(h.calls))
	}
	h.startButton().Call("click")
	h.waitFor("the fetch after the click", func() bool { return len(h.calls) == 1 })
	h.pump()
	if len(h.calls) != 1 {
		t.Fatalf("%d requests after one click, want 1", len(h.calls))
	}
}
