package wasmui

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// EagerGlobal is the window property where the page's eager script
// (EagerScript) leaves the ticket request it started before the wasm loaded,
// and the frame it shows for a 200 (see eager.js for the fields). A Shell
// whose request matches adopts both, once, instead of fetching again.
const EagerGlobal = "keyportalTicketRequest"

// liveFuncs counts js functions created by browserEnv and not yet released,
// so tests can prove that nothing leaks over mount and dismount.
var liveFuncs atomic.Int64

func funcOf(fn func(this app.Value, args []app.Value) any) app.Func {
	liveFuncs.Add(1)
	return app.FuncOf(fn)
}

func release(f app.Func) {
	liveFuncs.Add(-1)
	f.Release()
}

// browserEnv is the Shell's env in a browser: fetch, postMessage and the
// message listener go through app.Window(); timers are Go timers.
type browserEnv struct {
	shell *Shell
	eager app.Value // the eager request taken by fetchTicket, until adoptFrame
	frame app.Value // the adopted iframe
}

func newBrowserEnv(s *Shell) *browserEnv { return &browserEnv{shell: s} }

func (b *browserEnv) now() time.Time { return time.Now() }

func (b *browserEnv) pageOrigin() string {
	return app.Window().Get("location").Get("origin").String()
}

func (b *browserEnv) pagePath() string {
	return app.Window().Get("location").Get("pathname").String()
}

func (b *browserEnv) afterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// frameWindow returns the contentWindow of the shell's iframe, or null.
func (b *browserEnv) frameWindow() app.Value {
	if b.frame != nil {
		return b.frame.Get("contentWindow")
	}
	root := b.shell.JSValue()
	if root == nil || !root.Truthy() {
		return app.Null()
	}
	frame := root.Call("querySelector", "iframe")
	if !frame.Truthy() {
		return app.Null()
	}
	return frame.Get("contentWindow")
}

func (b *browserEnv) listen(f func(message)) func() {
	win := app.Window()
	handler := funcOf(func(this app.Value, args []app.Value) any {
		if len(args) == 0 {
			return nil
		}
		if b.eagerListening() {
			return nil // queued by the eager script; adoptFrame replays it
		}
		ev := args[0]
		data := ev.Get("data")
		if data.Type() != app.TypeObject || data.IsNull() {
			return nil
		}
		typ := data.Get("type")
		if typ.Type() != app.TypeString {
			return nil
		}
		frame := b.frameWindow()
		msg := message{
			Origin:    stringOf(ev.Get("origin")),
			FromFrame: frame.Truthy() && ev.Get("source").Equal(frame),
			Data: ticket.Message{
				Type:    typ.String(),
				V:       intOf(data.Get("v")),
				Session: stringOf(data.Get("session")),
				Reason:  stringOf(data.Get("reason")),
				Height:  intOf(data.Get("height")),
				Name:    stringOf(data.Get("name")),
			},
		}
		f(msg)
		return nil
	})
	win.Call("addEventListener", "message", handler)
	return func() {
		win.Call("removeEventListener", "message", handler)
		release(handler)
	}
}

func (b *browserEnv) post(m ticket.Message, targetOrigin string) {
	frame := b.frameWindow()
	if !frame.Truthy() {
		return
	}
	msg := app.Window().Get("Object").New()
	msg.Set("type", m.Type)
	msg.Set("v", ticket.ProtocolVersion)
	if m.Ticket != "" {
		msg.Set("ticket", m.Ticket)
	}
	if m.Theme != "" {
		msg.Set("theme", m.Theme)
	}
	frame.Call("postMessage", msg, targetOrigin)
}

// emitEvent dispatches hostEvent on the shell's element (bubbling to the
// document and window), or on window when the element is gone.
func (b *browserEnv) emitEvent(name string) {
	win := app.Window()
	detail := win.Get("Object").New()
	detail.Set("name", name)
	init := win.Get("Object").New()
	init.Set("detail", detail)
	init.Set("bubbles", true)
	init.Set("composed", true)
	ev := win.Get("CustomEvent").New(hostEvent, init)
	var target app.Value = win
	if root := b.shell.JSValue(); root != nil && root.Truthy() && root.Get("isConnected").Truthy() {
		target = root
	}
	target.Call("dispatchEvent", ev)
}

