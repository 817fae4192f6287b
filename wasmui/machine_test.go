package wasmui

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
)

const (
	testPage   = "http://app.test"
	testPortal = "http://portal.test:8081"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func okResult(tk string, expiresIn time.Duration) result {
	return okResultAt(tk, testPortal+"/vanity/api-auth?ticket="+tk, expiresIn)
}

func okResultAt(tk, u string, expiresIn time.Duration) result {
	b, _ := json.Marshal(ticket.Response{Ticket: tk, ExpiresAt: t0.Add(expiresIn).Unix(), URL: u})
	return result{Status: 200, Body: string(b)}
}

func frameMsg(typ string) message {
	return message{Origin: testPortal, FromFrame: true, Data: ticket.Message{Type: typ, V: 1}}
}

func readyMsg(session string) message {
	m := frameMsg(ticket.MsgReady)
	m.Data.Session = session
	return m
}

func fetches(fx []effect) int {
	n := 0
	for _, f := range fx {
		if f.Kind == effectFetch {
			n++
		}
	}
	return n
}

// showing returns a machine showing a frame for ticket "t1".
func showing(t *testing.T, ready bool) *machine {
	t.Helper()
	m := &machine{PageOrigin: testPage}
	m.Start()
	m.Fetched(okResult("t1", 2*time.Minute), t0)
	if ready {
		m.Message(readyMsg(ticket.SessionActive), t0)
	}
	return m
}

func TestMachineStartFetchesOnce(t *testing.T) {
	m := &machine{PageOrigin: testPage}
	if n := fetches(m.Start()); n != 1 {
		t.Fatalf("Start: %d fetches, want 1", n)
	}
	if n := fetches(m.Start()) + fetches(m.Retry()); n != 0 {
		t.Fatalf("while a request is in flight: %d more fetches, want 0", n)
	}
	if m.Phase() != phaseLoading {
		t.Fatalf("phase %v, want loading", m.Phase())
	}
}

// TestMachineHeldAsksOnlyOnOpen: a shell on a page opened from another
// site asks for nothing, whatever happens, until the user's click (Open),
// and then for one ticket.
func TestMachineHeldAsksOnlyOnOpen(t *testing.T) {
	m := &machine{PageOrigin: testPage}
	if fx := m.Hold(); len(fx) != 0 || m.Phase() != phaseHeld {
		t.Fatalf("Hold: %v, phase %v; want no effect and held", fx, m.Phase())
	}
	var fx []effect
	fx = append(fx, m.Retry()...)
	fx = append(fx, m.Timer(timerTick)...)
	fx = append(fx, m.Timer(timerExpiry)...)
	fx = append(fx, m.Message(frameMsg(ticket.MsgSessionExpired), t0)...)
	fx = append(fx, m.Message(readyMsg(ticket.SessionActive), t0)...)
	fx = append(fx, m.Fetched(okResult("t1", time.Minute), t0)...)
	fx = append(fx, m.SetTheme(ticket.ThemeDark)...)
	if len(fx) != 0 || m.Phase() != phaseHeld || m.FrameURL() != "" {
		t.Fatalf("a held machine did %v (phase %v, frame %q); want nothing until Open", fx, m.Phase(), m.FrameURL())
	}
	if n := fetches(m.Open()); n != 1 || m.Phase() != phaseLoading {
		t.Fatalf("Open: %d fetches, phase %v; want 1 and loading", n, m.Phase())
	}
	if n := fetches(m.Open()) + fetches(m.Hold()); n != 0 || m.Phase() != phaseLoading {
		t.Fatalf("Open or Hold again: %d fetches, phase %v; want none and still loading", n, m.Phase())
	}
	m.Fetched(okResult("t1", time.Minute), t0)
	if m.Phase() != phaseFrame {
		t.Fatalf("after the ticket: phase %v, want frame", m.Phase())
	}
	if m.Hold(); m.Phase() != phaseFrame {
		t.Fatal("Hold after the start took the frame away")
	}
}

func TestMachineResults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		result    result
		phase     phase
		frame     string
		countdown int
		effects   []effect
	}{
		{
			name:    "ticket shows the frame and arms expiry at expires_at",
			result:  okResult("t1", 2*time.Minute),
			phase:   phaseFrame,
			frame:   testPortal + "/vanity/api-auth?ticket=t1",
			effects: []effect{{Kind: effectSetTimer, Timer: timerExpiry, After: 2 * time.Minute}},
		},
		{
			name: "expiry is read against the server's Date header",
			result: func() result {
				r := okResult("t1", 2*time.Minute)
				r.Date = t0.Add(30 * time.Second).Format(httpDate)
				return r
			}(),
			phase:   phaseFrame,
			frame:   testPortal + "/vanity/api-auth?ticket=t1",
			effects: []effect{{Kind: effectSetTimer, Timer: timerExpiry, After: 90 * time.Second}},
		},
		{
			name:    "an already expired ticket still gets the minimum life, no tight loop",
			result:  okResult("t1", -time.Hour),
			phase:   phaseFrame,
			frame:   testPortal + "/vanity/api-auth?ticket=t1",
			effects: []effect{{Kind: effectSetTimer, Timer: timerExpiry, After: minTicketLife}},
		},
		{
			name:    "relative portal URL resolves against the page",
			result:  okResultAt("t1", "/portal/exchange?ticket=t1", time.Minute),
			phase:   phaseFrame,
			frame:   "/portal/exchange?ticket=t1",
			effects: []effect{{Kind: effectSetTimer, Timer: timerExpiry, After: time.Minute}},
		},
		{
			name:    "401 asks to sign in again",
			result:  result{Status: 401},
			phase:   phaseSignedOut,
			effects: []effect{{Kind: effectStopTimer, Timer: timerExpiry}},
		},
		{
			name:    "403 says no permission",
			result:  result{Status: 403},
			phase:   phaseForbidden,
			effects: []effect{{Kind: effectStopTimer, Timer: timerExpiry}},
		},
		{
			name:      "429 counts down from Retry-After seconds",
			result:    result{Status: 429, RetryAfter: "7"},
			phase:     phaseRateLimited,
			countdown: 7,
			effects:   []effect{{Kind: effectSetTimer, Timer: timerTick, After: time.Second}},
		},
		{
			name:      "429 with an HTTP-date Retry-After",
			result:    result{Status: 429, RetryAfter: t0.Add(12 * time.Second).Format(httpDate)},
			phase:     phaseRateLimited,
			countdown: 12,
			effects:   []effect{{Kind: effectSetTimer, Timer: timerTick, After: time.Second}},
		},
		{
			name: "an HTTP-date Retry-After is read against the server's Date header",
			result: result{Status: 429, RetryAfter: t0.Add(-5*time.Minute + 12*time.Second).Format(httpDate),
				Date: t0.Add(-5 * time.Minute).Format(httpDate)}, // the browser's clock is 5 minutes fast
			phase:     phaseRateLimited,
			countdown: 12,
			effects:   []effect{{Kind: effectSetTimer, Timer: timerTick, After: time.Second}},
		},
		{
			name:      "429 without Retry-After waits the default",
			result:    result{Status: 429},
			phase:     phaseRateLimited,
			countdown: defaultRetryAfter,
			effects:   []effect{{Kind: effectSetTimer, Timer: timerTick, After: time.Second}},
		},
		{
			name:      "429 with an absurd Retry-After is capped",
			result:    result{Status: 429, RetryAfter: "999999"},
			phase:     phaseRateLimited,
			countdown: maxRetryAfter,
			effects:   []effect{{Kind: effectSetTimer, Timer: timerTick, After: time.Second}},
		},
		{
			name:      "503 fails with a 1 s backoff",
			result:    result{Status: 503},
			phase:     phaseFailed,
			countdown: 1,
			effects:   []effect{{Kind: effectSetTimer, Timer: timerTick, After: time.Second}},
		},
		{
			name:   "400 (the route refused the request itself) is final: no automatic retry",
			result: result{Status: 400, Body: `{"error":"deploymentId must be 1-64 of A-Z a-z 0-9 _ -"}`},
			phase:  phaseFailed,
		},
		{
			name:   "404 (no ticket route there) is final too",
			result: result{Status: 404},
			phase:  phaseFailed,
		},
		{
			name:      "408 is retried",
			result:    result{Status: 408},
			phase:     phaseFailed,
			countdown: 1,
			effects:   []effect{{Kind: effectSetTimer, Timer: timerTick, After: time.Second}},
		},
		{
			name:      "network error fails",
			result:    result{Err: "TypeError: Failed to fetch"},
			phase:     phaseFailed,
			countdown: 1,
			effects:   []effect{{Kind: effectSetTimer, Timer: timerTick, After: time.Second}},
		},
		{
			name:      "200 without a ticket fails",
			result:    result{Status: 200, Body: `{"error":"nope"}`},
			phase:     phaseFailed,
			countdown: 1,
			effects:   []effect{{Kind: effectSetTimer, Timer: timerTick, After: time.Second}},
		},
		{
			name:      "a javascript: portal URL is refused",
			result:    okResultAt("t1", "javascript:alert(1)", time.Minute),
			phase:     phaseFailed,
			countdown: 1,
			effects:   []effect{{Kind: effectSetTimer, Timer: timerTick, After: time.Second}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &machine{PageOrigin: testPage}
			m.Start()
			fx := m.Fetched(tc.result, t0)
			if m.Phase() != tc.phase {
				t.Errorf("phase %v, want %v", m.Phase(), tc.phase)
			}
			if m.FrameURL() != tc.frame {
				t.Errorf("frame %q, want %q", m.FrameURL(), tc.frame)
			}
			if m.Countdown() != tc.countdown {
				t.Errorf("countdown %d, want %d", m.Countdown(), tc.countdown)
			}
			if !reflect.DeepEqual(fx, tc.effects) {
				t.Errorf("effects %+v, want %+v", fx, tc.effects)
			}
			if m.InFlight() {
				t.Error("still in flight after the result")
			}
		})
	}
}

