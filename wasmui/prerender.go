package wasmui

import (
	"html"
	"regexp"
	"strconv"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// Prerendered is a Shell's markup as the server sends it in the page's first
// HTML, before any script runs (middleware/shell renders it).
type Prerendered struct {
	// Shell is the shell element: the loading state, or the state the
	// ticket route's answer puts the shell in (signed out, forbidden, rate
	// limited, failed).
	Shell string
	// Frame is, for an answer with a ticket, the portal iframe in its slot,
	// to follow Shell: the eager script and then the Shell adopt it, so the
	// portal loads as the HTML is parsed and is never reloaded. Else "".
	Frame string
	// PortalOrigin is the origin of Frame's URL ("" without a frame).
	PortalOrigin string
}

// bareAriaBusy: go-app's encoder writes an attribute whose value is "true"
// as a bare name, which for aria-busy means "" (not busy).
var bareAriaBusy = regexp.MustCompile(` aria-busy([ >])`)

// Prerender renders s for the page at pageOrigin+path. With a nil answer
// the shell shows its loading state and the page's scripts ask for the
// ticket (or wait for the click: see StartOnClick); with the answer of the
// ticket route issued while the page rendered
// (middleware.TicketRoute.PageTicket), the shell is rendered as it will be
// once it has that answer, so that an error state shows at once and a
// ticket's portal loads with the HTML. now is the server's clock.
func (s *Shell) Prerender(pageOrigin, path string, answer *ticket.Answer, now time.Time) Prerendered {
	s.resolve(path)
	var p Prerendered
	if answer != nil && s.ResourceID != "" {
		s.m = machine{PageOrigin: pageOrigin, MinHeight: s.MinHeight}
		s.m.Start()
		s.m.Fetched(answerResult(answer, now), now)
		if s.m.Phase() == phaseFrame {
			// The frame goes in a slot after the shell element (see
			// eager.js): go-app replaces that element when the wasm mounts.
			s.adopted = true
			p.PortalOrigin = s.m.PortalOrigin()
			p.Frame = `<div class="keyportal-shell keyportal-frame-slot"><iframe src="` + html.EscapeString(s.m.FrameURL()) +
				`" title="` + html.EscapeString(s.text().FrameTitle) + `" allow="clipboard-write" style="width:100%;height:` +
				strconv.Itoa(s.m.Height()) + `px;border:0"></iframe></div>`
		}
	}
	p.Shell = bareAriaBusy.ReplaceAllString(app.HTMLString(s), ` aria-busy="true"$1`)
	return p
}

// answerResult is the answer as the browser's fetch would have seen it,
// with the server's clock as its Date.
func answerResult(a *ticket.Answer, now time.Time) result {
	return result{Status: a.Status, RetryAfter: a.RetryAfter, Date: now.UTC().Format(httpDate), Body: string(a.Body)}
}
