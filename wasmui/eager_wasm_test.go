//go:build js && wasm

// The eager path in jsdom: the page's script shows the portal before the
// wasm is up, and the Shell adopts that iframe when it mounts.

package wasmui

import (
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
)

func eagerRequest() js.Value { return js.Global().Get(EagerGlobal) }

// eagerFrameEl is the iframe the eager script inserted, or null.
func eagerFrameEl() js.Value {
	return js.Global().Get("document").Call("querySelector", ".keyportal-frame-slot iframe")
}

func iframeCount() int {
	return js.Global().Get("document").Call("querySelectorAll", "iframe").Length()
}

// startEager runs the page's eager script and answers its request with
// ticket t1, as happens before the wasm has loaded; it returns the iframe
// the script shows.
func startEager(h *harness) js.Value {
	h.t.Helper()
	js.Global().Call("eval", string(EagerScript))
	if len(h.calls) != 1 {
		h.t.Fatalf("the eager script made %d requests, want 1", len(h.calls))
	}
	h.calls[0].ticket("t1", 2*time.Minute, h.clock.Now())
	h.waitFor("the eager iframe", func() bool { return eagerFrameEl().Truthy() })
	return eagerFrameEl()
}

func TestEagerFrameShownBeforeTheWasm(t *testing.T) {
	mountShell(t, &Shell{ResourceID: "42"}, func(h *harness) {
		f := startEager(h)
		checkTicketFrame(t, "eager iframe", f)
		if w, hgt := f.Get("style").Get("width").String(), f.Get("style").Get("height").String(); w != "100%" || hgt != "480px" {
			t.Errorf("eager iframe width %q height %q, want 100%% and 480px", w, hgt)
		}
		if !h.query(".keyportal-shell[aria-busy]").IsNull() || strings.Contains(h.text(), TextLoading) {
			t.Errorf("still loading with the portal shown: %s", h.html())
		}
		// Selectors that match the shell's own iframe match this one too.
		if !h.iframe().Equal(f) {
			t.Error(".keyportal-shell iframe does not find the eager iframe")
		}
	})
}

func TestEagerScriptIgnoresForeignMessages(t *testing.T) {
	mountShell(t, &Shell{ResourceID: "42"}, func(h *harness) {
		f := startEager(h)
		win := f.Get("contentWindow")
		h.send(win, "http://evil.test", msg(ticket.MsgReady, "session", ticket.SessionActive))
		h.send(win, "http://evil.test", msg(ticket.MsgSessionExpired, "reason", ticket.ReasonTTL))
		h.send(js.Global(), portal, msg(ticket.MsgResize, "height", 9000))
		h.send(js.Global(), portal, msg(ticket.MsgReady, "session", ticket.SessionActive))
		h.send(win, portal, map[string]any{"type": ticket.MsgSessionExpired, "v": 2})
		h.send(win, portal, map[string]any{"type": "keyportal:unknown", "v": 1})
		if n := eagerRequest().Get("messages").Length(); n != 0 {
			t.Fatalf("the eager script queued %d foreign or malformed messages", n)
		}
		if f.Call("hasAttribute", "data-keyportal-ready").Bool() || f.Get("style").Get("height").String() != "480px" {
			t.Fatal("a foreign message changed the eager iframe")
		}
	})
}