func TestMachineCountdownThenRetry(t *testing.T) {
	m := &machine{PageOrigin: testPage}
	m.Start()
	m.Fetched(result{Status: 429, RetryAfter: "3"}, t0)
	for want := 2; want >= 1; want-- {
		if fx := m.Timer(timerTick); fetches(fx) != 0 || m.Countdown() != want {
			t.Fatalf("tick: countdown %d fetches %d, want %d and 0", m.Countdown(), fetches(fx), want)
		}
	}
	if fx := m.Timer(timerTick); fetches(fx) != 1 {
		t.Fatalf("last tick: %d fetches, want 1", fetches(fx))
	}
	if fx := m.Timer(timerTick); len(fx) != 0 {
		t.Fatalf("a stray tick after the retry did something: %+v", fx)
	}
}

func TestMachineBackoff(t *testing.T) {
	m := &machine{PageOrigin: testPage}
	m.Start()
	var got []int
	for i := 0; i < 8; i++ {
		m.Fetched(result{Status: 502}, t0)
		got = append(got, m.Countdown())
		for ticks := 0; ; ticks++ {
			if fetches(m.Timer(timerTick)) == 1 {
				break
			}
			if ticks > 60 {
				t.Fatal("no retry within 60 ticks")
			}
		}
	}
	want := []int{1, 2, 4, 8, 16, 30, 30, 30}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("backoff %v, want %v", got, want)
	}
	// Success resets the backoff.
	m.Fetched(okResult("t1", time.Minute), t0)
	m.Retry()
	m.Fetched(result{Status: 502}, t0)
	if m.Countdown() != 1 {
		t.Fatalf("backoff after a success %d, want 1", m.Countdown())
	}
}

