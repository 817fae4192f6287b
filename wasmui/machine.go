package wasmui

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// phase is what the shell shows.
type phase int

// The phases of a Shell.
const (
	// phaseLoading: the first ticket is on its way.
	phaseLoading phase = iota
	// phaseFrame: the portal iframe is shown.
	phaseFrame
	// phaseSignedOut: the ticket route answered 401.
	phaseSignedOut
	// phaseForbidden: the ticket route answered 403.
	phaseForbidden
	// phaseRateLimited: the ticket route answered 429; a countdown runs.
	phaseRateLimited
	// phaseFailed: any other failure; a Retry button is offered and,
	// unless the route refused the request itself (another 4xx), a
	// countdown to the next automatic retry runs.
	phaseFailed
	// phaseHeld: the page was opened from another site; nothing is asked
	// until the user clicks.
	phaseHeld
)

// timerKind names the two timers a machine uses.
type timerKind int

const (
	// timerTick fires every second while a countdown (429 or backoff) runs.
	timerTick timerKind = iota
	// timerExpiry fires at the ticket's expires_at, for frames that have not
	// said keyportal:ready (an unused ticket, or Wacht's hosted page whose
	// session ends then).
	timerExpiry
)

// effectKind is what the browser layer must do for a machine.
type effectKind int

const (
	// effectFetch: request one ticket from the ticket route.
	effectFetch effectKind = iota
	// effectSetTimer: (re)arm Timer to fire After from now.
	effectSetTimer
	// effectStopTimer: disarm Timer.
	effectStopTimer
	// effectPostTicket: post {"type":"keyportal:ticket","v":1,"ticket":Ticket}
	// to the iframe's window with targetOrigin TargetOrigin.
	effectPostTicket
	// effectPostTheme: post {"type":"keyportal:theme","v":1,"theme":Theme}
	// to the iframe's window with targetOrigin TargetOrigin.
	effectPostTheme
	// effectEmitEvent: tell the host page that the portal did Event (one of
	// ticket.EventKeyCreated, EventKeyRotated, EventKeyRevoked), so it can
	// refresh its own UI.
	effectEmitEvent
)

// effect is one instruction from the machine to the browser layer.
type effect struct {
	Kind         effectKind
	Timer        timerKind
	After        time.Duration
	Ticket       string
	Theme        string
	Event        string
	TargetOrigin string
}

// result is the outcome of one ticket request as the browser saw it.
type result struct {
	// Status is the HTTP status, 0 when the request failed on the network.
	Status int
	// RetryAfter is the Retry-After header, if any.
	RetryAfter string
	// Date is the Date header, if any; it lets expires_at be read against the
	// server's clock rather than the browser's.
	Date string
	// Body is the response body.
	Body string
	// Err describes a network failure (Status 0).
	Err string
}

// message is a postMessage event as the browser layer saw it.
type message struct {
	// Origin is event.origin.
	Origin string
	// FromFrame reports whether event.source is the iframe's contentWindow.
	FromFrame bool
	// Data is the message; only keyportal protocol messages matter.
	Data ticket.Message
}

// Limits and defaults of the machine.
const (
	// maxHeight bounds what a frame may ask for.
	maxHeight = 20000
	// maxBackoff caps the delay between automatic retries.
	maxBackoff = 30 * time.Second
	// defaultRetryAfter is used for a 429 without a usable Retry-After.
	defaultRetryAfter = 5
	// maxRetryAfter bounds the countdown a server may impose.
	maxRetryAfter = 600
	// minTicketLife is the least time a ticket is given before it is
	// replaced, so a skewed clock cannot cause a tight refetch loop.
	minTicketLife = 5 * time.Second
	// churnWindow: a session that expires again this soon after a renewal
	// counts as a failed renewal.
	churnWindow = time.Minute
	// maxChurn is how many renewals in a row a frame that never reaches an
	// active session gets: one in place, one reload at once, then reloads
	// after 1, 2, 4, 8, 16 and 30 s (the backoff's cap). At the next expiry
	// the shell gives up and shows failNoSession until the user clicks
	// Retry.
	maxChurn = 8
)

// httpDate is the layout of HTTP date headers (net/http.TimeFormat, copied so
// the wasm does not need net/http).
const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"

