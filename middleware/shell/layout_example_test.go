package shell_test

import (
	"context"
	"html/template"
	"io"
	"log"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/shell"
)

// The ticket route is what a page asks for its first ticket while it
// renders (Config.Tickets).
var _ shell.PageTickets = (*middleware.TicketRoute)(nil)

// settingsPage is the host's own layout: its header and navigation, and
// the shell's Page in the slot where the portal goes.
var settingsPage = template.Must(template.New("settings").Parse(`<!doctype html>
<html lang="{{.Shell.Lang}}"><head><meta charset="utf-8"><title>{{.Shell.Title}}</title>
<link rel="stylesheet" href="/static/acme.css">{{.Shell.Head}}</head>
<body><header>Acme · {{.User}}</header>
<nav><a href="/">Deployments</a> <a href="/billing">Billing</a></nav>
<main><h1>API keys</h1>{{.Shell.Body}}</main></body></html>`))

// ticketConfig is the app's ticket route: Identify, Decider and Issuer as
// in middleware's Example.
var ticketConfig middleware.Config

// The settings page in the host's layout, with the first ticket (or the
// route's refusal) in the page's first HTML.
func ExampleConfig_layout() {
	route, err := middleware.NewTicketRoute(ticketConfig)
	if err != nil {
		log.Print(err)
		return
	}
	s, err := shell.New(context.Background(), shell.Config{
		Title:    "Acme — API keys",
		WasmPath: "web/app.wasm",
		Tickets:  route,
		Pages:    []string{"/settings/api-keys/:deploymentId"},
		Layout: func(c *gin.Context, w io.Writer, p shell.Page) error {
			return settingsPage.Execute(w, map[string]any{"User": c.GetString("user"), "Shell": p})
		},
	})
	if err != nil {
		log.Print(err)
		return
	}
	defer s.Close()
	r := gin.New()
	if err := route.Mount(r); err != nil {
		log.Print(err)
		return
	}
	if err := s.Mount(r); err != nil {
		log.Print(err)
	}
}