func TestShellAdoptsEagerFrame(t *testing.T) {
	var eagerFrame js.Value
	baseListeners := js.Global().Call("jstestListeners", "message").Int()
	h := mountShell(t, &Shell{ResourceID: "42"}, func(h *harness) {
		eagerFrame = startEager(h)
		win := eagerFrame.Get("contentWindow")
		h.send(win, portal, msg(ticket.MsgReady, "session", ticket.SessionActive))
		h.send(win, portal, msg(ticket.MsgResize, "height", 640))
		h.send(win, portal, msg(ticket.MsgResize, "height", 700))
		if !eagerFrame.Call("hasAttribute", "data-keyportal-ready").Bool() || eagerFrame.Get("style").Get("height").String() != "700px" {
			t.Fatal("the eager script did not show ready and the size at once")
		}
		if n := eagerRequest().Get("messages").Length(); n != 2 {
			t.Fatalf("%d queued messages, want ready and the last resize", n)
		}
	})
	h.waitFor("the adoption", func() bool { return eagerRequest().IsUndefined() && h.shell.adopted })
	if len(h.calls) != 1 {
		t.Fatalf("%d ticket requests, want the eager one only", len(h.calls))
	}
	if iframeCount() != 1 || !h.iframe().Equal(eagerFrame) {
		t.Fatalf("want the eager iframe adopted, not another: %s", js.Global().Get("document").Get("body").Get("innerHTML").String())
	}
	if src := eagerFrame.Call("getAttribute", "src").String(); !strings.HasSuffix(src, "ticket=t1") {
		t.Fatalf("the adopted iframe was reloaded: src %q", src)
	}
	// The replayed messages are the Shell's state now.
	if !h.shell.m.Ready() || h.shell.m.Height() != 700 {
		t.Fatalf("after replay: ready %v height %d, want true and 700", h.shell.m.Ready(), h.shell.m.Height())
	}
	if !h.query(`[aria-busy="true"]`).IsNull() || strings.Contains(h.text(), TextLoading) {
		t.Fatalf("loading shown above an adopted frame: %s", h.html())
	}
	if got := js.Global().Call("jstestListeners", "message").Int(); got != baseListeners+1 {
		t.Fatalf("%d message listeners, want the Shell's only (the eager one removed)", got-baseListeners)
	}

	// The Shell owns renewal and resize now: one fetch, the ticket posted
	// in place, the frame kept.
	h.spyOnFrame()
	h.send(eagerFrame.Get("contentWindow"), portal, msg(ticket.MsgResize, "height", 900))
	h.waitFor("the resize", func() bool { return eagerFrame.Get("style").Get("height").String() == "900px" })
	h.send(eagerFrame.Get("contentWindow"), portal, msg(ticket.MsgSessionExpired, "reason", ticket.ReasonTTL))
	h.waitFor("the renewal fetch", func() bool { return len(h.calls) == 2 })
	h.pump()
	if len(h.calls) != 2 {
		t.Fatalf("%d fetches: a message was handled twice", len(h.calls))
	}
	h.lastCall().ticket("t2", 2*time.Minute, h.clock.Now())
	h.waitFor("the ticket posted in place", func() bool { return len(h.posted) > 0 })
	if got := h.posted[len(h.posted)-1].Index(0).Get("ticket").String(); got != "t2" {
		t.Fatalf("posted ticket %q, want t2", got)
	}
	if iframeCount() != 1 || !strings.HasSuffix(eagerFrame.Call("getAttribute", "src").String(), "ticket=t1") {
		t.Fatal("the renewal replaced or reloaded the adopted frame")
	}

	h.dismount()
	if iframeCount() != 0 || h.query(".keyportal-frame-slot").Truthy() {
		t.Fatal("the adopted frame outlived the Shell")
	}
	if got := js.Global().Call("jstestListeners", "message").Int(); got != baseListeners {
		t.Fatalf("%d message listeners left after dismount", got-baseListeners)
	}
}

func TestShellReplaysExpiryQueuedBeforeTheWasm(t *testing.T) {
	var eagerFrame js.Value
	h := mountShell(t, &Shell{ResourceID: "42"}, func(h *harness) {
		eagerFrame = startEager(h)
		h.spyOnFrame()
		// The portal found the ticket stale while the wasm was loading.
		win := eagerFrame.Get("contentWindow")
		h.send(win, portal, msg(ticket.MsgReady, "session", ticket.SessionNone))
		h.send(win, portal, msg(ticket.MsgSessionExpired, "reason", ticket.ReasonTicketExpired))
		if len(h.calls) != 1 {
			t.Fatal("renewed before the Shell was up")
		}
	})
	h.waitFor("the renewal from the replayed expiry", func() bool { return len(h.calls) == 2 })
	h.lastCall().ticket("t2", 2*time.Minute, h.clock.Now())
	h.waitFor("the ticket posted in place", func() bool { return len(h.posted) == 1 })
	if got := h.posted[0].Index(0).Get("ticket").String(); got != "t2" {
		t.Fatalf("posted ticket %q, want t2", got)
	}
	if iframeCount() != 1 || !h.iframe().Equal(eagerFrame) || !strings.HasSuffix(eagerFrame.Get("src").String(), "ticket=t1") {
		t.Fatal("the frame was replaced or reloaded")
	}
}