// machine is the shell's state machine, free of any browser API so that it
// can be table-tested. Every input returns the effects the browser layer must
// carry out; the machine never fetches on its own and never per render.
type machine struct {
	// PageOrigin is the embedding page's origin, used to resolve a relative
	// portal URL.
	PageOrigin string
	// MinHeight is the iframe's minimum height (DefaultMinHeight if 0).
	MinHeight int
	// Theme is posted to the frame each time it says ready (ticket.ThemeLight,
	// ThemeDark or ThemeSystem); "" posts none. Change it with SetTheme.
	Theme string

	phase        phase
	frameURL     string // iframe src; "" while no frame is shown
	portalOrigin string // origin of frameURL; messages must come from it
	ready        bool   // the current frame said keyportal:ready
	height       int    // height requested by the frame
	inFlight     bool   // a ticket request is outstanding
	failures     int    // consecutive failures, for backoff
	churn        int    // renewals since the frame last had an active session
	lastRenewal  time.Time
	countdown    int     // seconds left before the next automatic retry
	fail         failure // what went wrong, for phaseFailed
	failStatus   int     // the status that went wrong, for phaseFailed
	waiting      bool    // an automatic retry is scheduled
}

// Phase returns the current phase.
func (m *machine) Phase() phase { return m.phase }

// FrameURL returns the iframe src, or "" when no frame is shown.
func (m *machine) FrameURL() string { return m.frameURL }

// PortalOrigin returns the origin the frame's messages must come from.
func (m *machine) PortalOrigin() string { return m.portalOrigin }

// Ready reports whether the current frame has said keyportal:ready.
func (m *machine) Ready() bool { return m.ready }

// Height returns the iframe height in CSS pixels.
func (m *machine) Height() int {
	min := m.MinHeight
	if min <= 0 {
		min = DefaultMinHeight
	}
	if m.height < min {
		return min
	}
	return m.height
}

// InFlight reports whether a ticket request is outstanding.
func (m *machine) InFlight() bool { return m.inFlight }

// Countdown returns the seconds left before the next automatic retry.
func (m *machine) Countdown() int { return m.countdown }

// Failure returns what went wrong in phaseFailed, and the HTTP status.
func (m *machine) Failure() (failure, int) { return m.fail, m.failStatus }

// SetTheme changes the theme and posts it to a frame that has said ready.
func (m *machine) SetTheme(theme string) []effect {
	if !validTheme(theme) || theme == m.Theme {
		return nil
	}
	m.Theme = theme
	if !m.ready || m.frameURL == "" || theme == "" {
		return nil
	}
	return []effect{{Kind: effectPostTheme, Theme: theme, TargetOrigin: m.portalOrigin}}
}

func validTheme(t string) bool {
	switch t {
	case "", ticket.ThemeLight, ticket.ThemeDark, ticket.ThemeSystem:
		return true
	}
	return false
}

// Start asks for the first ticket.
func (m *machine) Start() []effect {
	return m.fetch(nil)
}

// Hold replaces Start on a page opened from another site: the shell asks
// for nothing until Open.
func (m *machine) Hold() []effect {
	if m.phase == phaseLoading && !m.inFlight {
		m.phase = phaseHeld
	}
	return nil
}

// Open is the user's click on a held shell: it asks for the first ticket.
func (m *machine) Open() []effect {
	if m.phase != phaseHeld {
		return nil
	}
	m.phase = phaseLoading
	return m.fetch(nil)
}

// Retry is the Retry button: it cancels any countdown and fetches now.
func (m *machine) Retry() []effect {
	if m.phase == phaseHeld {
		return nil // only Open asks on a held shell
	}
	m.churn = 0 // the user asks afresh
	var fx []effect
	if m.waiting {
		m.waiting = false
		m.countdown = 0
		fx = append(fx, effect{Kind: effectStopTimer, Timer: timerTick})
	}
	return m.fetch(fx)
}

// Stop is called on dismount: it disarms every timer. Results still in
// flight must be dropped by the caller.
func (m *machine) Stop() []effect {
	m.waiting = false
	m.inFlight = false
	return []effect{
		{Kind: effectStopTimer, Timer: timerTick},
		{Kind: effectStopTimer, Timer: timerExpiry},
	}
}

func (m *machine) fetch(fx []effect) []effect {
	if m.inFlight {
		return fx
	}
	m.inFlight = true
	return append(fx, effect{Kind: effectFetch})
}

