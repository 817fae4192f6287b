//go:build !(js && wasm)

package wasmui

import (
	"html"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/msgtable"

	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// render loads a Shell whose machine has been driven by drive into go-app's
// test engine and returns it.
func render(t *testing.T, drive func(m *machine)) *Shell {
	t.Helper()
	s := &Shell{ResourceID: "42"}
	s.m = machine{PageOrigin: testPage}
	if drive != nil {
		drive(&s.m)
	}
	e := app.NewTestEngine()
	if err := e.Load(s); err != nil {
		t.Fatal(err)
	}
	e.ConsumeAll()
	return s
}

func rootDiv() app.HTMLDiv {
	return app.Div().Class("keyportal-shell").
		Attr("data-keyportal-ticket-path", ticket.DefaultPath).
		Attr("data-keyportal-field", ticket.DefaultField).
		Attr("data-keyportal-resource", "42").
		Attr("data-keyportal-title", DefaultTitle).
		Attr("data-keyportal-min-height", "480").
		Attr("data-keyportal-prerendered", "true")
}

func match(t *testing.T, s *Shell, want app.UI, path ...int) {
	t.Helper()
	if err := app.Match(want, s, append([]int{0}, path...)...); err != nil {
		t.Errorf("at %v: %v", path, err)
	}
}

func TestRenderLoading(t *testing.T) {
	s := render(t, func(m *machine) { m.Start() })
	match(t, s, rootDiv().Aria("busy", "true"))
	match(t, s, app.P().Class("keyportal-status").Attr("role", "status"), 0)
	match(t, s, app.Text(TextLoading), 0, 0)
}

// TestRenderLoadingCarriesHiddenStartPanel: the server's loading state
// carries the start panel hidden, for the eager script to show on a page
// opened from another site.
func TestRenderLoadingCarriesHiddenStartPanel(t *testing.T) {
	s := render(t, nil)
	match(t, s, app.Div().Class("keyportal-start").Hidden(true), 1)
	match(t, s, app.Text(TextFromAnotherSite), 1, 0, 0)
	match(t, s, app.Button().Type("button").OnClick(func(app.Context, app.Event) {}), 1, 1)
	match(t, s, app.Text(TextOpen), 1, 1, 0)
}

func TestRenderHeld(t *testing.T) {
	s := render(t, func(m *machine) { m.Hold() })
	match(t, s, rootDiv().Attr(startAttr, StartOnClick)) // not busy
	match(t, s, app.Div().Class("keyportal-start").Hidden(false), 0)
	match(t, s, app.Text(TextFromAnotherSite), 0, 0, 0)
	match(t, s, app.Button().Type("button").OnClick(func(app.Context, app.Event) {}), 0, 1)
	match(t, s, app.Text(TextOpen), 0, 1, 0)
}

func TestRenderFrame(t *testing.T) {
	src := testPortal + "/vanity/api-auth?ticket=t1"
	for _, tc := range []struct {
		name  string
		drive func(m *machine)
		frame app.HTMLIFrame
	}{
		{
			name: "before ready, minimum height",
			drive: func(m *machine) {
				m.Start()
				m.Fetched(okResult("t1", time.Minute), t0)
			},
			frame: app.IFrame().Src(src).Title(DefaultTitle).Allow("clipboard-write").
				Style("width", "100%").Style("height", "480px").Style("border", "0"),
		},
		{
			name: "ready and resized",
			drive: func(m *machine) {
				m.Start()
				m.Fetched(okResult("t1", time.Minute), t0)
				m.Message(readyMsg(ticket.SessionActive), t0)
				resize := frameMsg(ticket.MsgResize)
				resize.Data.Height = 731
				m.Message(resize, t0)
			},
			frame: app.IFrame().Src(src).Title(DefaultTitle).Allow("clipboard-write").
				Style("width", "100%").Style("height", "731px").Style("border", "0").
				Attr("data-keyportal-ready", "true"),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := render(t, tc.drive)
			match(t, s, rootDiv())
			match(t, s, app.Div().Class("keyportal-notice").Aria("live", "polite"), 0)
			match(t, s, tc.frame, 1)
		})
	}
}

func TestRenderErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		result result
		checks func(t *testing.T, s *Shell)
	}{
		{
			name:   "401 links to sign in",
			result: result{Status: 401},
			checks: func(t *testing.T, s *Shell) {
				match(t, s, app.Div().Class("keyportal-error").Attr("role", "alert"), 0)
				match(t, s, app.Text(TextSignedOut), 0, 0, 0)
				match(t, s, app.A().Href(defaultSignInURL), 0, 1)
				match(t, s, app.Text(TextSignIn), 0, 1, 0)
			},
		},
		{
			name:   "403 says no permission",
			result: result{Status: 403},
			checks: func(t *testing.T, s *Shell) {
				match(t, s, app.Div().Class("keyportal-error").Attr("role", "alert"), 0)
				match(t, s, app.Text(TextForbidden), 0, 0, 0)
			},
		},
		{
			name:   "429 counts down",
			result: result{Status: 429, RetryAfter: "9"},
			checks: func(t *testing.T, s *Shell) {
				match(t, s, app.Text("Too many requests for a key manager ticket. Retrying in 9 s…"), 0, 0, 0)
				next := render(t, func(m *machine) {
					*m = s.m
					m.Timer(timerTick)
				})
				match(t, next, app.Text("Too many requests for a key manager ticket. Retrying in 8 s…"), 0, 0, 0)
			},
		},
		{
			name:   "failure offers Retry",
			result: result{Status: 502},
			checks: func(t *testing.T, s *Shell) {
				match(t, s, app.Div().Class("keyportal-notice").Aria("live", "polite"), 0)
				match(t, s, app.Text("Couldn't load the API key manager (the server answered 502). Retrying in 1 s…"), 0, 0, 0)
				match(t, s, app.Button().Type("button").OnClick(func(app.Context, app.Event) {}), 0, 1)
				match(t, s, app.Text(English().Retry), 0, 1, 0)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := render(t, func(m *machine) {
				m.Start()
				m.Fetched(tc.result, t0)
			})
			match(t, s, rootDiv())
			tc.checks(t, s)
		})
	}
}

func TestRenderFailureAboveKeptFrame(t *testing.T) {
	s := render(t, func(m *machine) {
		m.Start()
		m.Fetched(okResult("t1", time.Minute), t0)
		m.Message(readyMsg(ticket.SessionActive), t0)
		m.Message(frameMsg(ticket.MsgSessionExpired), t0)
		m.Fetched(result{Status: 500}, t0)
	})
	match(t, s, app.Text("Couldn't load the API key manager (the server answered 500). Retrying in 1 s…"), 0, 0, 0)
	// The iframe keeps index 1, so go-app updates it rather than recreating it.
	match(t, s, app.IFrame().Src(testPortal+"/vanity/api-auth?ticket=t1").Title(DefaultTitle).
		Allow("clipboard-write").Style("width", "100%").Style("height", "480px").Style("border", "0").
		Attr("data-keyportal-ready", "true"), 1)
}

// TestRenderChurnGivenUp: a frame that kept expiring is replaced by the
// failure notice and its Retry button, without a countdown.
func TestRenderChurnGivenUp(t *testing.T) {
	s := render(t, func(m *machine) {
		m.Start()
		m.Fetched(okResult("t1", time.Minute), t0)
		m.churn, m.lastRenewal = maxChurn, t0 // as after maxChurn quick renewals
		m.Message(frameMsg(ticket.MsgSessionExpired), t0.Add(time.Second))
	})
	match(t, s, app.Text("Couldn't load the API key manager (its session kept ending at once)."), 0, 0, 0)
	match(t, s, app.Text(English().Retry), 0, 1, 0)
	if err := app.Match(app.IFrame(), s, 0, 1); err == nil {
		t.Fatal("the frame is still shown")
	}
}

