package wasmui

import (
	"cmp"
	"strconv"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// Defaults of a Shell. Its ticket route and field default to the ticket
// route's own, ticket.DefaultPath and ticket.DefaultField; its texts to
// English().
const (
	// DefaultMinHeight is the iframe's minimum height in CSS pixels.
	DefaultMinHeight = 480
	// defaultSignInURL is where the 401 state links to.
	defaultSignInURL = "/login"
)

// hostEvent is the CustomEvent a Shell dispatches on its element for each
// key action the portal reports (see the package doc).
const hostEvent = "keyportal:event"

// Values of the page's data-keyportal-start attribute, which the server
// renders per page request on the eager script's element (middleware/shell
// does). Both the eager script and the Shell read it, since either may ask
// for the first ticket.
const (
	// StartAtOnce: the page asks for the first ticket as it loads (a
	// navigation from the same origin or by the user; also what a page
	// without the attribute does).
	StartAtOnce = "auto"
	// StartOnClick: the page was opened from another site; it asks for
	// nothing until the user clicks TextOpen, so a link cannot spend the
	// user's tickets. Any value other than StartAtOnce means this.
	StartOnClick = "click"
)

// startAttr is the attribute that carries StartAtOnce or StartOnClick.
const startAttr = "data-keyportal-start"

// Shell is the go-app component that embeds the key portal: it asks the
// host app's ticket route for a ticket, shows the portal in an iframe and
// renews the ticket when the portal's session ends.
//
// The zero value works on a page whose URL carries the resource id (see
// Routes) with the default ticket route.
type Shell struct {
	app.Compo

	// TicketPath is the ticket route (ticket.DefaultPath if empty).
	TicketPath string
	// Field is the JSON field of the ticket request that carries the
	// resource id (ticket.DefaultField if empty).
	Field string
	// ResourceID is the id of the resource whose keys are managed (the
	// deployment id). If empty, it is read from the page URL with Routes.
	ResourceID string
	// Routes are Gin-style path patterns ("/settings/api-keys/:id") matched
	// against the page path when ResourceID is empty; the value of the
	// matching pattern's last parameter is the resource id.
	Routes []string
	// Messages are the texts the shell shows (English where empty).
	Messages Messages
	// MinHeight is the iframe's minimum height in CSS pixels
	// (DefaultMinHeight if 0); the portal may ask for more.
	MinHeight int
	// SignInURL is linked from the "session ended" state ("/login"
	// if empty).
	SignInURL string
	// Theme is posted to the portal each time it says ready:
	// ticket.ThemeLight, ThemeDark or ThemeSystem. Empty follows the page's
	// prefers-color-scheme (light or dark) and its changes.
	Theme string

	m         machine
	env       env // nil: the browser; tests inject fakes
	timers    [2]func() bool
	stopMsg   func()
	stopTheme func()
	gen       int // bumped on dismount so late callbacks are dropped
	running   bool
	adopting  bool // the eager script shows a frame this shell will adopt
	adopted   bool // the iframe is the eager script's, outside go-app's tree
	holding   bool // the page waits for the user's click (read once, at init)
	// ctx is the context the Shell was mounted with. Buttons use it rather
	// than their own event's: go-app drops a dispatch whose source element
	// is gone, and the button that started a fetch or a countdown is
	// usually gone when its answer or its timer arrives.
	ctx app.Context
}

func (s *Shell) ticketPath() string { return cmp.Or(s.TicketPath, ticket.DefaultPath) }
func (s *Shell) field() string      { return cmp.Or(s.Field, ticket.DefaultField) }

// text returns the shell's texts, English where Messages has none.
func (s *Shell) text() Messages    { return s.Messages.WithDefaults() }
func (s *Shell) signInURL() string { return cmp.Or(s.SignInURL, defaultSignInURL) }

func (s *Shell) minHeight() int {
	if s.MinHeight > 0 {
		return s.MinHeight
	}
	return DefaultMinHeight
}

// resolve fills ResourceID from the page path when it is empty.
func (s *Shell) resolve(path string) {
	if s.ResourceID == "" {
		s.ResourceID = ResourceFromPath(s.Routes, path)
	}
}

// OnPreRender resolves the resource id on the server, so the prerendered
// page carries it for the eager ticket request.
func (s *Shell) OnPreRender(ctx app.Context) {
	s.resolve(ctx.Page().URL().Path)
}

// OnInit resolves the resource id in the browser before the first render
// (which would otherwise say the URL carries none, and stay so until
// something re-renders), and notes a portal frame that the page's eager
// script already shows, so that the first render does not say "loading"
// above it.
func (s *Shell) OnInit() {
	if !app.IsClient {
		return
	}
	if s.env == nil {
		s.env = newBrowserEnv(s)
	}
	s.resolve(s.env.pagePath())
	s.adopting = s.env.eagerFrame()
	s.holding = s.env.waitForClick()
	if s.holding {
		s.m.Hold() // the first render shows the button, not "loading"
	}
}

// OnMount starts the shell in the browser: it listens for the portal's
// messages and asks for the first ticket, adopting the request the page's
// eager script already started, and the frame it shows, if any. On a page
// that waits for a click (StartOnClick) it asks once the user clicked.
func (s *Shell) OnMount(ctx app.Context) {
	if s.env == nil {
		s.env = newBrowserEnv(s)
	}
	s.resolve(ctx.Page().URL().Path)
	s.start(ctx)
}

// OnDismount stops every timer and listener; responses that arrive later
// are dropped.
func (s *Shell) OnDismount() {
	s.stop()
}

func (s *Shell) start(ctx app.Context) {
	if s.running || s.ResourceID == "" {
		return
	}
	s.running = true
	s.ctx = ctx
	s.m = machine{PageOrigin: s.env.pageOrigin(), MinHeight: s.MinHeight, Theme: s.Theme}
	gen := s.gen
	s.stopMsg = s.env.listen(func(msg message) {
		ctx.Dispatch(func(ctx app.Context) {
			if s.gen == gen {
				s.apply(ctx, s.m.Message(msg, s.env.now()))
			}
		})
	})
	if s.Theme == "" {
		s.m.Theme, s.stopTheme = s.env.watchScheme(func(theme string) {
			ctx.Dispatch(func(ctx app.Context) {
				if s.gen == gen {
					s.apply(ctx, s.m.SetTheme(theme))
				}
			})
		})
	}
	if s.holding {
		s.apply(ctx, s.m.Hold())
		return
	}
	s.apply(ctx, s.m.Start())
}

// onOpen is the user's click on a page opened from another site: it asks
// for the first ticket, and tells the page nothing need wait any more.
func (s *Shell) onOpen(ctx app.Context, e app.Event) {
	if !s.running || s.m.Phase() != phaseHeld {
		return
	}
	s.holding = false
	s.env.opened()
	s.apply(s.ctx, s.m.Open())
}

// fetched takes a ticket result. The first one may come with the eager
// script's frame: the shell adopts it (no second fetch, no reload) and
// replays what the frame said before the wasm was up.
func (s *Shell) fetched(ctx app.Context, r result) {
	now := s.env.now()
	fx := s.m.Fetched(r, now)
	queued, adopted := s.env.adoptFrame(s.m.FrameURL())
	s.adopting = false
	if adopted {
		s.adopted = true
	}
	s.apply(ctx, fx)
	for _, msg := range queued {
		s.apply(ctx, s.m.Message(msg, now))
	}
}

// syncFrame carries the machine's frame state to an adopted iframe, which
// go-app does not render: its src (a reload renews it), height and
// readiness; it removes the frame when the machine drops it.
func (s *Shell) syncFrame() {
	if !s.adopted {
		return
	}
	if s.m.FrameURL() == "" {
		s.env.removeFrame()
		s.adopted = false
		return
	}
	s.env.updateFrame(s.m.FrameURL(), s.text().FrameTitle, s.m.Height(), s.m.Ready())
}

func (s *Shell) stop() {
	if !s.running {
		return
	}
	s.running = false
	s.gen++
	for i, stop := range s.timers {
		if stop != nil {
			stop()
			s.timers[i] = nil
		}
	}
	if s.stopMsg != nil {
		s.stopMsg()
		s.stopMsg = nil
	}
	if s.stopTheme != nil {
		s.stopTheme()
		s.stopTheme = nil
	}
	s.env.removeFrame() // the adopted frame, or an eager one never adopted
	s.adopted, s.adopting = false, false
	s.m.Stop()
}

// apply carries out the machine's effects. It runs on the UI goroutine.
func (s *Shell) apply(ctx app.Context, fx []effect) {
	gen := s.gen
	for _, f := range fx {
		switch f.Kind {
		case effectFetch:
			s.env.fetchTicket(s.ticketPath(), s.field(), s.ResourceID, func(r result) {
				ctx.Dispatch(func(ctx app.Context) {
					if s.gen == gen {
						s.fetched(ctx, r)
					}
				})
			})
		case effectSetTimer:
			if stop := s.timers[f.Timer]; stop != nil {
				stop()
			}
			k := f.Timer
			s.timers[k] = s.env.afterFunc(f.After, func() {
				ctx.Dispatch(func(ctx app.Context) {
					if s.gen == gen {
						s.timers[k] = nil
						s.apply(ctx, s.m.Timer(k))
					}
				})
			})
		case effectStopTimer:
			if stop := s.timers[f.Timer]; stop != nil {
				stop()
				s.timers[f.Timer] = nil
			}
		case effectPostTicket:
			s.env.post(ticket.Message{Type: ticket.MsgTicket, Ticket: f.Ticket}, f.TargetOrigin)
		case effectPostTheme:
			s.env.post(ticket.Message{Type: ticket.MsgTheme, Theme: f.Theme}, f.TargetOrigin)
		case effectEmitEvent:
			s.env.emitEvent(f.Event)
		}
	}
	s.syncFrame()
}

func (s *Shell) onRetry(ctx app.Context, e app.Event) {
	if s.running {
		s.apply(s.ctx, s.m.Retry())
	}
}

// Render shows the current phase. It never fetches.
func (s *Shell) Render() app.UI {
	text := s.text()
	root := app.Div().
		Class("keyportal-shell").
		Attr("data-keyportal-ticket-path", s.ticketPath()).
		Attr("data-keyportal-field", s.field()).
		Attr("data-keyportal-resource", s.ResourceID).
		Attr("data-keyportal-title", text.FrameTitle).
		Attr("data-keyportal-min-height", strconv.Itoa(s.minHeight()))
	if app.IsServer {
		// Marks the server's markup, which the eager script may amend before
		// the wasm replaces it; it never touches what go-app rendered.
		root = root.Attr("data-keyportal-prerendered", "true")
	}

	if s.ResourceID == "" {
		return root.Body(app.P().Class("keyportal-error").Attr("role", "alert").
			Text(text.NoResource))
	}

	switch s.m.Phase() {
	case phaseSignedOut:
		return root.Body(app.Div().Class("keyportal-error").Attr("role", "alert").Body(
			app.P().Text(text.SignedOut),
			app.A().Href(s.signInURL()).Text(text.SignIn),
		))
	case phaseForbidden:
		return root.Body(app.Div().Class("keyportal-error").Attr("role", "alert").Body(
			app.P().Text(text.Forbidden),
			app.P().Text(text.AskAdmin),
		))
	case phaseHeld:
		// The mode, for an eager script that runs only now (async) and
		// reads this element: it must not ask.
		return root.Attr(startAttr, StartOnClick).Body(s.startPanel(text, false))
	case phaseFrame, phaseRateLimited, phaseFailed:
		if s.m.FrameURL() == "" || s.adopted {
			// An adopted frame lives outside go-app's tree (see syncFrame).
			return root.Body(s.notice(text))
		}
		return root.Body(s.notice(text), s.frame(text))
	default:
		if s.adopting {
			return root.Body(s.notice(text))
		}
		loading := app.P().Class("keyportal-status").Attr("role", "status").Text(text.Loading)
		if app.IsServer {
			// The server does not know whether this page waits for a click:
			// the eager script shows the hidden panel if it does.
			return root.Aria("busy", "true").Body(loading, s.startPanel(text, true))
		}
		return root.Aria("busy", "true").Body(loading)
	}
}

// startPanel is what a page opened from another site shows until the user
// clicks: why it waits, and the button that asks for the first ticket.
func (s *Shell) startPanel(text Messages, hidden bool) app.UI {
	return app.Div().Class("keyportal-start").Hidden(hidden).Body(
		app.P().Text(text.FromAnotherSite),
		app.Button().Type("button").Text(text.Open).OnClick(s.onOpen),
	)
}

// notice is the live region above the iframe: empty, or the rate-limit or
// failure notice. It is always rendered when a frame is shown so that the
// iframe keeps its place in the tree and is never recreated (which would
// reload the portal and lose its state).
func (s *Shell) notice(text Messages) app.UI {
	var body []app.UI
	switch s.m.Phase() {
	case phaseRateLimited:
		body = []app.UI{app.P().Text(text.rateLimited(s.m.Countdown()))}
	case phaseFailed:
		f, status := s.m.Failure()
		body = []app.UI{
			app.P().Text(text.failed(f, status, s.m.Countdown())),
			app.Button().Type("button").Text(text.Retry).OnClick(s.onRetry),
		}
	}
	return app.Div().Class("keyportal-notice").Aria("live", "polite").Body(body...)
}

func (s *Shell) frame(text Messages) app.UI {
	f := app.IFrame().
		Src(s.m.FrameURL()).
		Title(text.FrameTitle).
		Allow("clipboard-write").
		Style("width", "100%").
		Style("height", strconv.Itoa(s.m.Height())+"px").
		Style("border", "0")
	if s.m.Ready() {
		f = f.Attr("data-keyportal-ready", "true")
	}
	return f
}

// env is what a mounted Shell needs from the browser: browserEnv provides it
// through app.Window(); tests inject fakes with a controlled clock.
type env interface {
	now() time.Time
	pageOrigin() string
	// pagePath is the page's URL path, as the address bar has it.
	pagePath() string
	// afterFunc runs f after d; the returned func cancels it.
	afterFunc(d time.Duration, f func()) (stop func() bool)
	// fetchTicket POSTs {field: id} to path and calls done once, from any
	// goroutine.
	fetchTicket(path, field, id string, done func(result))
	// listen calls f with each window "message" event until stop is called,
	// except those the eager script queues for adoptFrame.
	listen(f func(message)) (stop func())
	// post posts a protocol message (v is added) to the shell's iframe.
	post(msg ticket.Message, targetOrigin string)
	// emitEvent tells the host page the portal did name (see hostEvent).
	emitEvent(name string)
	// watchScheme returns the page's colour scheme (ticket.ThemeLight or
	// ThemeDark; "" if unknown) and calls f with each change until stop.
	watchScheme(f func(theme string)) (theme string, stop func())

	// waitForClick reports whether the page says to wait for the user's
	// click before the first ticket (StartOnClick) and the eager script has
	// not asked for one yet (it asks only after that click, then).
	waitForClick() bool
	// opened records the user's click on the page (StartAtOnce from now
	// on), so that no later Shell of this page waits again.
	opened()

	// eagerFrame reports whether the eager script shows a frame.
	eagerFrame() bool
	// adoptFrame takes the eager script's frame if it shows url, returning
	// the messages it queued; otherwise it removes that frame, if any.
	// Only the first call after the eager request was taken does anything.
	adoptFrame(url string) (queued []message, ok bool)
	// updateFrame sets the adopted frame's src, title, height and readiness.
	updateFrame(url, title string, height int, ready bool)
	// removeFrame removes the adopted frame, or an eager one not adopted.
	removeFrame()
}