func TestMachineRetryButtonCancelsCountdown(t *testing.T) {
	m := &machine{PageOrigin: testPage}
	m.Start()
	m.Fetched(result{Status: 500}, t0)
	fx := m.Retry()
	want := []effect{{Kind: effectStopTimer, Timer: timerTick}, {Kind: effectFetch}}
	if !reflect.DeepEqual(fx, want) {
		t.Fatalf("Retry effects %+v, want %+v", fx, want)
	}
	if fx := m.Timer(timerTick); len(fx) != 0 {
		t.Fatalf("the cancelled tick still acted: %+v", fx)
	}
}

func TestMachineIgnoresForeignMessages(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  message
	}{
		{"other origin", message{Origin: "http://evil.test", FromFrame: true, Data: ticket.Message{Type: ticket.MsgSessionExpired, V: 1}}},
		{"same host other port", message{Origin: "http://portal.test:8082", FromFrame: true, Data: ticket.Message{Type: ticket.MsgSessionExpired, V: 1}}},
		{"page origin", message{Origin: testPage, FromFrame: true, Data: ticket.Message{Type: ticket.MsgSessionExpired, V: 1}}},
		{"right origin, not the frame's window", message{Origin: testPortal, FromFrame: false, Data: ticket.Message{Type: ticket.MsgSessionExpired, V: 1}}},
		{"other protocol version", message{Origin: testPortal, FromFrame: true, Data: ticket.Message{Type: ticket.MsgSessionExpired, V: 2}}},
		{"unknown type", message{Origin: testPortal, FromFrame: true, Data: ticket.Message{Type: "keyportal:gimme", V: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := showing(t, true)
			if fx := m.Message(tc.msg, t0); len(fx) != 0 {
				t.Fatalf("acted on it: %+v", fx)
			}
			if tc.msg.Data.Type != ticket.MsgSessionExpired {
				return // only the sender is under test below
			}
			ready := tc.msg
			ready.Data.Type = ticket.MsgReady
			m2 := showing(t, false)
			m2.Message(ready, t0)
			if m2.Ready() {
				t.Fatal("a foreign ready was believed")
			}
		})
	}
}

