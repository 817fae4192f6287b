//go:build js && wasm

// These tests run in jsdom (see jsdom_test.go and internal/jstest): the Shell
// is mounted by go-app's engine into a real DOM, fetch is stubbed, the
// portal's messages are real MessageEvents and timers run on a fake clock.

package wasmui

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall/js"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

const portal = "http://portal.test:8081"

// fakeClock runs the Shell's timers on demand.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at   time.Time
	f    func()
	done bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, tm)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !tm.done
		tm.done = true
		return was
	}
}

// Advance moves the clock, firing due timers in order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	for {
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		var next *fakeTimer
		for _, tm := range c.timers {
			if !tm.done && !tm.at.After(target) {
				next = tm
				break
			}
		}
		if next == nil {
			break
		}
		next.done = true
		c.now = next.at
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
	}
	c.now = target
	c.mu.Unlock()
}

// Active counts armed timers.
func (c *fakeClock) Active() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, tm := range c.timers {
		if !tm.done {
			n++
		}
	}
	return n
}

// clockEnv is the browser env with the fake clock.
type clockEnv struct {
	*browserEnv
	clock *fakeClock
}

func (e clockEnv) now() time.Time                                  { return e.clock.Now() }
func (e clockEnv) afterFunc(d time.Duration, f func()) func() bool { return e.clock.AfterFunc(d, f) }

// fetchCall is one call to the stubbed window.fetch.
type fetchCall struct {
	path, method, credentials, contentType, body string
	resolve, reject                              js.Value
}

func (c *fetchCall) respond(status int, body string, headers map[string]string) {
	h := js.Global().Get("Object").New()
	for k, v := range headers {
		h.Set(k, v)
	}
	init := js.Global().Get("Object").New()
	init.Set("status", status)
	init.Set("headers", h)
	c.resolve.Invoke(js.Global().Get("Response").New(body, init))
}

func (c *fetchCall) ticket(tk string, expiresIn time.Duration, now time.Time) {
	b, _ := json.Marshal(ticket.Response{Ticket: tk, ExpiresAt: now.Add(expiresIn).Unix(), URL: portal + "/vanity/api-auth?ticket=" + tk})
	c.respond(200, string(b), map[string]string{"Content-Type": "application/json"})
}

func (c *fetchCall) fail() {
	c.reject.Invoke(js.Global().Get("TypeError").New("Failed to fetch"))
}

// harness mounts one Shell in jsdom.
type harness struct {
	t      *testing.T
	engine app.TestEngine
	shell  *Shell
	clock  *fakeClock
	calls  []*fetchCall
	posted []js.Value
}

// prerendered is the shell's markup as middleware/shell serves it.
const prerendered = `<div class="keyportal-shell" data-keyportal-ticket-path="` + ticket.DefaultPath +
	`" data-keyportal-field="` + ticket.DefaultField + `" data-keyportal-resource="42" data-keyportal-title="` + DefaultTitle +
	`" data-keyportal-min-height="480" data-keyportal-prerendered aria-busy="true">` +
	`<p class="keyportal-status" role="status">` + TextLoading + `</p>` +
	`<div class="keyportal-start" hidden><p>` + TextFromAnotherSite + `</p><button type="button">` + TextOpen + `</button></div></div>`

func mount(t *testing.T, prepare func(h *harness)) *harness {
	t.Helper()
	return mountShell(t, &Shell{ResourceID: "42"}, prepare)
}