// Fetched takes the result of the outstanding ticket request; now is the
// browser's clock.
func (m *machine) Fetched(r result, now time.Time) []effect {
	if !m.inFlight {
		return nil // a stale result (after Stop): ignore
	}
	m.inFlight = false
	switch {
	case r.Status == 200:
		return m.gotTicket(r, now)
	case r.Status == 401:
		m.dropFrame()
		m.phase = phaseSignedOut
		return []effect{{Kind: effectStopTimer, Timer: timerExpiry}}
	case r.Status == 403:
		m.dropFrame()
		m.phase = phaseForbidden
		return []effect{{Kind: effectStopTimer, Timer: timerExpiry}}
	case r.Status == 429:
		m.phase = phaseRateLimited
		m.fail, m.failStatus = failNone, 0
		return m.wait(retryAfter(r.RetryAfter, serverNow(r.Date, now)))
	case r.Status >= 400 && r.Status < 500 && r.Status != 408:
		// The route refused the request itself (a malformed id, no route
		// there): asking again would be refused again, and write another
		// audit row. Only the Retry button asks.
		m.phase = phaseFailed
		m.fail, m.failStatus = failUnexpected, r.Status
		return nil
	default:
		m.phase = phaseFailed
		m.fail, m.failStatus = classify(r), r.Status
		m.failures++
		return m.wait(int(backoff(m.failures) / time.Second))
	}
}

func (m *machine) gotTicket(r result, now time.Time) []effect {
	var resp ticket.Response
	if err := json.Unmarshal([]byte(r.Body), &resp); err != nil || resp.Ticket == "" || resp.URL == "" {
		m.phase = phaseFailed
		m.fail, m.failStatus = failNoTicket, r.Status
		m.failures++
		return m.wait(int(backoff(m.failures) / time.Second))
	}
	origin, ok := originOf(resp.URL, m.PageOrigin)
	if !ok {
		m.phase = phaseFailed
		m.fail, m.failStatus = failBadURL, r.Status
		m.failures++
		return m.wait(int(backoff(m.failures) / time.Second))
	}
	m.failures = 0
	m.fail, m.failStatus = failNone, 0
	m.countdown = 0
	m.phase = phaseFrame
	if m.ready && m.frameURL != "" && origin == m.portalOrigin {
		// Renew in place: the frame keeps its state and takes the ticket.
		return []effect{{Kind: effectPostTicket, Ticket: resp.Ticket, TargetOrigin: m.portalOrigin}}
	}
	// (Re)load the frame with the ticket's URL; it must say ready before the
	// ticket expires, or the ticket is replaced.
	m.frameURL = resp.URL
	m.portalOrigin = origin
	m.ready = false
	return []effect{{Kind: effectSetTimer, Timer: timerExpiry, After: ticketLife(resp.ExpiresAt, r.Date, now)}}
}

func (m *machine) dropFrame() {
	m.frameURL, m.portalOrigin, m.ready, m.height = "", "", false, 0
	m.waiting, m.countdown, m.fail, m.failStatus = false, 0, failNone, 0
}

func (m *machine) wait(seconds int) []effect {
	m.countdown = seconds
	m.waiting = true
	return []effect{{Kind: effectSetTimer, Timer: timerTick, After: time.Second}}
}

// Message takes a postMessage event received at now. Anything not from the
// frame's window and the portal's exact origin is ignored.
func (m *machine) Message(msg message, now time.Time) []effect {
	if m.frameURL == "" || !msg.FromFrame || msg.Origin != m.portalOrigin || msg.Data.V != ticket.ProtocolVersion {
		return nil
	}
	switch msg.Data.Type {
	case ticket.MsgReady:
		fx := []effect(nil)
		if !m.ready {
			// The frame speaks the protocol: it will say when its session
			// ends, so the expiry timer is no longer needed.
			fx = append(fx, effect{Kind: effectStopTimer, Timer: timerExpiry})
		}
		m.ready = true
		if msg.Data.Session == ticket.SessionActive {
			m.churn = 0
		}
		if m.Theme != "" && validTheme(m.Theme) {
			// Each ready may be a new document: tell it the theme again.
			fx = append(fx, effect{Kind: effectPostTheme, Theme: m.Theme, TargetOrigin: m.portalOrigin})
		}
		return fx
	case ticket.MsgResize:
		h := msg.Data.Height
		if h > maxHeight {
			h = maxHeight
		}
		if h > 0 {
			m.height = h
		}
		return nil
	case ticket.MsgSessionExpired:
		return m.renew(now)
	case ticket.MsgEvent:
		switch msg.Data.Name {
		case ticket.EventKeyCreated, ticket.EventKeyRotated, ticket.EventKeyRevoked:
			return []effect{{Kind: effectEmitEvent, Event: msg.Data.Name}}
		}
	}
	return nil
}