func TestShellRendersEagerFailures(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   string
	}{
		{401, TextSignedOut},
		{403, TextForbidden},
		{429, "Retrying in 4 s"},
		{503, "Couldn't load the API key manager (the server answered 503)"},
	} {
		h := mount(t, func(h *harness) {
			js.Global().Call("eval", string(EagerScript))
			h.calls[0].respond(tc.status, "{}", map[string]string{"Retry-After": "4"})
			h.pump()
			if iframeCount() != 0 {
				t.Fatalf("%d: the eager script showed a frame", tc.status)
			}
		})
		h.waitFor("the state", func() bool { return strings.Contains(h.text(), tc.want) })
		if len(h.calls) != 1 {
			t.Fatalf("%d: %d requests, want the eager one only", tc.status, len(h.calls))
		}
		h.dismount()
	}
}

func TestEagerFrameWithUnusableURLIsNotShown(t *testing.T) {
	h := mount(t, func(h *harness) {
		js.Global().Call("eval", string(EagerScript))
		h.calls[0].respond(200, `{"ticket":"t1","expires_at":1800000120,"url":"javascript:alert(1)"}`, nil)
		h.pump()
		if iframeCount() != 0 {
			t.Fatal("the eager script framed a javascript: URL")
		}
	})
	h.waitFor("the failure", func() bool { return strings.Contains(h.text(), "unusable portal URL") })
	if iframeCount() != 0 {
		t.Fatal("a frame was shown for a javascript: URL")
	}
}

// fakeMedia stubs matchMedia with a prefers-color-scheme query whose
// answer the test flips.
func fakeMedia(t *testing.T, dark bool) js.Value {
	mq := js.Global().Get("EventTarget").New()
	mq.Set("matches", dark)
	var fn js.Func
	fn = js.FuncOf(func(this js.Value, args []js.Value) any { return mq })
	js.Global().Set("matchMedia", fn)
	t.Cleanup(func() {
		js.Global().Delete("matchMedia")
		fn.Release()
	})
	return mq
}

func TestShellPostsThePageTheme(t *testing.T) {
	mq := fakeMedia(t, false)
	h := mount(t, nil)
	h.showFrame()
	h.spyOnFrame()
	h.send(h.frameWindow(), portal, msg(ticket.MsgReady, "session", ticket.SessionActive))
	h.waitFor("the theme", func() bool { return len(h.posted) == 1 })
	theme := func(i int) (string, string, string) {
		d := h.posted[i].Index(0)
		return d.Get("type").String(), d.Get("theme").String(), h.posted[i].Index(1).String()
	}
	if typ, th, origin := theme(0); typ != ticket.MsgTheme || th != ticket.ThemeLight || origin != portal {
		t.Fatalf("posted %s %s to %s, want the light theme to %s", typ, th, origin, portal)
	}
	mq.Set("matches", true)
	mq.Call("dispatchEvent", js.Global().Get("Event").New("change"))
	h.waitFor("the change", func() bool { return len(h.posted) == 2 })
	if _, th, _ := theme(1); th != ticket.ThemeDark {
		t.Fatalf("posted %s after the page turned dark", th)
	}
	h.dismount()
	mq.Set("matches", false)
	mq.Call("dispatchEvent", js.Global().Get("Event").New("change"))
	h.pump()
	if len(h.posted) != 2 {
		t.Fatal("a theme was posted after dismount")
	}
}