func TestRenderAroundEagerFrame(t *testing.T) {
	// The eager script shows the portal; the first render, before the
	// ticket result is adopted, must not say loading above it.
	s := &Shell{ResourceID: "42", adopting: true}
	e := app.NewTestEngine()
	if err := e.Load(s); err != nil {
		t.Fatal(err)
	}
	e.ConsumeAll()
	match(t, s, rootDiv())
	match(t, s, app.Div().Class("keyportal-notice").Aria("live", "polite"), 0)

	// An adopted frame lives outside go-app's tree: no second iframe, and
	// notices still show above it.
	s = &Shell{ResourceID: "42", adopted: true}
	s.m = machine{PageOrigin: testPage}
	s.m.Start()
	s.m.Fetched(okResult("t1", time.Minute), t0)
	s.m.Message(readyMsg(ticket.SessionActive), t0)
	s.m.Message(frameMsg(ticket.MsgSessionExpired), t0)
	s.m.Fetched(result{Status: 503}, t0)
	e = app.NewTestEngine()
	if err := e.Load(s); err != nil {
		t.Fatal(err)
	}
	e.ConsumeAll()
	match(t, s, rootDiv())
	match(t, s, app.Text("Couldn't load the API key manager (the server answered 503). Retrying in 1 s…"), 0, 0, 0)
	own := func() app.UI {
		return app.IFrame().Src(testPortal+"/vanity/api-auth?ticket=t1").Title(DefaultTitle).
			Allow("clipboard-write").Style("width", "100%").Style("height", "480px").Style("border", "0").
			Attr("data-keyportal-ready", "true")
	}
	if err := app.Match(own(), s, 0, 1); err == nil {
		t.Fatal("an iframe was rendered beside the adopted one")
	}
	// The same state without adoption renders the shell's own iframe, so
	// the check above can see one.
	s2 := &Shell{ResourceID: "42", m: s.m}
	e = app.NewTestEngine()
	if err := e.Load(s2); err != nil {
		t.Fatal(err)
	}
	e.ConsumeAll()
	if err := app.Match(own(), s2, 0, 1); err != nil {
		t.Fatalf("without adoption the shell renders its own iframe: %v", err)
	}
}

func TestRenderWithoutResource(t *testing.T) {
	s := &Shell{}
	e := app.NewTestEngine()
	if err := e.Load(s); err != nil {
		t.Fatal(err)
	}
	e.ConsumeAll()
	match(t, s, app.P().Class("keyportal-error").Attr("role", "alert"), 0)
}