// renew fetches one new ticket for the current frame. A frame that keeps
// expiring without ever reaching an active session is reloaded with backoff
// instead of being fed tickets in a tight loop, and after maxChurn renewals
// it is dropped for the failure notice: only Retry asks again.
func (m *machine) renew(now time.Time) []effect {
	if m.inFlight || m.waiting {
		return nil
	}
	if now.Sub(m.lastRenewal) > churnWindow {
		m.churn = 0 // the last renewal worked for a while: start afresh
	}
	m.lastRenewal = now
	m.churn++
	if m.churn > maxChurn {
		m.dropFrame()
		m.phase = phaseFailed
		m.fail = failNoSession
		return []effect{{Kind: effectStopTimer, Timer: timerExpiry}}
	}
	if m.churn > 1 {
		m.ready = false // a fresh frame, not another ticket in place
	}
	if m.churn > 2 {
		m.waiting = true
		m.countdown = int(backoff(m.churn-2) / time.Second)
		return []effect{{Kind: effectSetTimer, Timer: timerTick, After: time.Second}}
	}
	return m.fetch(nil)
}

// Timer takes a fired timer.
func (m *machine) Timer(k timerKind) []effect {
	switch k {
	case timerTick:
		if !m.waiting {
			return nil
		}
		m.countdown--
		if m.countdown > 0 {
			return []effect{{Kind: effectSetTimer, Timer: timerTick, After: time.Second}}
		}
		m.countdown = 0
		m.waiting = false
		return m.fetch(nil)
	case timerExpiry:
		if m.frameURL == "" || m.ready || m.waiting {
			return nil
		}
		// The frame never said ready: either the ticket expired unused or
		// the frame (Wacht's) does not speak the protocol and its session
		// ends now. Either way it needs a fresh ticket, by reload.
		return m.fetch(nil)
	}
	return nil
}

// backoff returns the wait before automatic retry n (1-based): 1, 2, 4 … 30 s.
func backoff(n int) time.Duration {
	d := time.Second
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	if d > maxBackoff {
		d = maxBackoff
	}
	return d
}

// retryAfter reads a Retry-After header (seconds or an HTTP date, from now
// on the server's clock) as whole seconds, at least 1.
func retryAfter(h string, now time.Time) int {
	h = strings.TrimSpace(h)
	n := defaultRetryAfter
	if s, err := strconv.Atoi(h); err == nil {
		n = s
	} else if t, err := time.Parse(httpDate, h); err == nil {
		n = int((t.Sub(now) + time.Second - 1) / time.Second)
	}
	if n < 1 {
		n = 1
	}
	if n > maxRetryAfter {
		n = maxRetryAfter
	}
	return n
}

// ticketLife is how long until expiresAt (unix seconds), measured against the
// server's Date header when there is one.
func ticketLife(expiresAt int64, date string, now time.Time) time.Duration {
	d := time.Unix(expiresAt, 0).Sub(serverNow(date, now))
	if d < minTicketLife {
		d = minTicketLife
	}
	return d
}

// serverNow is the server's clock when it answered: its Date header if
// there is a readable one, else the browser's clock now. Times the server
// sends (expires_at, a Retry-After date) are read against it, so a skewed
// browser clock shortens or stretches none of them.
func serverNow(date string, now time.Time) time.Time {
	if t, err := time.Parse(httpDate, strings.TrimSpace(date)); err == nil {
		return t
	}
	return now
}

// originOf returns the origin of a portal URL, resolved against the page
// origin when relative, serialized as event.origin is (ticket.ParseOrigin).
// Only http and https URLs are usable.
func originOf(raw, pageOrigin string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	if !u.IsAbs() {
		base, err := url.Parse(pageOrigin)
		if err != nil || base.Host == "" {
			return "", false
		}
		u = base.ResolveReference(u)
	}
	origin, err := ticket.ParseOrigin(u.Scheme + "://" + u.Host)
	return origin, err == nil
}

// failure is what went wrong in phaseFailed; Messages words it.
type failure int

// The failures of a ticket request.
const (
	failNone       failure = iota
	failNetwork            // no answer (status 0)
	failServer             // 5xx
	failUnexpected         // any other status but 200, 401, 403, 429
	failNoTicket           // a 200 without a ticket
	failBadURL             // a 200 whose portal URL is unusable
	failNoSession          // the frame kept expiring without an active session
)

// classify tells what kind of failure a result that is not 200, 401, 403
// or 429 is.
func classify(r result) failure {
	switch {
	case r.Status == 0:
		return failNetwork
	case r.Status >= 500:
		return failServer
	default:
		return failUnexpected
	}
}