func TestMachineRenewInPlaceWhenReady(t *testing.T) {
	m := showing(t, true)
	url := m.FrameURL()
	fx := m.Message(frameMsg(ticket.MsgSessionExpired), t0)
	if fetches(fx) != 1 {
		t.Fatalf("session_expired: %d fetches, want 1", fetches(fx))
	}
	// More expiries while the request is out start nothing.
	if fx := m.Message(frameMsg(ticket.MsgSessionExpired), t0); len(fx) != 0 {
		t.Fatalf("second session_expired while in flight: %+v", fx)
	}
	fx = m.Fetched(okResult("t2", 2*time.Minute), t0)
	want := []effect{{Kind: effectPostTicket, Ticket: "t2", TargetOrigin: testPortal}}
	if !reflect.DeepEqual(fx, want) {
		t.Fatalf("effects %+v, want %+v", fx, want)
	}
	if m.FrameURL() != url || !m.Ready() {
		t.Fatalf("frame reloaded (%q, ready %v); want it kept", m.FrameURL(), m.Ready())
	}
}

func TestMachineRenewByReloadWhenNotReady(t *testing.T) {
	m := showing(t, false)
	if fx := m.Message(frameMsg(ticket.MsgSessionExpired), t0); fetches(fx) != 1 {
		t.Fatalf("%d fetches, want 1", fetches(fx))
	}
	fx := m.Fetched(okResult("t2", time.Minute), t0)
	if m.FrameURL() != testPortal+"/vanity/api-auth?ticket=t2" {
		t.Fatalf("frame %q, want the new ticket's URL", m.FrameURL())
	}
	for _, f := range fx {
		if f.Kind == effectPostTicket {
			t.Fatal("posted a ticket to a frame that never said ready")
		}
	}
}

