package wasmui

import (
	"sync/atomic"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// EagerGlobal is the window property where the page's eager script leaves
// the ticket request it started before the wasm loaded:
// {path, field, resource, promise}, the promise resolving to
// {status, retryAfter, date, body}. A Shell whose request matches adopts it
// (once) instead of fetching again.
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
}

func newBrowserEnv(s *Shell) *browserEnv { return &browserEnv{shell: s} }

func (b *browserEnv) now() time.Time { return time.Now() }

func (b *browserEnv) pageOrigin() string {
	return app.Window().Get("location").Get("origin").String()
}

func (b *browserEnv) afterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// frameWindow returns the contentWindow of the shell's iframe, or null.
func (b *browserEnv) frameWindow() app.Value {
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

func (b *browserEnv) listen(f func(Message)) func() {
	win := app.Window()
	handler := funcOf(func(this app.Value, args []app.Value) any {
		if len(args) == 0 {
			return nil
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
		msg := Message{
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

func (b *browserEnv) postTicket(tk, targetOrigin string) {
	frame := b.frameWindow()
	if !frame.Truthy() {
		return
	}
	msg := app.Window().Get("Object").New()
	msg.Set("type", ticket.MsgTicket)
	msg.Set("v", ticket.ProtocolVersion)
	msg.Set("ticket", tk)
	frame.Call("postMessage", msg, targetOrigin)
}

// fetchTicket adopts the eager request when it matches, else calls fetch.
func (b *browserEnv) fetchTicket(path, field, id string, done func(Result)) {
	win := app.Window()
	if eager := win.Get(EagerGlobal); eager.Truthy() {
		win.Delete(EagerGlobal) // single use: a ticket is good once
		if stringOf(eager.Get("path")) == path && stringOf(eager.Get("field")) == field &&
			stringOf(eager.Get("resource")) == id && eager.Get("promise").Truthy() {
			settle(eager.Get("promise"), func(v app.Value) Result {
				return Result{
					Status:     intOf(v.Get("status")),
					RetryAfter: stringOf(v.Get("retryAfter")),
					Date:       stringOf(v.Get("date")),
					Body:       stringOf(v.Get("body")),
				}
			}, done)
			return
		}
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

	var resp Result
	var onResponse app.Func
	var onError app.Func
	finish := func(r Result) {
		release(onResponse)
		release(onError)
		done(r)
	}
	onResponse = funcOf(func(this app.Value, args []app.Value) any {
		r := args[0]
		h := r.Get("headers")
		resp = Result{
			Status:     intOf(r.Get("status")),
			RetryAfter: stringOf(h.Call("get", "Retry-After")),
			Date:       stringOf(h.Call("get", "Date")),
		}
		// Read the body, then settle; the body promise has its own funcs.
		settle(r.Call("text"), func(v app.Value) Result {
			resp.Body = stringOf(v)
			return resp
		}, func(r Result) {
			if r.Status == 0 { // reading the body failed
				r = resp
				r.Body = ""
			}
			finish(r)
		})
		return nil
	})
	onError = funcOf(func(this app.Value, args []app.Value) any {
		finish(Result{Err: errorText(args)})
		return nil
	})
	promise := win.Call("fetch", path, opts)
	promise.Call("then", onResponse, onError)
}

// settle waits for a promise, turns its value into a Result with ok, and
// calls done once; a rejection becomes a network failure. Both js functions
// are released before done runs.
func settle(p app.Value, ok func(app.Value) Result, done func(Result)) {
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
		done(Result{Err: errorText(args)})
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
