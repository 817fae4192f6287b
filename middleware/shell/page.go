package shell

import (
	"bytes"
	"cmp"
	"html"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/httpenc"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/wasmui"
)

// Page is the shell's part of one settings page, for the page's template:
// Config.Layout gets it for each request and places Head and Body in the
// host's own page, with its header and navigation around the portal.
type Page struct {
	// Head goes in the page's <head>: a preconnect to the portal and
	// go-app's scripts, which are deferred. Nothing in it blocks rendering.
	Head template.HTML
	// Body goes where the portal is to appear: the shell element, the
	// portal's iframe when the page carries its first ticket
	// (Config.Tickets), the shell's stylesheets (then Config.Styles),
	// go-app's hidden loader and the eager script. It must
	// be in the page's <body>, anywhere but first: the shell moves the wasm's
	// component into Body's place when it starts.
	Body template.HTML
	// Title is Config.Title, for the page's <title>.
	Title string
	// Lang is Config.Messages.Lang (wasmui.English's when empty), for
	// <html lang>.
	Lang string
}

// PageTickets issues a settings page's first ticket while the page renders,
// through the ticket route's own checks: *middleware.TicketRoute implements
// it (its PageTicket method).
type PageTickets interface {
	// PageTicket runs the ticket route's steps for the page's request and
	// the resource id its address carries, and returns the route's answer.
	PageTicket(c *gin.Context, resourceID string) ticket.Answer
}

