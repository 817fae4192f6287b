package wasmui

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// Phase is what the shell shows.
type Phase int

// The phases of a Shell.
const (
	// PhaseLoading: the first ticket is on its way.
	PhaseLoading Phase = iota
	// PhaseFrame: the portal iframe is shown.
	PhaseFrame
	// PhaseSignedOut: the ticket route answered 401.
	PhaseSignedOut
	// PhaseForbidden: the ticket route answered 403.
	PhaseForbidden
	// PhaseRateLimited: the ticket route answered 429; a countdown runs.
	PhaseRateLimited
	// PhaseFailed: any other failure; a countdown to the next automatic
	// retry runs and a Retry button is offered.
	PhaseFailed
)

// TimerKind names the two timers a Machine uses.
type TimerKind int

const (
	// TimerTick fires every second while a countdown (429 or backoff) runs.
	TimerTick TimerKind = iota
	// TimerExpiry fires at the ticket's expires_at, for frames that have not
	// said keyportal:ready (an unused ticket, or Wacht's hosted page whose
	// session ends then).
	TimerExpiry
)

// EffectKind is what the browser layer must do for a Machine.
type EffectKind int

const (
	// EffectFetch: request one ticket from the ticket route.
	EffectFetch EffectKind = iota
	// EffectSetTimer: (re)arm Timer to fire After from now.
	EffectSetTimer
	// EffectStopTimer: disarm Timer.
	EffectStopTimer
	// EffectPostTicket: post {"type":"keyportal:ticket","v":1,"ticket":Ticket}
	// to the iframe's window with targetOrigin TargetOrigin.
	EffectPostTicket
	// EffectPostTheme: post {"type":"keyportal:theme","v":1,"theme":Theme}
	// to the iframe's window with targetOrigin TargetOrigin.
	EffectPostTheme
	// EffectEmitEvent: tell the host page that the portal did Event (one of
	// ticket.EventKeyCreated, EventKeyRotated, EventKeyRevoked), so it can
	// refresh its own UI.
	EffectEmitEvent
)

// Effect is one instruction from the Machine to the browser layer.
type Effect struct {
	Kind         EffectKind
	Timer        TimerKind
	After        time.Duration
	Ticket       string
	Theme        string
	Event        string
	TargetOrigin string
}

