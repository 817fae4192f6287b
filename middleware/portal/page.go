package portal

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/internal/httpenc"
	"github.com/keyportal/keyportal/middleware/keystore"
)

var (
	//go:embed assets/page.html
	pageHTML string
	//go:embed assets/portal.js
	portalJS []byte
	//go:embed assets/portal.css
	portalCSS []byte

	pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
		"fill":   fill,
		"before": func(text, name string) string { b, _, _ := strings.Cut(text, "{"+name+"}"); return b },
		"after":  func(text, name string) string { _, a, _ := strings.Cut(text, "{"+name+"}"); return a },
		"named":  func(t Messages, name string) namedPart { return namedPart{T: t, Name: name} },
	}).Parse(pageHTML))

	jsAsset  = newAsset(portalJS, "text/javascript; charset=utf-8")
	cssAsset = newAsset(portalCSS, "text/css; charset=utf-8")
)

// asset is a static file of the page, addressed with ?v=<hash> so that it
// can be cached for long, and sent brotli- or gzip-compressed to clients
// that take it (the forms are made on first use, once).
type asset struct {
	contentType string
	version     string
	encoded     func() httpenc.Body
}

func newAsset(body []byte, contentType string) asset {
	sum := sha256.Sum256(body)
	return asset{
		contentType: contentType,
		version:     hex.EncodeToString(sum[:6]),
		encoded:     sync.OnceValue(func() httpenc.Body { return httpenc.Compress(body) }),
	}
}

func serveAsset(a asset) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, enc := a.encoded().Pick(c.GetHeader("Accept-Encoding"))
		// Each encoding is its own representation, with its own ETag.
		etag := `"` + a.version + "-" + cmp.Or(enc, "identity") + `"`
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Vary", "Accept-Encoding")
		h.Set("ETag", etag)
		if c.Query("v") == a.version {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		if httpenc.MatchETag(c.GetHeader("If-None-Match"), etag) {
			c.Status(http.StatusNotModified)
			return
		}
		if enc != "" {
			h.Set("Content-Encoding", enc)
		}
		c.Data(http.StatusOK, a.contentType, body)
	}
}

// pageData is what the page template renders. It never holds the ticket: the
// script reads that from the address bar and removes it at once.
type pageData struct {
	// Base is the page's own path (the mount point + PagePath), the root of
	// its script, stylesheet, exchange and API.
	Base       string
	JSVersion  string
	CSSVersion string
	// Origin is the embedder origin sealed in the ticket: the page's only
	// postMessage peer, known before the exchange so failures can be posted.
	Origin  string
	AppSlug string
	AppName string
	// Error, when set, is shown instead of the portal.
	Error string
	// T are the page's texts: the app's, else the portal's (Config.Messages
	// filled with English).
	T Messages
	// Messages is T as JSON, for the script.
	Messages string
	// MaxRangeDays is the most days a usage tab shows (maxRangeDays), so
	// the script words a longer range itself.
	MaxRangeDays int
}

// namedPart is what a sub-template of the page drawn more than once is
// given: the page's texts and the name that tells its copies apart.
type namedPart struct {
	T    Messages
	Name string
}

// fill puts value in place of {name} in a text of a Messages.
func fill(text, name, value string) string {
	return strings.ReplaceAll(text, "{"+name+"}", value)
}

// contentSecurityPolicy returns the page's CSP: nothing but its own script,
// stylesheet and API, framed only by ancestors.
func contentSecurityPolicy(ancestors []string) string {
	fa := "'none'"
	if len(ancestors) > 0 {
		fa = strings.Join(ancestors, " ")
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors " + fa
}

// servePage serves GET /vanity/api-auth?ticket=…. It opens the ticket's
// sealed claims without consuming it, to learn the app (whose allowed origins
// become frame-ancestors) and the embedder origin.
func (p *Portal) servePage(c *gin.Context) {
	t := p.messages
	data := pageData{Base: c.FullPath(), JSVersion: jsAsset.version, CSSVersion: cssAsset.version, MaxRangeDays: maxRangeDays}
	status := http.StatusOK
	var ancestors []string

	tk := c.Query("ticket")
	switch cl, err := p.tickets.open(c.Request.Context(), tk); {
	case tk == "":
		status, data.Error = http.StatusBadRequest, t.ErrorNoTicket
	case errors.Is(err, errUnopenable):
		status, data.Error = http.StatusBadRequest, t.ErrorBadLink
	case err != nil:
		status, data.Error = http.StatusServiceUnavailable, t.ErrorUnavailable
	default:
		app, err := p.apps.get(c.Request.Context(), cl.App)
		switch {
		case errors.Is(err, keystore.ErrNotFound):
			status, data.Error = http.StatusNotFound, t.ErrorAppGone
		case err != nil:
			status, data.Error = http.StatusServiceUnavailable, t.ErrorUnavailable
		default:
			t = appMessages(app.Messages, t)
			ancestors = allowedOrigins(app)
			data.Origin, data.AppSlug, data.AppName = cl.Origin, app.Slug, app.Name
		}
	}

	data.T, data.Messages = t, t.scriptJSON()
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		p.log.Error().Err(err).Msg("portal page template")
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString("<!doctype html><title>Error</title><p>The key portal failed to render this page.")
	}
	h := c.Writer.Header()
	noStore(c)
	h.Set("Content-Security-Policy", contentSecurityPolicy(ancestors))
	if len(ancestors) == 0 {
		h.Set("X-Frame-Options", "DENY")
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}