func TestResourceFromPath(t *testing.T) {
	routes := []string{"/settings/api-keys/:deploymentId", "/orgs/:org/apps/:app/keys", "/files/*path"}
	for path, want := range map[string]string{
		"/settings/api-keys/42":       "42",
		"/settings/api-keys/42/":      "42",
		"/settings/api-keys/a%2Fb":    "a/b",
		"/settings/api-keys/":         "",
		"/settings/api-keys/42/extra": "",
		"/orgs/acme/apps/7/keys":      "7",
		"/files/x/y":                  "x/y",
		"/elsewhere":                  "",
	} {
		if got := ResourceFromPath(routes, path); got != want {
			t.Errorf("ResourceFromPath(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestRouteRegexp(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		yes, no []string
	}{
		{"/settings/api-keys/:id", []string{"/settings/api-keys/42", "/settings/api-keys/42/"}, []string{"/settings/api-keys", "/settings/api-keys/4/2", "/x/settings/api-keys/4"}},
		{"/files/*rest", []string{"/files", "/files/a/b"}, []string{"/filesx"}},
		{"/", []string{"/"}, []string{"/a"}},
		{"/a.b/:id", []string{"/a.b/1"}, []string{"/axb/1"}},
	} {
		re := regexp.MustCompile(RouteRegexp(tc.pattern))
		for _, p := range tc.yes {
			if !re.MatchString(p) {
				t.Errorf("%s (%s) does not match %s", tc.pattern, re, p)
			}
		}
		for _, p := range tc.no {
			if re.MatchString(p) {
				t.Errorf("%s (%s) matches %s", tc.pattern, re, p)
			}
		}
	}
}

func TestEnvRoundTrip(t *testing.T) {
	in := &Shell{TicketPath: "/t", Field: "appId", Routes: []string{"/a/:id", "/b/:id"}, Messages: Messages{Lang: "de", FrameTitle: "Schlüssel"}, MinHeight: 600, SignInURL: "/signin"}
	env := in.Env()
	out := FromEnv(func(k string) string { return env[k] })
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip %+v, want %+v", out, in)
	}
	if len((&Shell{}).Env()) != 0 {
		t.Fatal("a zero Shell has env entries")
	}
}

// TestRenderInGerman renders every state of a Shell with a German table:
// each text shown is the German one, and no English text of the table
// appears anywhere in the markup.
func TestRenderInGerman(t *testing.T) {
	if got := msgtableKeys(german); got != msgtableKeys(English()) {
		t.Fatalf("the German sample leaves texts out: %s, want %s", got, msgtableKeys(English()))
	}
	states := []struct {
		name string
		id   string
		r    *result
		hold bool
		want []string
	}{
		{name: "loading", id: "42", want: []string{german.Loading, german.FromAnotherSite, german.Open, `data-keyportal-title="` + german.FrameTitle}},
		{name: "held", id: "42", hold: true, want: []string{german.FromAnotherSite, german.Open}},
		{name: "401", id: "42", r: &result{Status: 401}, want: []string{german.SignedOut, german.SignIn}},
		{name: "403", id: "42", r: &result{Status: 403}, want: []string{german.Forbidden, german.AskAdmin}},
		{name: "429", id: "42", r: &result{Status: 429, RetryAfter: "9"}, want: []string{"Zu viele Anfragen. Neuer Versuch in 9 s …"}},
		{name: "502", id: "42", r: &result{Status: 502}, want: []string{"Die Schlüsselverwaltung konnte nicht geladen werden (der Server antwortete 502). Neuer Versuch in 1 s …", german.Retry}},
		{name: "network", id: "42", r: &result{}, want: []string{"(Netzwerkfehler)"}},
		{name: "418", id: "42", r: &result{Status: 418}, want: []string{"(unerwartete Antwort 418)"}},
		{name: "no ticket", id: "42", r: &result{Status: 200, Body: `{}`}, want: []string{"(kein Ticket erhalten)"}},
		{name: "bad url", id: "42", r: &result{Status: 200, Body: `{"ticket":"t","url":"javascript:x","expires_at":1}`}, want: []string{"(unbrauchbare Portal-Adresse)"}},
		{name: "frame", id: "42", r: &result{Status: 200, Body: `{"ticket":"t1","url":"` + testPortal + `/p?ticket=t1","expires_at":` + strconv.FormatInt(t0.Add(time.Minute).Unix(), 10) + `}`}, want: []string{`title="` + german.FrameTitle + `"`}},
		{name: "no resource", want: []string{german.NoResource}},
	}
	english := English()
	for _, st := range states {
		t.Run(st.name, func(t *testing.T) {
			s := &Shell{ResourceID: st.id, Messages: german}
			s.m = machine{PageOrigin: testPage}
			if st.hold {
				s.m.Hold()
			} else {
				s.m.Start()
			}
			if st.r != nil {
				s.m.Fetched(*st.r, t0)
			}
			e := app.NewTestEngine()
			if err := e.Load(s); err != nil {
				t.Fatal(err)
			}
			e.ConsumeAll()
			var b strings.Builder
			app.PrintHTML(&b, s)
			page := html.UnescapeString(b.String())
			for _, w := range st.want {
				if !strings.Contains(page, w) {
					t.Errorf("the page does not say %q:\n%s", w, page)
				}
			}
			for _, en := range []string{english.Loading, english.FrameTitle, english.SignedOut, english.SignIn, english.Forbidden,
				english.AskAdmin, english.RateLimited, "Retrying in", "Couldn't load", english.Retry, english.DetailNetwork,
				"the server answered", "unexpected answer", english.DetailNoTicket, english.DetailBadURL, english.DetailNoSession,
				english.FromAnotherSite, english.Open, english.NoResource} {
				if strings.Contains(page, en) {
					t.Errorf("English %q leaks into the German page:\n%s", en, page)
				}
			}
		})
	}
}

func msgtableKeys(m Messages) string {
	return strings.Join(slices.Sorted(maps.Keys(msgtable.ToMap(m))), ",")
}

// TestMessagesCheck: a table with a text that could disguise what it shows,
// or a lang that is not a language tag, is refused.
func TestMessagesCheck(t *testing.T) {
	if err := german.Check(); err != nil {
		t.Fatal(err)
	}
	if err := (Messages{Open: "Open\u202e"}).Check(); err == nil || !strings.Contains(err.Error(), "open") {
		t.Fatalf("a bidi control: %v", err)
	}
	if err := (Messages{Lang: `de"><script>`}).Check(); err == nil {
		t.Fatal("a lang that is not a tag was accepted")
	}
}
