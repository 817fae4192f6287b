package main

import (
	"context"
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/shell"
	"github.com/keyportal/keyportal/policy"
)

// pages serves Acme's own screens: sign-in, the deployment list, sign-out.
type pages struct {
	sessions  sessions
	decider   policy.Decider
	appURL    string
	portalURL string
	remote    bool
}

func (p *pages) mount(e *gin.Engine) {
	e.GET("/", p.home)
	e.GET("/login", p.loginPage)
	e.POST("/login", p.login)
	e.POST("/logout", p.logout)
}

// deploymentLink is one row of the home page.
type deploymentLink struct {
	ID        string
	CanManage bool
	Reason    string
}

func (p *pages) home(c *gin.Context) {
	who, err := p.sessions.identify(c)
	if err != nil {
		c.Redirect(http.StatusSeeOther, "/login")
		return
	}
	u, _ := findUser(who.Subject)
	t, _ := findTenant(u.Tenant)
	var links []deploymentLink
	for _, d := range t.Deployments {
		dec, err := p.decider.Decide(c.Request.Context(), policy.Request{Subject: u.Name, Tenant: u.Tenant, Object: "deployment:" + d, Action: "api_keys:manage"})
		links = append(links, deploymentLink{ID: d, CanManage: err == nil && dec.Allowed, Reason: string(dec.Reason)})
	}
	render(c, http.StatusOK, homeTmpl, map[string]any{"User": u, "Tenant": t, "Deployments": links})
}

func (p *pages) loginPage(c *gin.Context) {
	render(c, http.StatusOK, loginTmpl, map[string]any{"Users": demoUsers, "Tenants": demoTenants})
}

func (p *pages) login(c *gin.Context) {
	if !sameOrigin(c) {
		c.String(http.StatusForbidden, "cross-site sign-in refused")
		return
	}
	u, ok := findUser(c.PostForm("user"))
	if !ok {
		c.String(http.StatusBadRequest, "unknown demo user %q: pick one of the list on /login", c.PostForm("user"))
		return
	}
	c.SetSameSite(http.SameSiteLaxMode)
	c.SetCookie(sessionCookie, p.sessions.issue(u.Name), int(sessionTTL/time.Second), "/", "", false, true)
	next := "/"
	if t, ok := findTenant(u.Tenant); ok && len(t.Deployments) > 0 {
		next = "/settings/api-keys/" + t.Deployments[0]
	}
	c.Redirect(http.StatusSeeOther, next)
}

func (p *pages) logout(c *gin.Context) {
	if !sameOrigin(c) {
		c.String(http.StatusForbidden, "cross-site sign-out refused")
		return
	}
	c.SetSameSite(http.SameSiteLaxMode)
	c.SetCookie(sessionCookie, "", -1, "/", "", false, true)
	c.Redirect(http.StatusSeeOther, "/login")
}

// sameOrigin refuses form posts from other sites (CSRF): a browser sends
// Origin with every POST; when it does not, Sec-Fetch-Site must not say
// cross-site.
func sameOrigin(c *gin.Context) bool {
	if o := c.GetHeader("Origin"); o != "" {
		u, err := url.Parse(o)
		return err == nil && u.Host == c.Request.Host
	}
	return c.GetHeader("Sec-Fetch-Site") != "cross-site"
}

// mountAuditPage serves one deployment's audit trail to those the policy lets
// "audit:read" it (support, in the demo policy), behind middleware.Authorize.
func mountAuditPage(e *gin.Engine, s sessions, d policy.Decider, r audit.Reader, log zerolog.Logger) error {
	guard, err := middleware.Authorize(middleware.AuthorizeConfig{
		Identify: s.identify,
		Decider:  d,
		Object:   func(c *gin.Context) string { return "deployment:" + c.Param("id") },
		Action:   "audit:read",
		Logger:   log,
	})
	if err != nil {
		return err
	}
	e.GET("/settings/audit/:id", guard, func(c *gin.Context) {
		who, _ := middleware.PrincipalFrom(c)
		id := c.Param("id")
		ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
		defer cancel()
		page, err := r.QueryAudit(ctx, audit.Query{Tenant: who.Tenant, AppSlug: "aa_" + id, Cursor: c.Query("cursor"), Limit: 100})
		switch {
		case errors.Is(err, keystore.ErrInvalid): // a cursor the store did not issue
			render(c, http.StatusBadRequest, messageTmpl, map[string]any{"Title": "Audit trail", "Message": "This link to older events is not valid; open the audit trail again."})
			return
		case err != nil:
			log.Error().Err(err).Str("deployment", id).Msg("audit page: the audit store failed")
			render(c, http.StatusServiceUnavailable, messageTmpl, map[string]any{"Title": "Audit trail unavailable", "Message": "The audit store did not answer; try again."})
			return
		}
		render(c, http.StatusOK, auditTmpl, map[string]any{"Deployment": id, "Page": page})
	})
	return nil
}

// settingsLayout is the API-keys settings page in Acme's layout: its
// header and navigation, with the key portal (the shell's Page) in the
// page's main card.
func (p *pages) settingsLayout(c *gin.Context, w io.Writer, sp shell.Page) error {
	data := map[string]any{"Shell": sp, "Deployment": c.Param("deploymentId")}
	if who, err := p.sessions.identify(c); err == nil {
		u, _ := findUser(who.Subject)
		t, _ := findTenant(u.Tenant)
		data["User"], data["Tenant"] = u, t
	}
	return settingsTmpl.Execute(w, data)
}

func render(c *gin.Context, status int, t *template.Template, data any) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	c.Status(status)
	if err := t.Execute(c.Writer, data); err != nil {
		_ = c.Error(err)
	}
}