// Result is the outcome of one ticket request as the browser saw it.
type Result struct {
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

// Message is a postMessage event as the browser layer saw it.
type Message struct {
	// Origin is event.origin.
	Origin string
	// FromFrame reports whether event.source is the iframe's contentWindow.
	FromFrame bool
	// Data is the message; only keyportal protocol messages matter.
	Data ticket.Message
}

// Limits and defaults of the Machine.
const (
	// DefaultMinHeight is the iframe's minimum height in CSS pixels.
	DefaultMinHeight = 480
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
)

// httpDate is the layout of HTTP date headers (net/http.TimeFormat, copied so
// the wasm does not need net/http).
const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"

// Machine is the shell's state machine, free of any browser API so that it
// can be table-tested. Every input returns the effects the browser layer must
// carry out; the Machine never fetches on its own and never per render.
type Machine struct {
	// PageOrigin is the embedding page's origin, used to resolve a relative
	// portal URL.
	PageOrigin string
	// MinHeight is the iframe's minimum height (DefaultMinHeight if 0).
	MinHeight int
	// Theme is posted to the frame each time it says ready (ticket.ThemeLight,
	// ThemeDark or ThemeSystem); "" posts none. Change it with SetTheme.
	Theme string

	phase        Phase
	frameURL     string // iframe src; "" while no frame is shown
	portalOrigin string // origin of frameURL; messages must come from it
	ready        bool   // the current frame said keyportal:ready
	height       int    // height requested by the frame
	inFlight     bool   // a ticket request is outstanding
	failures     int    // consecutive failures, for backoff
	churn        int    // renewals since the frame last had an active session
	lastRenewal  time.Time
	countdown    int    // seconds left before the next automatic retry
	detail       string // what went wrong, for PhaseFailed
	waiting      bool   // an automatic retry is scheduled
}

// Phase returns the current phase.
func (m *Machine) Phase() Phase { return m.phase }

// FrameURL returns the iframe src, or "" when no frame is shown.
func (m *Machine) FrameURL() string { return m.frameURL }

// PortalOrigin returns the origin the frame's messages must come from.
func (m *Machine) PortalOrigin() string { return m.portalOrigin }

// Ready reports whether the current frame has said keyportal:ready.
func (m *Machine) Ready() bool { return m.ready }

// Height returns the iframe height in CSS pixels.
func (m *Machine) Height() int {
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
func (m *Machine) InFlight() bool { return m.inFlight }

// Countdown returns the seconds left before the next automatic retry.
func (m *Machine) Countdown() int { return m.countdown }

// Detail returns what went wrong in PhaseFailed.
func (m *Machine) Detail() string { return m.detail }

// SetTheme changes the theme and posts it to a frame that has said ready.
func (m *Machine) SetTheme(theme string) []Effect {
	if !validTheme(theme) || theme == m.Theme {
		return nil
	}
	m.Theme = theme
	if !m.ready || m.frameURL == "" || theme == "" {
		return nil
	}
	return []Effect{{Kind: EffectPostTheme, Theme: theme, TargetOrigin: m.portalOrigin}}
}

func validTheme(t string) bool {
	switch t {
	case "", ticket.ThemeLight, ticket.ThemeDark, ticket.ThemeSystem:
		return true
	}
	return false
}

// Start asks for the first ticket.
func (m *Machine) Start() []Effect {
	return m.fetch(nil)
}

// Retry is the Retry button: it cancels any countdown and fetches now.
func (m *Machine) Retry() []Effect {
	var fx []Effect
	if m.waiting {
		m.waiting = false
		m.countdown = 0
		fx = append(fx, Effect{Kind: EffectStopTimer, Timer: TimerTick})
	}
	return m.fetch(fx)
}

// Stop is called on dismount: it disarms every timer. Results still in
// flight must be dropped by the caller.
func (m *Machine) Stop() []Effect {
	m.waiting = false
	m.inFlight = false
	return []Effect{
		{Kind: EffectStopTimer, Timer: TimerTick},
		{Kind: EffectStopTimer, Timer: TimerExpiry},
	}
}

func (m *Machine) fetch(fx []Effect) []Effect {
	if m.inFlight {
		return fx
	}
	m.inFlight = true
	return append(fx, Effect{Kind: EffectFetch})
}

// Fetched takes the result of the outstanding ticket request; now is the
// browser's clock.
func (m *Machine) Fetched(r Result, now time.Time) []Effect {
	if !m.inFlight {
		return nil // a stale result (after Stop): ignore
	}
	m.inFlight = false
	switch {
	case r.Status == 200:
		return m.gotTicket(r, now)
	case r.Status == 401:
		m.dropFrame()
		m.phase = PhaseSignedOut
		return []Effect{{Kind: EffectStopTimer, Timer: TimerExpiry}}
	case r.Status == 403:
		m.dropFrame()
		m.phase = PhaseForbidden
		return []Effect{{Kind: EffectStopTimer, Timer: TimerExpiry}}
	case r.Status == 429:
		m.phase = PhaseRateLimited
		m.detail = ""
		return m.wait(retryAfter(r.RetryAfter, now))
	default:
		m.phase = PhaseFailed
		m.detail = describe(r)
		m.failures++
		return m.wait(int(backoff(m.failures) / time.Second))
	}
}

func (m *Machine) gotTicket(r Result, now time.Time) []Effect {
	var resp ticket.Response
	if err := json.Unmarshal([]byte(r.Body), &resp); err != nil || resp.Ticket == "" || resp.URL == "" {
		m.phase = PhaseFailed
		m.detail = "the ticket route answered without a ticket"
		m.failures++
		return m.wait(int(backoff(m.failures) / time.Second))
	}
	origin, ok := originOf(resp.URL, m.PageOrigin)
	if !ok {
		m.phase = PhaseFailed
		m.detail = "the ticket route answered with an unusable portal URL"
		m.failures++
		return m.wait(int(backoff(m.failures) / time.Second))
	}
	m.failures = 0
	m.detail = ""
	m.countdown = 0
	m.phase = PhaseFrame
	if m.ready && m.frameURL != "" && origin == m.portalOrigin {
		// Renew in place: the frame keeps its state and takes the ticket.
		return []Effect{{Kind: EffectPostTicket, Ticket: resp.Ticket, TargetOrigin: m.portalOrigin}}
	}
	// (Re)load the frame with the ticket's URL; it must say ready before the
	// ticket expires, or the ticket is replaced.
	m.frameURL = resp.URL
	m.portalOrigin = origin
	m.ready = false
	return []Effect{{Kind: EffectSetTimer, Timer: TimerExpiry, After: ticketLife(resp.ExpiresAt, r.Date, now)}}
}

func (m *Machine) dropFrame() {
	m.frameURL, m.portalOrigin, m.ready, m.height = "", "", false, 0
	m.waiting, m.countdown, m.detail = false, 0, ""
}

func (m *Machine) wait(seconds int) []Effect {
	m.countdown = seconds
	m.waiting = true
	return []Effect{{Kind: EffectSetTimer, Timer: TimerTick, After: time.Second}}
}

// Message takes a postMessage event received at now. Anything not from the
// frame's window and the portal's exact origin is ignored.
func (m *Machine) Message(msg Message, now time.Time) []Effect {
	if m.frameURL == "" || !msg.FromFrame || msg.Origin != m.portalOrigin || msg.Data.V != ticket.ProtocolVersion {
		return nil
	}
	switch msg.Data.Type {
	case ticket.MsgReady:
		fx := []Effect(nil)
		if !m.ready {
			// The frame speaks the protocol: it will say when its session
			// ends, so the expiry timer is no longer needed.
			fx = append(fx, Effect{Kind: EffectStopTimer, Timer: TimerExpiry})
		}
		m.ready = true
		if msg.Data.Session == ticket.SessionActive {
			m.churn = 0
		}
		if m.Theme != "" && validTheme(m.Theme) {
			// Each ready may be a new document: tell it the theme again.
			fx = append(fx, Effect{Kind: EffectPostTheme, Theme: m.Theme, TargetOrigin: m.portalOrigin})
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
			return []Effect{{Kind: EffectEmitEvent, Event: msg.Data.Name}}
		}
	}
	return nil
}

// renew fetches one new ticket for the current frame. A frame that keeps
// expiring without ever reaching an active session is reloaded with backoff
// instead of being fed tickets in a tight loop.
func (m *Machine) renew(now time.Time) []Effect {
	if m.inFlight || m.waiting {
		return nil
	}
	if now.Sub(m.lastRenewal) > churnWindow {
		m.churn = 0 // the last renewal worked for a while: start afresh
	}
	m.lastRenewal = now
	m.churn++
	if m.churn > 1 {
		m.ready = false // a fresh frame, not another ticket in place
	}
	if m.churn > 2 {
		m.waiting = true
		m.countdown = int(backoff(m.churn-2) / time.Second)
		return []Effect{{Kind: EffectSetTimer, Timer: TimerTick, After: time.Second}}
	}
	return m.fetch(nil)
}

// Timer takes a fired timer.
func (m *Machine) Timer(k TimerKind) []Effect {
	switch k {
	case TimerTick:
		if !m.waiting {
			return nil
		}
		m.countdown--
		if m.countdown > 0 {
			return []Effect{{Kind: EffectSetTimer, Timer: TimerTick, After: time.Second}}
		}
		m.countdown = 0
		m.waiting = false
		return m.fetch(nil)
	case TimerExpiry:
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

// retryAfter reads a Retry-After header (seconds or an HTTP date) as whole
// seconds, at least 1.
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
	ref := now
	if t, err := time.Parse(httpDate, strings.TrimSpace(date)); err == nil {
		ref = t
	}
	d := time.Unix(expiresAt, 0).Sub(ref)
	if d < minTicketLife {
		d = minTicketLife
	}
	return d
}

// originOf returns scheme://host[:port] of a portal URL, resolved against the
// page origin when relative. Only http and https URLs are usable.
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
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	host := strings.ToLower(u.Host)
	// event.origin omits default ports; so must the origin compared to it.
	if u.Scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	} else {
		host = strings.TrimSuffix(host, ":443")
	}
	return u.Scheme + "://" + host, true
}

// describe turns a failed Result into a short, user-presentable detail.
func describe(r Result) string {
	switch {
	case r.Status == 0:
		return "the network request failed"
	case r.Status >= 500:
		return "the server answered " + strconv.Itoa(r.Status)
	default:
		return "unexpected answer " + strconv.Itoa(r.Status)
	}
}
