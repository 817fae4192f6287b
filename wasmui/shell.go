package wasmui

import (
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// Defaults of a Shell, matching the ticket route's defaults.
const (
	// DefaultTicketPath is the ticket route the shell POSTs to.
	DefaultTicketPath = "/api/settings/api-keys/embed-ticket"
	// DefaultField is the JSON field that carries the resource id.
	DefaultField = "deploymentId"
	// DefaultTitle is the iframe's accessible title.
	DefaultTitle = "API key manager"
	// DefaultSignInURL is where the 401 state links to.
	DefaultSignInURL = "/login"
)

// Texts shown by the shell, exported so tests and host pages can match them.
const (
	TextLoading   = "Loading API key manager…"
	TextSignedOut = "Your session has ended — sign in again."
	TextSignIn    = "Sign in again"
	TextForbidden = "You don't have permission to manage API keys here."
	TextAskAdmin  = "Ask an owner or admin of this workspace if you need access."
	TextRetry     = "Retry"
)

// Shell is the go-app component that embeds the key portal: it asks the
// host app's ticket route for a ticket, shows the portal in an iframe and
// renews the ticket when the portal's session ends.
//
// The zero value works on a page whose URL carries the resource id (see
// Routes) with the default ticket route.
type Shell struct {
	app.Compo

	// TicketPath is the ticket route (DefaultTicketPath if empty).
	TicketPath string
	// Field is the JSON field of the ticket request that carries the
	// resource id (DefaultField if empty).
	Field string
	// ResourceID is the id of the resource whose keys are managed (the
	// deployment id). If empty, it is read from the page URL with Routes.
	ResourceID string
	// Routes are Gin-style path patterns ("/settings/api-keys/:id") matched
	// against the page path when ResourceID is empty; the value of the
	// matching pattern's last parameter is the resource id.
	Routes []string
	// Title is the iframe's accessible title (DefaultTitle if empty).
	Title string
	// MinHeight is the iframe's minimum height in CSS pixels
	// (DefaultMinHeight if 0); the portal may ask for more.
	MinHeight int
	// SignInURL is linked from the "session ended" state (DefaultSignInURL
	// if empty).
	SignInURL string

	m       Machine
	env     env // nil: the browser; tests inject fakes
	timers  [2]func() bool
	stopMsg func()
	gen     int // bumped on dismount so late callbacks are dropped
	running bool
}

func (s *Shell) ticketPath() string { return or(s.TicketPath, DefaultTicketPath) }
func (s *Shell) field() string      { return or(s.Field, DefaultField) }
func (s *Shell) title() string      { return or(s.Title, DefaultTitle) }
func (s *Shell) signInURL() string  { return or(s.SignInURL, DefaultSignInURL) }

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
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

// OnMount starts the shell in the browser: it listens for the portal's
// messages and asks for the first ticket (adopting the request the page's
// eager script already started, if any).
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
	s.m = Machine{PageOrigin: s.env.pageOrigin(), MinHeight: s.MinHeight}
	gen := s.gen
	s.stopMsg = s.env.listen(func(msg Message) {
		ctx.Dispatch(func(ctx app.Context) {
			if s.gen == gen {
				s.apply(ctx, s.m.Message(msg, s.env.now()))
			}
		})
	})
	s.apply(ctx, s.m.Start())
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
	s.m.Stop()
}

// apply carries out the Machine's effects. It runs on the UI goroutine.
func (s *Shell) apply(ctx app.Context, fx []Effect) {
	gen := s.gen
	for _, f := range fx {
		switch f.Kind {
		case EffectFetch:
			s.env.fetchTicket(s.ticketPath(), s.field(), s.ResourceID, func(r Result) {
				ctx.Dispatch(func(ctx app.Context) {
					if s.gen == gen {
						s.apply(ctx, s.m.Fetched(r, s.env.now()))
					}
				})
			})
		case EffectSetTimer:
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
		case EffectStopTimer:
			if stop := s.timers[f.Timer]; stop != nil {
				stop()
				s.timers[f.Timer] = nil
			}
		case EffectPostTicket:
			s.env.postTicket(f.Ticket, f.TargetOrigin)
		}
	}
}

