//go:build js && wasm

// A page that issued its first ticket while it rendered (middleware/shell
// with Config.Tickets): the answer and the frame are in the first HTML; the
// eager script and then the Shell take them without a request of their own.

package wasmui

import (
	"encoding/json"
	"html"
	"strconv"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// servePage lays out the page as the server renders it with an answer:
// the shell element carrying the answer (the eager script reads it there
// when it runs without its own element, as under eval), the frame for a
// 200, then runs the eager script.
func servePage(h *harness, status int, body string, frameSrc string) {
	h.t.Helper()
	answer := ` data-keyportal-answer-status="` + strconv.Itoa(status) + `" data-keyportal-answer-body="` + html.EscapeString(body) + `"`
	page := strings.Replace(prerendered, ` data-keyportal-prerendered`, ` data-keyportal-prerendered`+answer, 1)
	if frameSrc != "" {
		page += `<div class="keyportal-shell keyportal-frame-slot"><iframe src="` + html.EscapeString(frameSrc) + `" title="` + DefaultTitle + `" allow="clipboard-write" style="width:100%;height:480px;border:0"></iframe></div>`
	}
	js.Global().Get("document").Get("body").Set("innerHTML", page)
	js.Global().Call("eval", string(EagerScript))
}

func TestServedFrameAdoptedWithoutARequest(t *testing.T) {
	var served js.Value
	h := mountShell(t, &Shell{ResourceID: "42"}, func(h *harness) {
		b, _ := json.Marshal(ticket.Response{Ticket: "t1", ExpiresAt: h.clock.Now().Add(2 * time.Minute).Unix(), URL: portal + "/vanity/api-auth?ticket=t1"})
		servePage(h, 200, string(b), portal+"/vanity/api-auth?ticket=t1")
		served = eagerFrameEl()
		h.waitFor("the eager script to take the served frame", func() bool {
			return eagerRequest().Truthy() && eagerRequest().Get("frame").Equal(served)
		})
		h.send(served.Get("contentWindow"), portal, msg(ticket.MsgReady, "session", ticket.SessionActive))
	})
	h.waitFor("the adoption", func() bool { return eagerRequest().IsUndefined() && h.shell.adopted })
	if len(h.calls) != 0 {
		t.Fatalf("%d ticket requests for a page that carried its ticket", len(h.calls))
	}
	if iframeCount() != 1 || !h.iframe().Equal(served) || served.Call("getAttribute", "src").String() != portal+"/vanity/api-auth?ticket=t1" {
		t.Fatalf("want the served iframe adopted as it is: %s", h.html())
	}
	if !h.shell.m.Ready() {
		t.Fatal("the ready message sent before the wasm was not replayed")
	}
	// Renewal in place still works on the served frame.
	h.spyOnFrame()
	h.send(served.Get("contentWindow"), portal, msg(ticket.MsgSessionExpired, "reason", ticket.ReasonTTL))
	h.waitFor("the renewal fetch", func() bool { return len(h.calls) == 1 })
	h.lastCall().ticket("t2", 2*time.Minute, h.clock.Now())
	h.waitFor("the ticket posted in place", func() bool { return len(h.posted) > 0 })
	if got := h.posted[len(h.posted)-1].Index(0).Get("ticket").String(); got != "t2" {
		t.Fatalf("posted ticket %q, want t2", got)
	}
}

func TestServedRefusalShownWithoutARequest(t *testing.T) {
	h := mountShell(t, &Shell{ResourceID: "42"}, func(h *harness) {
		servePage(h, 403, `{"error":"Forbidden"}`, "")
	})
	h.waitFor("the forbidden state", func() bool { return strings.Contains(h.text(), TextForbidden) })
	if len(h.calls) != 0 || iframeCount() != 0 {
		t.Fatalf("%d requests, %d iframes for a page that carried a 403", len(h.calls), iframeCount())
	}
}