func (b *browserEnv) watchScheme(f func(string)) (string, func()) {
	win := app.Window()
	if win.Get("matchMedia").Type() != app.TypeFunction {
		return "", func() {}
	}
	mq := win.Call("matchMedia", "(prefers-color-scheme: dark)")
	if !mq.Truthy() || mq.Get("addEventListener").Type() != app.TypeFunction {
		return "", func() {}
	}
	theme := func() string {
		if mq.Get("matches").Truthy() {
			return ticket.ThemeDark
		}
		return ticket.ThemeLight
	}
	onChange := funcOf(func(this app.Value, args []app.Value) any {
		f(theme())
		return nil
	})
	mq.Call("addEventListener", "change", onChange)
	return theme(), func() {
		mq.Call("removeEventListener", "change", onChange)
		release(onChange)
	}
}

// eagerRequest returns the eager request this env took, or the one still
// waiting on window, or nil.
func (b *browserEnv) eagerRequest() app.Value {
	if b.eager != nil {
		return b.eager
	}
	if e := app.Window().Get(EagerGlobal); e.Truthy() {
		return e
	}
	return nil
}

// startElement returns the page's element that carries startAttr (the
// eager script's, as middleware/shell renders it), or null.
func startElement() app.Value {
	return app.Window().Get("document").Call("querySelector", "["+startAttr+"]")
}

func (b *browserEnv) waitForClick() bool {
	if b.eagerRequest() != nil {
		return false // the eager script asked: at once, or after the click
	}
	el := startElement()
	if !el.Truthy() {
		return false
	}
	v := stringOf(el.Call("getAttribute", startAttr))
	return v != "" && v != StartAtOnce
}

func (b *browserEnv) opened() {
	if el := startElement(); el.Truthy() {
		el.Call("setAttribute", startAttr, StartAtOnce)
	}
}

func (b *browserEnv) eagerFrame() bool {
	e := b.eagerRequest()
	return e != nil && e.Get("frame").Truthy()
}

// eagerListening reports whether the eager script still queues the frame's
// messages: those are replayed on adoption, not handled twice.
func (b *browserEnv) eagerListening() bool {
	e := b.eagerRequest()
	return e != nil && e.Get("listening").Truthy()
}

func (b *browserEnv) adoptFrame(url string) ([]message, bool) {
	e := b.eager
	if e == nil {
		return nil, false
	}
	b.eager = nil
	f := e.Get("frame")
	if url == "" || !f.Truthy() || stringOf(f.Call("getAttribute", "src")) != url {
		callIfFunc(e, "discard")
		return nil, false
	}
	q := e.Call("adopt")
	if !q.Truthy() {
		return nil, false // already adopted or discarded
	}
	b.frame = f
	origin := stringOf(e.Get("origin"))
	msgs := make([]message, 0, q.Length())
	for i := 0; i < q.Length(); i++ {
		d := q.Index(i)
		msgs = append(msgs, message{
			// The eager script checked event.source against this frame.
			Origin:    origin,
			FromFrame: true,
			Data: ticket.Message{
				Type:    stringOf(d.Get("type")),
				V:       intOf(d.Get("v")),
				Session: stringOf(d.Get("session")),
				Reason:  stringOf(d.Get("reason")),
				Height:  intOf(d.Get("height")),
				Name:    stringOf(d.Get("name")),
			},
		})
	}
	return msgs, true
}

func (b *browserEnv) updateFrame(url, title string, height int, ready bool) {
	f := b.frame
	if f == nil {
		return
	}
	if stringOf(f.Call("getAttribute", "src")) != url {
		f.Call("setAttribute", "src", url) // renewal by reload
	}
	if stringOf(f.Call("getAttribute", "title")) != title {
		f.Call("setAttribute", "title", title)
	}
	f.Get("style").Set("height", strconv.Itoa(height)+"px")
	if ready {
		f.Call("setAttribute", "data-keyportal-ready", "true")
	} else {
		f.Call("removeAttribute", "data-keyportal-ready")
	}
}