func TestShellFixedTheme(t *testing.T) {
	mq := fakeMedia(t, false)
	h := mountShell(t, &Shell{ResourceID: "42", Theme: ticket.ThemeDark}, nil)
	h.showFrame()
	h.spyOnFrame()
	h.send(h.frameWindow(), portal, msg(ticket.MsgReady, "session", ticket.SessionActive))
	h.waitFor("the theme", func() bool { return len(h.posted) == 1 })
	mq.Call("dispatchEvent", js.Global().Get("Event").New("change"))
	h.pump()
	if th := h.posted[0].Index(0).Get("theme").String(); th != ticket.ThemeDark || len(h.posted) != 1 {
		t.Fatalf("posted %d themes, first %q; want dark once", len(h.posted), th)
	}
}

func TestShellForwardsPortalEvents(t *testing.T) {
	var got []string
	listener := js.FuncOf(func(this js.Value, args []js.Value) any {
		got = append(got, args[0].Get("detail").Get("name").String())
		return nil
	})
	js.Global().Call("addEventListener", hostEvent, listener)
	t.Cleanup(func() {
		js.Global().Call("removeEventListener", hostEvent, listener)
		listener.Release()
	})
	h := mount(t, nil)
	h.showFrame()
	h.send(h.frameWindow(), portal, msg(ticket.MsgEvent, "name", ticket.EventKeyCreated))
	h.send(h.frameWindow(), "http://evil.test", msg(ticket.MsgEvent, "name", ticket.EventKeyRevoked))
	h.send(js.Global(), portal, msg(ticket.MsgEvent, "name", ticket.EventKeyRevoked))
	h.send(h.frameWindow(), portal, msg(ticket.MsgEvent, "name", "secret.leaked"))
	h.send(h.frameWindow(), portal, msg(ticket.MsgEvent, "name", ticket.EventKeyRotated))
	h.waitFor("the events", func() bool { return len(got) >= 2 })
	h.pump()
	if strings.Join(got, ",") != "key.created,key.rotated" {
		t.Fatalf("the page heard %v, want key.created and key.rotated from the frame only", got)
	}
}

func TestEagerScriptLateForTheShellAsksNothing(t *testing.T) {
	h := mount(t, nil)
	h.waitFor("the shell's own fetch", func() bool { return len(h.calls) == 1 })
	// The async eager script runs only now: the shell already asked.
	js.Global().Call("eval", string(EagerScript))
	h.pump()
	if len(h.calls) != 1 {
		t.Fatalf("%d ticket requests, want the shell's only", len(h.calls))
	}
}

func TestEagerSettledOnceTheFrameIsShown(t *testing.T) {
	mountShell(t, &Shell{ResourceID: "42"}, func(h *harness) {
		js.Global().Call("eval", string(EagerScript))
		settled := false
		var then js.Func
		then = js.FuncOf(func(this js.Value, args []js.Value) any {
			settled = true
			if !eagerFrameEl().Truthy() {
				t.Error("settled before the frame was shown")
			}
			then.Release()
			return nil
		})
		eagerRequest().Get("settled").Call("then", then)
		h.pump()
		if settled {
			t.Fatal("settled before the ticket arrived")
		}
		h.calls[0].ticket("t1", 2*time.Minute, h.clock.Now())
		h.waitFor("settled", func() bool { return settled })
	})
}

// TestShellRenewsAfterManyQueuedEvents: the portal reported more key actions
// than the eager script queues before the wasm was up, then that its
// session ended; the Shell still renews it once it is up.
func TestShellRenewsAfterManyQueuedEvents(t *testing.T) {
	h := mountShell(t, &Shell{ResourceID: "42"}, func(h *harness) {
		win := startEager(h).Get("contentWindow")
		h.send(win, portal, msg(ticket.MsgReady, "session", ticket.SessionActive))
		for i := 0; i < 20; i++ {
			h.send(win, portal, msg(ticket.MsgEvent, "name", ticket.EventKeyCreated))
		}
		h.send(win, portal, msg(ticket.MsgSessionExpired, "reason", ticket.ReasonTTL))
	})
	h.waitFor("the renewal from the queued expiry", func() bool { return len(h.calls) == 2 })
}