func TestMachineRenewByReloadWhenPortalMoved(t *testing.T) {
	m := showing(t, true)
	m.Message(frameMsg(ticket.MsgSessionExpired), t0)
	fx := m.Fetched(okResultAt("t2", "https://other.test/x?ticket=t2", time.Minute), t0)
	for _, f := range fx {
		if f.Kind == effectPostTicket {
			t.Fatal("posted a ticket across origins")
		}
	}
	if m.PortalOrigin() != "https://other.test" || m.Ready() {
		t.Fatalf("origin %q ready %v, want the new origin and a reload", m.PortalOrigin(), m.Ready())
	}
}

func TestMachineExpiryReplacesUnusedTicket(t *testing.T) {
	m := showing(t, false)
	if fx := m.Timer(timerExpiry); fetches(fx) != 1 {
		t.Fatalf("expiry of an unused ticket: %d fetches, want 1", fetches(fx))
	}
	m.Fetched(okResult("t2", time.Minute), t0)
	if m.FrameURL() != testPortal+"/vanity/api-auth?ticket=t2" {
		t.Fatalf("frame %q, want reloaded with t2", m.FrameURL())
	}

	ready := showing(t, false)
	if fx := ready.Message(readyMsg(ticket.SessionActive), t0); !reflect.DeepEqual(fx, []effect{{Kind: effectStopTimer, Timer: timerExpiry}}) {
		t.Fatalf("ready effects %+v, want the expiry timer stopped", fx)
	}
	if fx := ready.Timer(timerExpiry); len(fx) != 0 {
		t.Fatalf("expiry after ready acted: %+v", fx)
	}
}

func TestMachineResize(t *testing.T) {
	m := showing(t, true)
	for _, tc := range []struct{ ask, want int }{
		{0, DefaultMinHeight}, {100, DefaultMinHeight}, {900, 900}, {-5, 900}, {1 << 30, maxHeight},
	} {
		msg := frameMsg(ticket.MsgResize)
		msg.Data.Height = tc.ask
		m.Message(msg, t0)
		if m.Height() != tc.want {
			t.Errorf("resize %d: height %d, want %d", tc.ask, m.Height(), tc.want)
		}
	}
	m2 := &machine{MinHeight: 300}
	if m2.Height() != 300 {
		t.Errorf("custom minimum: %d", m2.Height())
	}
}

func TestMachineRenewalFailureKeepsFrame(t *testing.T) {
	m := showing(t, true)
	m.Message(frameMsg(ticket.MsgSessionExpired), t0)
	m.Fetched(result{Status: 503}, t0)
	if m.Phase() != phaseFailed || m.FrameURL() == "" {
		t.Fatalf("phase %v frame %q: want failed with the frame kept", m.Phase(), m.FrameURL())
	}
	if fx := m.Timer(timerTick); fetches(fx) != 1 {
		t.Fatal("no automatic retry")
	}
	if fx := m.Fetched(okResult("t3", time.Minute), t0); len(fx) != 1 || fx[0].Kind != effectPostTicket {
		t.Fatalf("after recovery %+v, want the ticket posted in place", fx)
	}
	// A 401 during renewal drops the frame: the user must sign in.
	m.Message(frameMsg(ticket.MsgSessionExpired), t0.Add(time.Hour))
	m.Fetched(result{Status: 401}, t0)
	if m.Phase() != phaseSignedOut || m.FrameURL() != "" {
		t.Fatalf("phase %v frame %q, want signed out without frame", m.Phase(), m.FrameURL())
	}
	if fx := m.Message(frameMsg(ticket.MsgSessionExpired), t0); len(fx) != 0 {
		t.Fatal("messages acted on without a frame")
	}
}