func (b *browserEnv) removeFrame() {
	if e := b.eager; e != nil {
		b.eager = nil
		callIfFunc(e, "discard")
	}
	f := b.frame
	if f == nil {
		return
	}
	b.frame = nil
	// Remove the eager script's slot with it.
	target := f
	if p := f.Get("parentNode"); p.Truthy() && p.Get("classList").Call("contains", "keyportal-frame-slot").Truthy() {
		target = p
	}
	if target.Get("parentNode").Truthy() {
		target.Get("parentNode").Call("removeChild", target)
	}
}

func callIfFunc(v app.Value, method string) {
	if v.Get(method).Type() == app.TypeFunction {
		v.Call(method)
	}
}

// fetchTicket adopts the eager request when it matches, else calls fetch.
func (b *browserEnv) fetchTicket(path, field, id string, done func(result)) {
	win := app.Window()
	if eager := win.Get(EagerGlobal); eager.Truthy() {
		win.Delete(EagerGlobal) // single use: a ticket is good once
		if stringOf(eager.Get("path")) == path && stringOf(eager.Get("field")) == field &&
			stringOf(eager.Get("resource")) == id && eager.Get("promise").Truthy() {
			// adoptFrame decides about its frame.
			b.eager = eager
			settle(eager.Get("promise"), func(v app.Value) result {
				return result{
					Status:     intOf(v.Get("status")),
					RetryAfter: stringOf(v.Get("retryAfter")),
					Date:       stringOf(v.Get("date")),
					Body:       stringOf(v.Get("body")),
				}
			}, done)
			return
		}
		callIfFunc(eager, "discard") // a request for something else
	} else {
		// An eager script that runs only now (async, and later than the
		// wasm) must not ask for a second ticket.
		win.Set(EagerGlobal, nil)
	}

	body := win.Get("Object").New()
	body.Set(field, id)
	headers := win.Get("Object").New()
	headers.Set("Content-Type", "application/json")
	opts := win.Get("Object").New()
	opts.Set("method", "POST")
	opts.Set("credentials", "same-origin")
	opts.Set("headers", headers)
	opts.Set("body", win.Get("JSON").Call("stringify", body))

	var resp result
	var onResponse app.Func
	var onError app.Func
	finish := func(r result) {
		release(onResponse)
		release(onError)
		done(r)
	}
	onResponse = funcOf(func(this app.Value, args []app.Value) any {
		r := args[0]
		h := r.Get("headers")
		resp = result{
			Status:     intOf(r.Get("status")),
			RetryAfter: stringOf(h.Call("get", "Retry-After")),
			Date:       stringOf(h.Call("get", "Date")),
		}
		// Read the body, then settle; the body promise has its own funcs.
		settle(r.Call("text"), func(v app.Value) result {
			resp.Body = stringOf(v)
			return resp
		}, func(r result) {
			if r.Status == 0 { // reading the body failed
				r = resp
				r.Body = ""
			}
			finish(r)
		})
		return nil
	})
	onError = funcOf(func(this app.Value, args []app.Value) any {
		finish(result{Err: errorText(args)})
		return nil
	})
	promise := win.Call("fetch", path, opts)
	promise.Call("then", onResponse, onError)
}

// settle waits for a promise, turns its value into a result with ok, and
// calls done once; a rejection becomes a network failure. Both js functions
// are released before done runs.
func settle(p app.Value, ok func(app.Value) result, done func(result)) {
	var onOK, onErr app.Func
	onOK = funcOf(func(this app.Value, args []app.Value) any {
		release(onOK)
		release(onErr)
		v := app.Undefined()
		if len(args) > 0 {
			v = args[0]
		}
		done(ok(v))
		return nil
	})
	onErr = funcOf(func(this app.Value, args []app.Value) any {
		release(onOK)
		release(onErr)
		done(result{Err: errorText(args)})
		return nil
	})
	p.Call("then", onOK, onErr)
}

func errorText(args []app.Value) string {
	if len(args) == 0 || !args[0].Truthy() {
		return "network error"
	}
	return stringOf(app.Window().Get("String").Invoke(args[0]))
}

func stringOf(v app.Value) string {
	if v.Type() != app.TypeString {
		return ""
	}
	return v.String()
}

func intOf(v app.Value) int {
	if v.Type() != app.TypeNumber {
		return 0
	}
	return v.Int()
}