const pageStyle = `<style>
:root{color-scheme:light dark;--fg:#1c2330;--muted:#5b6472;--bg:#f6f7f9;--card:#fff;--line:#dde1e7;--accent:#3b5bdb}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9ee;--muted:#a3acb9;--bg:#12151b;--card:#1b2029;--line:#2c3340;--accent:#8da2fb}}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;gap:1rem;align-items:center;padding:.75rem 1.5rem;background:var(--card);border-bottom:1px solid var(--line)}
header strong{font-size:1.1rem} header .who{margin-left:auto;color:var(--muted)}
main{max-width:56rem;margin:2rem auto;padding:0 1.5rem} main.wide{max-width:64rem;margin-top:1.25rem} main.wide h1{margin:0 0 .25rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1.25rem 1.5rem;margin-bottom:1rem}
button,.btn{font:inherit;padding:.45rem .9rem;border-radius:8px;border:1px solid var(--line);background:var(--card);color:var(--fg);cursor:pointer;text-decoration:none;display:inline-block}
button:focus-visible,a:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.users{display:grid;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));gap:.6rem}
.users button{width:100%;text-align:left} .muted{color:var(--muted)}
table{width:100%;border-collapse:collapse} td,th{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);font-size:.9rem}
a{color:var(--accent)}
nav.tabs{display:flex;gap:1.25rem;padding:0 1.5rem;background:var(--card);border-bottom:1px solid var(--line)}
nav.tabs a{padding:.6rem 0;text-decoration:none;color:var(--muted);border-bottom:2px solid transparent}
nav.tabs a[aria-current=page]{color:var(--fg);border-bottom-color:var(--accent)}
</style>`

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Sign in · Acme</title>` + pageStyle + `</head><body>
<header><strong>Acme</strong><span class="muted">demo sign-in</span></header>
<main><div class="card"><h1>Sign in as a demo user</h1>
<p class="muted">Each user holds one role in one tenant. Owners, admins and developers may manage API keys; viewers may not; support may read the audit trail. initech is suspended and umbrella deleted: their admins get no ticket.</p>
<form method="post" action="/login"><div class="users">
{{range .Users}}<button type="submit" name="user" value="{{.Name}}" data-testid="login-{{.Name}}"><strong>{{.Name}}</strong><br><span class="muted">{{.Role}} · {{.Tenant}}</span></button>{{end}}
</div></form></div></main></body></html>`))

var homeTmpl = template.Must(template.New("home").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Acme</title>` + pageStyle + `</head><body>
<header><strong>Acme</strong><span class="who">{{.User.Name}} · {{.User.Role}} at {{.Tenant.Name}} ({{.Tenant.Status}})</span>
<form method="post" action="/logout"><button type="submit">Sign out</button></form></header>
<main><div class="card"><h1>Deployments of {{.Tenant.Name}}</h1><table><thead><tr><th>Deployment</th><th>API keys</th><th>Audit</th></tr></thead><tbody>
{{range .Deployments}}<tr><td>{{.ID}}</td><td><a href="/settings/api-keys/{{.ID}}">Manage API keys</a>{{if not .CanManage}} <span class="muted">(no permission: {{.Reason}})</span>{{end}}</td><td><a href="/settings/audit/{{.ID}}">Audit trail</a></td></tr>{{end}}
</tbody></table></div></main></body></html>`))

var auditTmpl = template.Must(template.New("audit").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Audit · Acme</title>` + pageStyle + `</head><body>
<header><strong>Acme</strong><a href="/">Deployments</a></header>
<main><div class="card"><h1>Audit trail of deployment {{.Deployment}}</h1><table><thead><tr><th>Time</th><th>Action</th><th>Outcome</th><th>Actor</th><th>Reason</th><th>Key</th></tr></thead><tbody>
{{range .Page.Events}}<tr><td>{{.Time.Format "2006-01-02 15:04:05"}}</td><td>{{.Action}}</td><td>{{.Outcome}}</td><td>{{.Actor}}</td><td>{{.Reason}}</td><td>{{.KeyID}}</td></tr>{{else}}<tr><td colspan="6" class="muted">No events yet.</td></tr>{{end}}
</tbody></table>{{if .Page.NextCursor}}<p><a href="?cursor={{.Page.NextCursor}}">Older events</a></p>{{end}}</div></main></body></html>`))

// settingsTmpl is the settings page around the key portal: Acme's header
// and navigation, the portal in the main card. .Shell.Head and .Shell.Body
// are the shell's parts (shell.Page).
var settingsTmpl = template.Must(template.New("settings").Parse(`<!doctype html><html lang="{{.Shell.Lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{{.Shell.Title}}</title>` + pageStyle + `{{.Shell.Head}}</head><body>
<header data-testid="acme-header"><strong>Acme</strong>{{with .User}}<span class="who">{{.Name}} · {{.Role}} at {{$.Tenant.Name}}</span>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>{{end}}</header>
<nav class="tabs" data-testid="acme-nav" aria-label="Settings"><a href="/">Deployments</a><a href="/settings/api-keys/{{.Deployment}}" aria-current="page">API keys</a><a href="/settings/audit/{{.Deployment}}">Audit trail</a></nav>
<main class="wide"><h1>API keys of deployment {{.Deployment}}</h1>
<p class="muted">Keys for Acme's public API. Create, rotate and revoke them here.</p>
{{.Shell.Body}}</main></body></html>`))

var messageTmpl = template.Must(template.New("message").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{{.Title}} · Acme</title>` + pageStyle + `</head><body>
<header><strong>Acme</strong><a href="/">Deployments</a></header>
<main><div class="card"><h1>{{.Title}}</h1><p>{{.Message}}</p></div></main></body></html>`))