func TestMachineChurnBacksOff(t *testing.T) {
	m := showing(t, true)
	now := t0
	expire := func() []effect {
		now = now.Add(time.Second)
		return m.Message(frameMsg(ticket.MsgSessionExpired), now)
	}
	// 1st renewal: in place.
	expire()
	if fx := m.Fetched(okResult("t2", time.Minute), now); fx[0].Kind != effectPostTicket {
		t.Fatalf("first renewal %+v, want in place", fx)
	}
	// The frame rejects it at once: the 2nd renewal reloads.
	expire()
	m.Fetched(okResult("t3", time.Minute), now)
	if m.Ready() || m.FrameURL() != testPortal+"/vanity/api-auth?ticket=t3" {
		t.Fatal("second quick renewal did not reload the frame")
	}
	m.Message(readyMsg(ticket.SessionNone), now)
	// Still failing: the 3rd waits before fetching.
	if fx := expire(); fetches(fx) != 0 || m.Countdown() != 1 {
		t.Fatalf("third quick renewal fetched at once (%+v)", fx)
	}
	if fetches(m.Timer(timerTick)) != 1 {
		t.Fatal("no fetch after the churn backoff")
	}
	m.Fetched(okResult("t4", time.Minute), now)
	m.Message(readyMsg(ticket.SessionActive), now)
	// A healthy session resets the churn: next renewal is in place again.
	now = now.Add(time.Hour)
	expire()
	if fx := m.Fetched(okResult("t5", time.Minute), now); fx[0].Kind != effectPostTicket {
		t.Fatalf("renewal after a healthy session %+v, want in place", fx)
	}
}

func TestMachineStopDropsLateResults(t *testing.T) {
	m := &machine{PageOrigin: testPage}
	m.Start()
	fx := m.Stop()
	if len(fx) != 2 {
		t.Fatalf("Stop effects %+v, want both timers stopped", fx)
	}
	if fx := m.Fetched(okResult("t1", time.Minute), t0); fx != nil || m.FrameURL() != "" {
		t.Fatal("a result after Stop was applied")
	}
}

func TestOriginOf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://Portal.Example.com/x?ticket=1", "https://portal.example.com"},
		{"https://portal.example.com:443/x", "https://portal.example.com"},
		{"http://localhost:80/x", "http://localhost"},
		{"http://localhost:8081/vanity", "http://localhost:8081"},
		{"/relative?ticket=1", testPage},
		{"//cdn.test/x", "http://cdn.test"},
		{"javascript:alert(1)", ""},
		{"http://*.portal.test/x", ""},
		{"https://user@portal.test/x", "https://portal.test"},
		{"data:text/html,hi", ""},
	} {
		got, ok := originOf(tc.in, testPage)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("originOf(%q) = %q %v, want %q", tc.in, got, ok, tc.want)
		}
	}
}