// mountShell serves the prerendered page, runs prepare (what happens before
// the wasm is up) and mounts s.
func mountShell(t *testing.T, s *Shell, prepare func(h *harness)) *harness {
	t.Helper()
	js.Global().Delete(EagerGlobal) // a fresh page
	doc := js.Global().Get("document")
	doc.Get("body").Set("innerHTML", prerendered)
	h := &harness{t: t, clock: &fakeClock{now: time.Unix(1_800_000_000, 0)}}

	var fetch js.Func
	fetch = js.FuncOf(func(this js.Value, args []js.Value) any {
		opts := args[1]
		c := &fetchCall{
			path:        args[0].String(),
			method:      opts.Get("method").String(),
			credentials: opts.Get("credentials").String(),
			contentType: opts.Get("headers").Get("Content-Type").String(),
			body:        opts.Get("body").String(),
		}
		exec := js.FuncOf(func(this js.Value, a []js.Value) any {
			c.resolve, c.reject = a[0], a[1]
			return nil
		})
		p := js.Global().Get("Promise").New(exec)
		exec.Release()
		h.calls = append(h.calls, c)
		return p
	})
	js.Global().Set("fetch", fetch)
	t.Cleanup(func() {
		js.Global().Delete("fetch")
		fetch.Release()
	})

	if prepare != nil {
		prepare(h)
	}
	h.shell = s
	h.shell.env = clockEnv{browserEnv: newBrowserEnv(h.shell), clock: h.clock}
	h.engine = app.NewTestEngine()
	if err := h.engine.Load(h.shell); err != nil {
		t.Fatal(err)
	}
	h.pump()
	t.Cleanup(h.dismount)
	return h
}

// dismount replaces the shell with an empty div.
func (h *harness) dismount() {
	if h.shell == nil {
		return
	}
	if err := h.engine.Load(&blank{}); err != nil {
		h.t.Fatal(err)
	}
	h.pump()
	h.shell = nil
}

type blank struct{ app.Compo }

func (b *blank) Render() app.UI { return app.Div() }

// pump lets the browser run its pending callbacks and go-app apply the
// resulting dispatches.
func (h *harness) pump() {
	for i := 0; i < 4; i++ {
		time.Sleep(time.Millisecond)
		if h.engine != nil { // nil before the wasm is "up"
			h.engine.ConsumeAll()
		}
	}
}

// waitFor pumps until cond holds, failing after a real-time deadline.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; shell: %s", what, h.html())
		}
		h.pump()
	}
}

// advance moves the fake clock a second at a time, letting go-app apply each
// timer's dispatch (which may arm the next timer) before moving on.
func (h *harness) advance(d time.Duration) {
	for ; d > 0; d -= time.Second {
		step := min(d, time.Second)
		h.clock.Advance(step)
		h.engine.ConsumeAll()
	}
	h.pump()
}

func (h *harness) lastCall() *fetchCall {
	h.t.Helper()
	if len(h.calls) == 0 {
		h.t.Fatal("no fetch call")
	}
	return h.calls[len(h.calls)-1]
}

func (h *harness) query(sel string) js.Value {
	return js.Global().Get("document").Call("querySelector", sel)
}

func (h *harness) html() string {
	if el := h.query(".keyportal-shell"); el.Truthy() {
		return el.Get("outerHTML").String()
	}
	return "(no shell)"
}

func (h *harness) text() string {
	if el := h.query(".keyportal-shell"); el.Truthy() {
		return el.Get("textContent").String()
	}
	return ""
}

func (h *harness) iframe() js.Value { return h.query(".keyportal-shell iframe") }

// spyOnFrame records what the shell posts to the iframe's window.
func (h *harness) spyOnFrame() {
	frame := h.iframe()
	if !frame.Truthy() {
		h.t.Fatal("no iframe to spy on")
	}
	spy := js.FuncOf(func(this js.Value, args []js.Value) any {
		h.posted = append(h.posted, js.Global().Get("Array").Call("from", js.ValueOf([]any{args[0], args[1]})))
		return nil
	})
	h.t.Cleanup(spy.Release)
	frame.Get("contentWindow").Set("postMessage", spy)
}

// send dispatches a message event on window as the portal (or another
// sender) would.
func (h *harness) send(source js.Value, origin string, data map[string]any) {
	init := js.Global().Get("Object").New()
	init.Set("data", js.ValueOf(data))
	init.Set("origin", origin)
	init.Set("source", source)
	js.Global().Call("dispatchEvent", js.Global().Get("MessageEvent").New("message", init))
	h.pump()
}