// defaultLayout is the page without Config.Layout: the shell alone.
var defaultLayout = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.Page.Lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Page.Title}}</title>
{{with .Description}}<meta name="description" content="{{.}}">
{{end}}<meta name="theme-color" content="{{.ThemeColor}}">
<link rel="icon" href="{{.Icon}}">
{{.Page.Head}}
</head><body style="margin:0">
{{.Page.Body}}
</body></html>
`))

// goAppScripts are go-app's scripts, which start the wasm, by their names
// under the prefix.
var goAppScripts = []string{"wasm_exec.js", "app.js"}

// servePage serves a settings page: the shell's Page, in Config.Layout or
// the default layout, never cached (it may carry a single-use ticket, and it
// depends on the request's Sec-Fetch-Site and session), compressed by
// Accept-Encoding.
func (s *Shell) servePage(c *gin.Context) {
	if !safePagePath(c.Request.URL.Path) {
		c.Data(http.StatusNotFound, "text/plain; charset=utf-8", []byte("404 no settings page here: the address holds a character that no resource id has\n"))
		return
	}
	p := s.Page(c)
	var buf bytes.Buffer
	var err error
	if s.cfg.Layout != nil {
		err = s.cfg.Layout(c, &buf, p)
	} else {
		err = defaultLayout.Execute(&buf, struct {
			Page
			Description, ThemeColor, Icon string
		}{p, s.cfg.Description, s.cfg.ThemeColor, s.prefix + "web/keyportal-icon.svg"})
	}
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Sec-Fetch-Site")
	h.Add("Vary", "Accept-Encoding")
	if err != nil {
		s.log.Error().Err(err).Str("path", c.Request.URL.Path).Msg("shell: the settings page's layout failed")
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte("500 the settings page could not be rendered\n"))
		return
	}
	body, enc := httpenc.Dynamic(c.GetHeader("Accept-Encoding"), buf.Bytes())
	if enc != "" {
		h.Set("Content-Encoding", enc)
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.Status(http.StatusOK)
	c.Writer.WriteHeaderNow()
	if c.Request.Method != http.MethodHead {
		_, _ = c.Writer.Write(body)
	}
}

// Page renders the shell's part of the settings page for c, a request to
// one of Config.Pages (Config.Layout calls nothing: it is
// given the Page). On a GET whose navigation asks at once (see startMode),
// with Config.Tickets set, it issues the first ticket through the ticket
// route's checks, so that Body carries the portal's iframe, or the state
// the route's refusal puts the shell in.
func (s *Shell) Page(c *gin.Context) Page {
	s.mu.Lock()
	cfg, env := *s.shell, s.env
	s.mu.Unlock()
	r := c.Request
	mode := startMode(r)
	comp := wasmui.FromEnv(func(k string) string { return env[k] })
	resource := wasmui.ResourceFromPath(cfg.Routes, r.URL.Path)

	var answer *ticket.Answer
	if s.cfg.Tickets != nil && mode == wasmui.StartAtOnce && resource != "" && r.Method == http.MethodGet {
		a := s.cfg.Tickets.PageTicket(c, resource)
		answer = &a
	}
	pre := comp.Prerender(ticket.RequestScheme(r)+"://"+r.Host, r.URL.Path, answer, time.Now())
	portal := pre.PortalOrigin
	if portal != "" {
		s.portalOrigin.Store(&portal)
	} else if last := s.portalOrigin.Load(); last != nil {
		portal = *last
	}

	var head strings.Builder
	if portal != "" {
		head.WriteString(`<link rel="preconnect" href="` + html.EscapeString(portal) + `">`)
	}
	for _, src := range goAppScripts {
		head.WriteString(`<script defer src="` + html.EscapeString(s.prefix+src) + `"></script>`)
	}

	// The stylesheets are in the body, after the shell and the portal's
	// iframe: Chromium's parser stops at a stylesheet in the body until it
	// has loaded, so one before the frame would hold the portal's request
	// back by the stylesheet's round trip, and one in the head would hold
	// back the host's header and navigation. The frame carries its size
	// in its own style attribute.
	var body strings.Builder
	body.WriteString(pre.Shell)
	body.WriteString(pre.Frame)
	for _, st := range append([]string{s.cssURL()}, s.cfg.Styles...) {
		body.WriteString(`<link rel="stylesheet" href="` + html.EscapeString(st) + `">`)
	}
	// go-app's loader, which app.js reports a failed load in; hidden unless
	// it does (shellCSS).
	body.WriteString(`<aside id="app-wasm-loader" hidden><img id="app-wasm-loader-icon" class="goapp-logo goapp-spin" alt="" loading="lazy" src="` + html.EscapeString(s.prefix) + `web/keyportal-icon.png"><p id="app-wasm-loader-label"></p></aside>`)
	body.WriteString(s.eagerTag(cfg, r.URL.Path, mode, answer))
	return Page{
		Head:  template.HTML(head.String()),
		Body:  template.HTML(body.String()),
		Title: s.cfg.Title,
		Lang:  s.cfg.Messages.WithDefaults().Lang,
	}
}

// eagerTag is the eager script, with the shell's settings for this page
// and, when the page issued its first ticket, the route's answer. It follows
// the shell and the frame, so the portal starts loading before the parser
// waits for it; it is a classic script, which runs before app.js (deferred),
// which waits for it before fetching the wasm.
//
// The wasm is deliberately not preloaded: receiving 7 MB and compiling it
// keeps the page's main thread busy, which delayed the portal by 100–500
// ms on a loaded 2-core machine. The portal comes first; the wasm, which
// renews tickets, loads right after.
func (s *Shell) eagerTag(cfg wasmui.Shell, path, mode string, answer *ticket.Answer) string {
	attr := func(name, value string) string {
		return ` data-keyportal-` + name + `="` + html.EscapeString(value) + `"`
	}
	min := cfg.MinHeight
	if min <= 0 {
		min = wasmui.DefaultMinHeight
	}
	tag := `<script src="` + html.EscapeString(s.eagerURL()) + `"` +
		attr("ticket-path", cmp.Or(cfg.TicketPath, ticket.DefaultPath)) +
		attr("field", cmp.Or(cfg.Field, ticket.DefaultField)) +
		attr("resource", wasmui.ResourceFromPath(cfg.Routes, path)) +
		attr("title", cfg.Messages.WithDefaults().FrameTitle) +
		attr("min-height", strconv.Itoa(min)) +
		attr("start", mode)
	if answer != nil {
		tag += attr("answer-status", strconv.Itoa(answer.Status)) +
			attr("answer-retry-after", answer.RetryAfter) +
			attr("answer-date", time.Now().UTC().Format(http.TimeFormat)) +
			attr("answer-body", string(answer.Body))
	}
	return tag + `></script>`
}