func TestBackoffCaps(t *testing.T) {
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 6: 30 * time.Second, 100: 30 * time.Second} {
		if got := backoff(n); got != want {
			t.Errorf("backoff(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestRetryAfterParsing(t *testing.T) {
	for in, want := range map[string]int{"": 5, "0": 1, "2": 2, " 9 ": 9, "soon": 5, "-3": 1, strconv.Itoa(1e9): maxRetryAfter} {
		if got := retryAfter(in, t0); got != want {
			t.Errorf("retryAfter(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestMachineTheme(t *testing.T) {
	post := func(theme string) []effect {
		return []effect{{Kind: effectPostTheme, Theme: theme, TargetOrigin: testPortal}}
	}
	m := &machine{PageOrigin: testPage, Theme: ticket.ThemeLight}
	m.Start()
	m.Fetched(okResult("t1", time.Minute), t0)
	if fx := m.SetTheme(ticket.ThemeDark); fx != nil {
		t.Fatalf("posted %v to a frame that has not said ready", fx)
	}
	fx := m.Message(readyMsg(ticket.SessionActive), t0)
	if !reflect.DeepEqual(fx[len(fx)-1:], post(ticket.ThemeDark)) {
		t.Fatalf("on ready: %v, want the theme posted", fx)
	}
	if fx := m.SetTheme(ticket.ThemeLight); !reflect.DeepEqual(fx, post(ticket.ThemeLight)) {
		t.Fatalf("on change: %v", fx)
	}
	for _, same := range []string{ticket.ThemeLight, "sepia"} {
		if fx := m.SetTheme(same); fx != nil {
			t.Fatalf("SetTheme(%q): %v, want nothing", same, fx)
		}
	}
	// A reloaded frame is a new document: it is told again when ready.
	m.Message(frameMsg(ticket.MsgSessionExpired), t0)
	m.Fetched(okResult("t2", time.Minute), t0)
	if fx := m.Message(readyMsg(ticket.SessionNone), t0); !reflect.DeepEqual(fx[len(fx)-1:], post(ticket.ThemeLight)) {
		t.Fatalf("ready after renewal: %v", fx)
	}
	if fx := (&machine{}).SetTheme(ticket.ThemeDark); fx != nil {
		t.Fatal("posted a theme with no frame")
	}
}

func TestMachineForwardsKnownEventsOnly(t *testing.T) {
	m := showing(t, true)
	for name, want := range map[string]bool{
		ticket.EventKeyCreated: true,
		ticket.EventKeyRotated: true,
		ticket.EventKeyRevoked: true,
		"key.secret":           false,
		"":                     false,
	} {
		ev := frameMsg(ticket.MsgEvent)
		ev.Data.Name = name
		fx := m.Message(ev, t0)
		got := len(fx) == 1 && fx[0].Kind == effectEmitEvent && fx[0].Event == name
		if got != want || (!want && fx != nil) {
			t.Errorf("event %q: %v", name, fx)
		}
		foreign := ev
		foreign.Origin = "http://evil.test"
		if fx := m.Message(foreign, t0); fx != nil {
			t.Errorf("foreign event %q forwarded", name)
		}
	}
}

// TestMachineRevokedSessionShowsForbidden: the portal ends a session the
// policy no longer allows (session_expired "revoked"); the shell asks once
// for a ticket, the route answers 403, and the shell shows the no-permission
// state with no frame, no timer left and nothing more asked for, whatever
// the old frame still posts (issue 13 §4).
func TestMachineRevokedSessionShowsForbidden(t *testing.T) {
	m := showing(t, true)
	expired := frameMsg(ticket.MsgSessionExpired)
	expired.Data.Reason = ticket.ReasonRevoked
	if fx := m.Message(expired, t0); fetches(fx) != 1 {
		t.Fatalf("session_expired revoked: effects %+v, want one ticket request", fx)
	}
	if fx := m.Message(expired, t0.Add(time.Second)); fetches(fx) != 0 {
		t.Fatalf("a second session_expired while the request is out asked again: %+v", fx)
	}
	fx := m.Fetched(result{Status: 403, Body: `{"error":"Forbidden"}`}, t0.Add(time.Second))
	if m.Phase() != phaseForbidden || m.FrameURL() != "" || m.InFlight() {
		t.Fatalf("after 403: phase %v, frame %q, in flight %v; want phaseForbidden, no frame, nothing in flight", m.Phase(), m.FrameURL(), m.InFlight())
	}
	for _, f := range fx {
		if f.Kind == effectFetch || f.Kind == effectSetTimer {
			t.Fatalf("after 403 the shell scheduled more: %+v", fx)
		}
	}
	// The old frame, or its timers, cannot start a loop.
	for i, later := range [][]effect{
		m.Message(expired, t0.Add(2*time.Second)),
		m.Message(readyMsg(ticket.SessionNone), t0.Add(3*time.Second)),
		m.Timer(timerExpiry),
		m.Timer(timerTick),
		m.Message(expired, t0.Add(2*time.Minute)),
	} {
		if len(later) != 0 {
			t.Fatalf("input %d after the 403 acted: %+v", i, later)
		}
	}
	if m.Phase() != phaseForbidden {
		t.Fatalf("phase %v, want still phaseForbidden", m.Phase())
	}
}

// TestMachineChurnGivesUp: a frame that keeps expiring without reaching an
// active session is reloaded with backoff only so often; then the shell
// shows the failure with its Retry button and asks for nothing more until
// the user clicks Retry, which starts afresh.
func TestMachineChurnGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name    string
		session string // what the frame says on ready ("" says no ready)
		expires int    // session_expired messages, a second apart
		phase   phase
		fail    failure
	}{
		{name: "never active, ready", session: ticket.SessionNone, expires: 20, phase: phaseFailed, fail: failNoSession},
		{name: "never ready", session: "", expires: 20, phase: phaseFailed, fail: failNoSession},
		{name: "active each time", session: ticket.SessionActive, expires: 20, phase: phaseFrame, fail: failNone},
		{name: "within the limit", session: ticket.SessionNone, expires: maxChurn, phase: phaseFrame, fail: failNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := showing(t, true)
			now := t0
			var last []effect
			for i := 0; i < tc.expires; i++ {
				now = now.Add(time.Second)
				last = m.Message(frameMsg(ticket.MsgSessionExpired), now)
				for ticks := 0; m.waiting; ticks++ {
					if ticks > 60 {
						t.Fatal("no fetch within 60 ticks")
					}
					last = m.Timer(timerTick)
				}
				if !m.InFlight() {
					continue // given up: nothing was asked
				}
				last = m.Fetched(okResult("t"+strconv.Itoa(i+2), time.Minute), now)
				if tc.session != "" {
					last = m.Message(readyMsg(tc.session), now)
				}
			}
			if f, _ := m.Failure(); m.Phase() != tc.phase || f != tc.fail {
				t.Fatalf("after %d quick expiries: phase %v failure %v, want %v %v", tc.expires, m.Phase(), f, tc.phase, tc.fail)
			}
			if tc.phase != phaseFailed {
				return
			}
			// Nothing asks any more: not the frame, not a timer.
			for _, f := range last {
				if f.Kind == effectFetch || f.Kind == effectSetTimer {
					t.Fatalf("giving up returned %+v", last)
				}
			}
			var fx []effect
			fx = append(fx, m.Message(frameMsg(ticket.MsgSessionExpired), now.Add(time.Second))...)
			fx = append(fx, m.Message(frameMsg(ticket.MsgSessionExpired), now.Add(time.Hour))...)
			fx = append(fx, m.Timer(timerTick)...)
			fx = append(fx, m.Timer(timerExpiry)...)
			for _, f := range fx {
				if f.Kind == effectFetch || f.Kind == effectSetTimer {
					t.Fatalf("after giving up the shell still asks: %+v", fx)
				}
			}
			if m.Countdown() != 0 || m.Phase() != phaseFailed {
				t.Fatalf("after giving up: phase %v countdown %d, want failed without a countdown", m.Phase(), m.Countdown())
			}
			// Retry starts afresh: one ticket now, and the next expiry is
			// renewed at once again.
			if fetches(m.Retry()) != 1 {
				t.Fatal("Retry did not ask for a ticket")
			}
			m.Fetched(okResult("fresh", time.Minute), now)
			m.Message(readyMsg(ticket.SessionNone), now)
			if m.Phase() != phaseFrame || m.FrameURL() == "" {
				t.Fatalf("after Retry: phase %v frame %q, want the frame", m.Phase(), m.FrameURL())
			}
			if fx := m.Message(frameMsg(ticket.MsgSessionExpired), now.Add(time.Second)); fetches(fx) != 1 {
				t.Fatalf("first expiry after Retry %+v, want a ticket at once", fx)
			}
		})
	}
}