func (h *harness) frameWindow() js.Value { return h.iframe().Get("contentWindow") }

func msg(typ string, kv ...any) map[string]any {
	m := map[string]any{"type": typ, "v": 1}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// showFrame takes the harness from mount to a shown iframe for ticket t1.
func (h *harness) showFrame() {
	h.t.Helper()
	h.waitFor("the first fetch", func() bool { return len(h.calls) == 1 })
	h.lastCall().ticket("t1", 2*time.Minute, h.clock.Now())
	h.waitFor("the iframe", func() bool { return h.iframe().Truthy() })
}

// checkTicketFrame checks that the iframe f (what names it in failures)
// shows the portal for ticket t1, with the default title and clipboard
// access.
func checkTicketFrame(t *testing.T, what string, f js.Value) {
	t.Helper()
	for attr, want := range map[string]string{
		"src":   portal + "/vanity/api-auth?ticket=t1",
		"title": DefaultTitle,
		"allow": "clipboard-write",
	} {
		if got := f.Call("getAttribute", attr).String(); got != want {
			t.Errorf("%s %s=%q, want %q", what, attr, got, want)
		}
	}
}

func TestLifecycleFetchThenIframe(t *testing.T) {
	h := mount(t, nil)
	if h.query(`.keyportal-shell[aria-busy="true"]`).IsNull() || !strings.Contains(h.text(), TextLoading) {
		t.Fatalf("no loading state while the ticket is on its way: %s", h.html())
	}
	h.waitFor("the fetch", func() bool { return len(h.calls) == 1 })
	c := h.calls[0]
	if c.path != ticket.DefaultPath || c.method != "POST" || c.credentials != "same-origin" ||
		c.contentType != "application/json" || c.body != `{"deploymentId":"42"}` {
		t.Fatalf("request %+v", c)
	}
	c.ticket("t1", 2*time.Minute, h.clock.Now())
	h.waitFor("the iframe", func() bool { return h.iframe().Truthy() })
	f := h.iframe()
	checkTicketFrame(t, "iframe", f)
	if !strings.Contains(f.Call("getAttribute", "style").String(), "height:480px") ||
		!strings.Contains(f.Call("getAttribute", "style").String(), "width:100%") {
		t.Errorf("iframe style %q", f.Call("getAttribute", "style").String())
	}
	if !h.query(`.keyportal-shell[aria-busy]`).IsNull() {
		t.Error("still aria-busy with the frame shown")
	}
	if f.Call("hasAttribute", "data-keyportal-ready").Bool() {
		t.Error("ready before the frame said so")
	}

	h.send(h.frameWindow(), portal, msg(ticket.MsgReady, "session", ticket.SessionActive))
	h.waitFor("data-keyportal-ready", func() bool { return h.iframe().Call("hasAttribute", "data-keyportal-ready").Bool() })
	h.send(h.frameWindow(), portal, msg(ticket.MsgResize, "height", 812))
	h.waitFor("the resize", func() bool {
		return strings.Contains(h.iframe().Call("getAttribute", "style").String(), "height:812px")
	})
	if len(h.calls) != 1 {
		t.Fatalf("%d fetches after re-renders, want 1 (never a fetch per render)", len(h.calls))
	}
}

func TestLifecycleIgnoresForeignMessages(t *testing.T) {
	h := mount(t, nil)
	h.showFrame()
	h.spyOnFrame()
	win := js.Global()
	// Another origin, even from the frame's window; the right origin from
	// another window; a non-protocol message.
	h.send(h.frameWindow(), "http://evil.test", msg(ticket.MsgSessionExpired, "reason", "ttl"))
	h.send(h.frameWindow(), "http://evil.test", msg(ticket.MsgReady, "session", "active"))
	h.send(win, portal, msg(ticket.MsgSessionExpired, "reason", "ttl"))
	h.send(win, portal, msg(ticket.MsgResize, "height", 9000))
	h.send(h.frameWindow(), portal, map[string]any{"type": ticket.MsgSessionExpired, "v": 7})
	h.send(h.frameWindow(), portal, map[string]any{"hello": "world"})
	if len(h.calls) != 1 {
		t.Fatalf("%d fetches: a foreign message started a renewal", len(h.calls))
	}
	if h.iframe().Call("hasAttribute", "data-keyportal-ready").Bool() {
		t.Fatal("a foreign ready was believed")
	}
	if strings.Contains(h.iframe().Call("getAttribute", "style").String(), "9000") {
		t.Fatal("a foreign resize was applied")
	}
	if len(h.posted) != 0 {
		t.Fatal("something was posted to the frame")
	}
}

func TestLifecycleRenewInPlaceWhenReady(t *testing.T) {
	h := mount(t, nil)
	h.showFrame()
	h.send(h.frameWindow(), portal, msg(ticket.MsgReady, "session", ticket.SessionActive))
	h.spyOnFrame()
	frame := h.iframe()

	h.send(h.frameWindow(), portal, msg(ticket.MsgSessionExpired, "reason", ticket.ReasonTTL))
	h.send(h.frameWindow(), portal, msg(ticket.MsgSessionExpired, "reason", ticket.ReasonTTL))
	h.waitFor("the renewal fetch", func() bool { return len(h.calls) == 2 })
	h.pump()
	if len(h.calls) != 2 {
		t.Fatalf("%d fetches: more than one in flight", len(h.calls))
	}
	h.lastCall().ticket("t2", 2*time.Minute, h.clock.Now())
	h.waitFor("the ticket posted in place", func() bool { return len(h.posted) == 1 })
	got := h.posted[0]
	data, origin := got.Index(0), got.Index(1).String()
	if origin != portal || data.Get("type").String() != ticket.MsgTicket || data.Get("v").Int() != 1 || data.Get("ticket").String() != "t2" {
		t.Fatalf("posted %s to %q", js.Global().Get("JSON").Call("stringify", data).String(), origin)
	}
	if !h.iframe().Equal(frame) || !strings.HasSuffix(h.iframe().Get("src").String(), "ticket=t1") {
		t.Fatal("the iframe was replaced or reloaded; want the portal kept in place")
	}
}

func TestLifecycleRenewByReloadWhenNotReady(t *testing.T) {
	h := mount(t, nil)
	h.showFrame()
	h.spyOnFrame()
	h.send(h.frameWindow(), portal, msg(ticket.MsgSessionExpired, "reason", ticket.ReasonTicketExpired))
	h.waitFor("the renewal fetch", func() bool { return len(h.calls) == 2 })
	h.lastCall().ticket("t2", 2*time.Minute, h.clock.Now())
	h.waitFor("the reload", func() bool { return strings.HasSuffix(h.iframe().Get("src").String(), "ticket=t2") })
	if len(h.posted) != 0 {
		t.Fatal("posted a ticket to a frame that never said ready")
	}
}

func TestLifecycleSilentFrameRenewedAtExpiry(t *testing.T) {
	h := mount(t, nil)
	h.showFrame() // expires in 2 minutes; the frame never speaks (Wacht)
	h.advance(119 * time.Second)
	if len(h.calls) != 1 {
		t.Fatal("renewed before expires_at")
	}
	h.advance(time.Second)
	h.waitFor("the renewal at expires_at", func() bool { return len(h.calls) == 2 })
	h.lastCall().ticket("t2", 2*time.Minute, h.clock.Now())
	h.waitFor("the reload", func() bool { return strings.HasSuffix(h.iframe().Get("src").String(), "ticket=t2") })

	// A frame that speaks the protocol is not renewed on a timer.
	h.send(h.frameWindow(), portal, msg(ticket.MsgReady, "session", ticket.SessionActive))
	h.advance(10 * time.Minute)
	if len(h.calls) != 2 {
		t.Fatalf("%d fetches: a ready frame was renewed on a timer", len(h.calls))
	}
}

func TestLifecycleBackoff(t *testing.T) {
	h := mount(t, nil)
	h.waitFor("the first fetch", func() bool { return len(h.calls) == 1 })
	var waits []int
	for i := 0; i < 7; i++ {
		n := len(h.calls)
		if i%2 == 0 {
			h.lastCall().respond(503, "unavailable", nil)
		} else {
			h.lastCall().fail()
		}
		h.waitFor("the failure state", func() bool { return strings.Contains(h.text(), "Retrying in") })
		secs := 0
		for len(h.calls) == n {
			if secs > 60 {
				t.Fatalf("no retry within 60 s: %s", h.html())
			}
			h.advance(time.Second)
			secs++
		}
		waits = append(waits, secs)
	}
	want := []int{1, 2, 4, 8, 16, 30, 30}
	if !reflect.DeepEqual(waits, want) {
		t.Fatalf("retry waits %v s, want %v s", waits, want)
	}
	h.lastCall().ticket("t1", time.Minute, h.clock.Now())
	h.waitFor("the iframe after recovery", func() bool { return h.iframe().Truthy() })
}

func TestLifecycleRetryButtonAndRateLimit(t *testing.T) {
	h := mount(t, nil)
	h.waitFor("the first fetch", func() bool { return len(h.calls) == 1 })
	h.lastCall().respond(429, "slow down", map[string]string{"Retry-After": "3"})
	h.waitFor("the countdown", func() bool { return strings.Contains(h.text(), "Retrying in 3 s") })
	h.advance(time.Second)
	h.waitFor("the countdown to move", func() bool { return strings.Contains(h.text(), "Retrying in 2 s") })
	h.advance(2 * time.Second)
	h.waitFor("the automatic retry", func() bool { return len(h.calls) == 2 })

	h.lastCall().respond(500, "boom", nil)
	h.waitFor("the Retry button", func() bool { return h.query(".keyportal-shell button").Truthy() })
	h.query(".keyportal-shell button").Call("click")
	h.waitFor("the retry on click", func() bool { return len(h.calls) == 3 })
	h.advance(time.Minute) // the cancelled countdown must not fetch again
	if len(h.calls) != 3 {
		t.Fatalf("%d fetches: the countdown kept running after Retry", len(h.calls))
	}
	// The answer to the click takes the Retry button away: the countdown
	// it starts must still run (its timers belong to the Shell, not to
	// the button).
	h.lastCall().respond(429, "slow down", map[string]string{"Retry-After": "2"})
	h.waitFor("the countdown after Retry", func() bool { return strings.Contains(h.text(), "Retrying in 2 s") })
	h.advance(time.Second)
	h.waitFor("that countdown to move", func() bool { return strings.Contains(h.text(), "Retrying in 1 s") })
	h.advance(time.Second)
	h.waitFor("the automatic retry after Retry", func() bool { return len(h.calls) == 4 })
}

func TestLifecycleErrorStates(t *testing.T) {
	for status, want := range map[int]string{401: TextSignedOut, 403: TextForbidden} {
		h := mount(t, nil)
		h.waitFor("the fetch", func() bool { return len(h.calls) == 1 })
		h.lastCall().respond(status, "{}", nil)
		h.waitFor("the state", func() bool { return strings.Contains(h.text(), want) })
		if status == 401 && h.query(`.keyportal-shell a[href="/login"]`).IsNull() {
			t.Fatal("no sign-in link")
		}
		h.advance(time.Hour)
		if len(h.calls) != 1 {
			t.Fatalf("%d: retried automatically; %d is final", status, status)
		}
		h.dismount()
	}
}

// TestLifecycleRefusedRequestWaitsForRetry: the route refused the request
// itself (400 for a malformed id): the shell says so with a Retry button and
// asks nothing more on its own, as asking again would be refused again.
func TestLifecycleRefusedRequestWaitsForRetry(t *testing.T) {
	h := mount(t, nil)
	h.waitFor("the fetch", func() bool { return len(h.calls) == 1 })
	h.lastCall().respond(400, `{"error":"invalid deploymentId"}`, nil)
	h.waitFor("the Retry button", func() bool { return h.query(".keyportal-shell button").Truthy() })
	if text := h.text(); !strings.Contains(text, "unexpected answer 400") || strings.Contains(text, "Retrying in") {
		t.Fatalf("state %q: want the 400 without a countdown", text)
	}
	h.advance(time.Hour)
	if len(h.calls) != 1 {
		t.Fatalf("%d requests: a 400 was retried automatically", len(h.calls))
	}
	h.query(".keyportal-shell button").Call("click")
	h.waitFor("the retry on click", func() bool { return len(h.calls) == 2 })
}

func TestLifecycleAdoptsEagerRequest(t *testing.T) {
	h := mount(t, func(h *harness) {
		// What the page's script does before the wasm has loaded.
		js.Global().Call("eval", string(EagerScript))
		if len(h.calls) != 1 {
			t.Fatalf("the eager script made %d requests, want 1", len(h.calls))
		}
		c := h.calls[0]
		if c.path != ticket.DefaultPath || c.body != `{"deploymentId":"42"}` || c.credentials != "same-origin" || c.contentType != "application/json" {
			t.Fatalf("eager request %+v", c)
		}
		c.ticket("t1", 2*time.Minute, h.clock.Now()) // may settle before the shell mounts
	})
	h.waitFor("the iframe from the eager ticket", func() bool { return h.iframe().Truthy() })
	if len(h.calls) != 1 {
		t.Fatalf("%d requests, want the eager one only", len(h.calls))
	}
	if !js.Global().Get(EagerGlobal).IsUndefined() {
		t.Fatal("the eager request was not consumed")
	}
}

func TestLifecycleEagerRequestForAnotherResourceIsNotAdopted(t *testing.T) {
	h := mount(t, func(h *harness) {
		js.Global().Get("document").Call("querySelector", "[data-keyportal-resource]").Call("setAttribute", "data-keyportal-resource", "43")
		js.Global().Call("eval", string(EagerScript))
	})
	h.waitFor("the shell's own fetch", func() bool { return len(h.calls) == 2 })
	if h.calls[1].body != `{"deploymentId":"42"}` {
		t.Fatalf("own request %+v", h.calls[1])
	}
}

func TestLifecycleCleanupOnDismount(t *testing.T) {
	baseListeners := js.Global().Call("jstestListeners", "message").Int()
	baseFuncs := liveFuncs.Load()
	for i := 0; i < 5; i++ {
		h := mount(t, nil)
		if got := js.Global().Call("jstestListeners", "message").Int(); got != baseListeners+1 {
			t.Fatalf("round %d: %d message listeners while mounted, want %d", i, got, baseListeners+1)
		}
		switch i % 3 {
		case 0: // dismount with the frame shown and its expiry timer armed
			h.showFrame()
		case 1: // dismount in a countdown
			h.waitFor("fetch", func() bool { return len(h.calls) == 1 })
			h.lastCall().respond(503, "", nil)
			h.waitFor("the countdown", func() bool { return strings.Contains(h.text(), "Retrying") })
		case 2: // dismount with the request in flight, then let it settle
		}
		if h.clock.Active() == 0 && i%3 != 2 {
			t.Fatalf("round %d: no timer armed before dismount; the test proves nothing", i)
		}
		h.dismount()
		if i%3 == 2 {
			h.waitFor("fetch", func() bool { return len(h.calls) == 1 })
			h.lastCall().ticket("late", time.Minute, h.clock.Now())
			h.pump()
			if h.iframe().Truthy() {
				t.Fatal("a response after dismount rendered a frame")
			}
		}
		if n := h.clock.Active(); n != 0 {
			t.Fatalf("round %d: %d timers still armed after dismount", i, n)
		}
		if got := js.Global().Call("jstestListeners", "message").Int(); got != baseListeners {
			t.Fatalf("round %d: %d message listeners after dismount, want %d", i, got, baseListeners)
		}
		h.waitFor("js funcs released", func() bool { return liveFuncs.Load() == baseFuncs })
		calls := len(h.calls)
		h.advance(time.Hour)
		if len(h.calls) != calls {
			t.Fatalf("round %d: fetched after dismount", i)
		}
	}
}

// TestLifecycleResourceFromURLBeforeFirstRender mounts a shell that takes
// its resource id from the page URL (…/settings/api-keys/42) and records
// every mutation of the page: the "no resource id" alert must never show,
// not even for the first render (go-app renders before OnMount; a shell that
// resolved the id only there showed the alert, and kept it when nothing
// re-rendered).
func TestLifecycleResourceFromURLBeforeFirstRender(t *testing.T) {
	const noID = "carries no resource id"
	js.Global().Call("eval", `window.jstestSeen = "";
		window.jstestObserver = new MutationObserver(() => { window.jstestSeen += document.body.innerHTML; });
		window.jstestObserver.observe(document.body, {childList: true, subtree: true, characterData: true});`)
	t.Cleanup(func() { js.Global().Get("jstestObserver").Call("disconnect") })

	h := mountShell(t, &Shell{Routes: []string{"/settings/api-keys/:deploymentId"}}, nil)
	h.waitFor("the shell's fetch", func() bool { return len(h.calls) == 1 })
	if h.calls[0].body != `{"deploymentId":"42"}` {
		t.Fatalf("fetch %+v, want deployment 42 from the URL", h.calls[0])
	}
	h.pump()
	if seen := js.Global().Get("jstestSeen").String(); strings.Contains(seen, noID) || strings.Contains(h.html(), noID) {
		t.Fatalf("the shell showed %q on a URL that carries the id; shell now: %s", noID, h.html())
	}
}

// TestLifecycleInGerman: a Shell with a German table shows its states in
// German in the browser's DOM, and no English text of the table.
func TestLifecycleInGerman(t *testing.T) {
	en := English()
	noEnglish := func(h *harness) {
		t.Helper()
		for _, s := range []string{en.Forbidden, en.AskAdmin, en.RateLimited, "Retrying in", "Couldn't load", en.Retry, en.Loading} {
			if strings.Contains(h.text(), s) {
				t.Fatalf("English %q in the German shell: %q", s, h.text())
			}
		}
	}
	h := mountShell(t, &Shell{ResourceID: "42", Messages: german}, nil)
	h.waitFor("the fetch", func() bool { return len(h.calls) == 1 })
	h.lastCall().respond(429, "slow down", map[string]string{"Retry-After": "3"})
	h.waitFor("the German 429 state", func() bool { return strings.Contains(h.text(), "Zu viele Anfragen. Neuer Versuch in 3 s …") })
	noEnglish(h)
	h.advance(3 * time.Second)
	h.waitFor("the retry", func() bool { return len(h.calls) == 2 })
	h.lastCall().respond(503, "", nil)
	h.waitFor("the German failure", func() bool {
		return strings.Contains(h.text(), "(der Server antwortete 503). Neuer Versuch in 1 s …") && strings.Contains(h.text(), german.Retry)
	})
	noEnglish(h)
	h.advance(time.Second)
	h.waitFor("the next retry", func() bool { return len(h.calls) == 3 })
	h.lastCall().respond(403, "{}", nil)
	h.waitFor("the German 403 state", func() bool {
		return strings.Contains(h.text(), german.Forbidden) && strings.Contains(h.text(), german.AskAdmin)
	})
	noEnglish(h)
	h.dismount()
}
