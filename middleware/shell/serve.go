package shell

import (
	"cmp"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/httpenc"
)

// serveGoApp serves go-app's wasm_exec.js, app.css and manifest, which
// go-app's handler knows by their names at the root.
func (s *Shell) serveGoApp(c *gin.Context) {
	req := c.Request.Clone(c.Request.Context())
	req.URL.Path = "/" + strings.TrimPrefix(c.Request.URL.Path, s.prefix)
	s.served.Load().handler.ServeHTTP(c.Writer, req)
}

// serveAppJS serves go-app's app.js as rewriteAppJS left it.
func (s *Shell) serveAppJS(c *gin.Context) {
	sv := s.served.Load()
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", sv.appJSETag)
	if httpenc.MatchETag(c.GetHeader("If-None-Match"), sv.appJSETag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(200, "application/javascript", sv.appJS)
}

const immutable = "public, max-age=31536000, immutable"

// serveWeb serves the shell's files under the prefix's web/.
func (s *Shell) serveWeb(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("file"), "/")
	switch {
	case s.serveWasm(c, name):
	case name == "keyportal-eager."+s.eagerHash+".js":
		s.serveBytes(c, "text/javascript; charset=utf-8", immutable, s.eagerHash, s.eagerBody)
	case name == s.cssName:
		s.serveBytes(c, "text/css; charset=utf-8", immutable, strings.TrimSuffix(strings.TrimPrefix(name, "keyportal-shell."), ".css"), httpenc.Body{Identity: []byte(shellCSS)})
	case name == "keyportal-icon.svg":
		s.serveBytes(c, "image/svg+xml", "public, max-age=86400", shortHash([]byte(iconSVG)), httpenc.Body{Identity: []byte(iconSVG)})
	case name == "keyportal-icon.png":
		s.serveBytes(c, "image/png", "public, max-age=86400", shortHash(s.iconPNG), httpenc.Body{Identity: s.iconPNG})
	default:
		c.AbortWithStatus(http.StatusNotFound)
	}
}

// serveBytes serves a static body, compressed when it has compressed forms
// the client accepts.
func (s *Shell) serveBytes(c *gin.Context, contentType, cacheControl, etag string, forms httpenc.Body) {
	body, enc := forms.Pick(c.GetHeader("Accept-Encoding"))
	h := c.Writer.Header()
	h.Set("Cache-Control", cacheControl)
	if forms.Gzip != nil || forms.Brotli != nil {
		h.Set("Vary", "Accept-Encoding")
		etag += "-" + cmp.Or(enc, "identity")
	}
	h.Set("ETag", `"`+etag+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	if httpenc.MatchETag(c.GetHeader("If-None-Match"), `"`+etag+`"`) {
		c.Status(http.StatusNotModified)
		return
	}
	if enc != "" {
		h.Set("Content-Encoding", enc)
	}
	c.Data(200, contentType, body)
}