func (s *Shell) onRetry(ctx app.Context, e app.Event) {
	if s.running {
		s.apply(ctx, s.m.Retry())
	}
}

// Render shows the current phase. It never fetches.
func (s *Shell) Render() app.UI {
	root := app.Div().
		Class("keyportal-shell").
		Attr("data-keyportal-ticket-path", s.ticketPath()).
		Attr("data-keyportal-field", s.field()).
		Attr("data-keyportal-resource", s.ResourceID)

	if s.ResourceID == "" {
		return root.Body(app.P().Class("keyportal-error").Attr("role", "alert").
			Text("keyportal: this page's URL carries no resource id."))
	}

	switch s.m.Phase() {
	case PhaseSignedOut:
		return root.Body(app.Div().Class("keyportal-error").Attr("role", "alert").Body(
			app.P().Text(TextSignedOut),
			app.A().Href(s.signInURL()).Text(TextSignIn),
		))
	case PhaseForbidden:
		return root.Body(app.Div().Class("keyportal-error").Attr("role", "alert").Body(
			app.P().Text(TextForbidden),
			app.P().Text(TextAskAdmin),
		))
	case PhaseFrame, PhaseRateLimited, PhaseFailed:
		if s.m.FrameURL() == "" {
			return root.Body(s.notice())
		}
		return root.Body(s.notice(), s.frame())
	default:
		return root.Aria("busy", "true").Body(
			app.P().Class("keyportal-status").Attr("role", "status").Text(TextLoading),
		)
	}
}

// notice is the live region above the iframe: empty, or the rate-limit or
// failure notice. It is always rendered when a frame is shown so that the
// iframe keeps its place in the tree and is never recreated (which would
// reload the portal and lose its state).
func (s *Shell) notice() app.UI {
	var body []app.UI
	switch s.m.Phase() {
	case PhaseRateLimited:
		body = []app.UI{app.P().Text(RateLimitedText(s.m.Countdown()))}
	case PhaseFailed:
		body = []app.UI{
			app.P().Text(FailedText(s.m.Detail(), s.m.Countdown())),
			app.Button().Type("button").Text(TextRetry).OnClick(s.onRetry),
		}
	}
	return app.Div().Class("keyportal-notice").Aria("live", "polite").Body(body...)
}

func (s *Shell) frame() app.UI {
	f := app.IFrame().
		Src(s.m.FrameURL()).
		Title(s.title()).
		Allow("clipboard-write").
		Style("width", "100%").
		Style("height", strconv.Itoa(s.m.Height())+"px").
		Style("border", "0")
	if s.m.Ready() {
		f = f.Attr("data-keyportal-ready", "true")
	}
	return f
}

// RateLimitedText is the 429 notice with seconds left before the retry.
func RateLimitedText(seconds int) string {
	return "Too many requests for a key manager ticket. Retrying in " + strconv.Itoa(seconds) + " s…"
}

// FailedText is the failure notice with seconds left before the retry.
func FailedText(detail string, seconds int) string {
	t := "Couldn't load the API key manager"
	if detail != "" {
		t += " (" + detail + ")"
	}
	if seconds > 0 {
		return t + ". Retrying in " + strconv.Itoa(seconds) + " s…"
	}
	return t + "."
}

// env is what a mounted Shell needs from the browser: browserEnv provides it
// through app.Window(); tests inject fakes with a controlled clock.
type env interface {
	now() time.Time
	pageOrigin() string
	// afterFunc runs f after d; the returned func cancels it.
	afterFunc(d time.Duration, f func()) (stop func() bool)
	// fetchTicket POSTs {field: id} to path and calls done once, from any
	// goroutine.
	fetchTicket(path, field, id string, done func(Result))
	// listen calls f with each window "message" event until stop is called.
	listen(f func(Message)) (stop func())
	// postTicket posts a keyportal:ticket message to the shell's iframe.
	postTicket(ticket, targetOrigin string)
}
