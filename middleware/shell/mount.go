package shell

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/ginroute"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/wasmui"
	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// DefaultRoute is the settings page route when Config.Pages is empty.
const DefaultRoute = "/settings/api-keys/:deploymentId"

// DefaultPrefix is where the shell serves its assets when Config.Prefix is
// empty.
const DefaultPrefix = "/_keyportal/"

// checkPrefix checks Config.Prefix: /…/, plain path characters, no empty,
// "." or ".." segment.
func checkPrefix(p string) error {
	if len(p) < 3 || p[0] != '/' || p[len(p)-1] != '/' {
		return fmt.Errorf("%q must start and end with \"/\" and name a directory, e.g. %q", p, DefaultPrefix)
	}
	for _, seg := range strings.Split(p[1:len(p)-1], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%q has an empty, \".\" or \"..\" segment", p)
		}
		for i := 0; i < len(seg); i++ {
			if c := seg[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return fmt.Errorf("%q holds %q: use letters, digits, '-', '_', '.' and '/'", p, c)
			}
		}
	}
	return nil
}

// checkPage checks one of Config.Pages: a Gin pattern starting with "/"
// whose last segment is a parameter, the resource id, and that the page
// can carry (safePagePath).
func checkPage(p string) error {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return fmt.Errorf("page %q must be a path: /… but not //…", p)
	}
	if !safePagePath(p) || strings.ContainsAny(p, " ?#") {
		return fmt.Errorf("page %q holds a character a page address may not (one of %q, a space, '?', '#' or a control character)", p, unsafeInPage)
	}
	hasParam := false
	for _, seg := range strings.Split(strings.Trim(p, "/"), "/") {
		hasParam = hasParam || strings.HasPrefix(seg, ":") || strings.HasPrefix(seg, "*")
	}
	if !hasParam {
		return fmt.Errorf("page %q has no parameter for the resource id, e.g. %q", p, DefaultRoute)
	}
	return nil
}

// routeMu guards routeOwners: go-app's router is global to the process, so
// each page pattern maps to the Shell mounted for it last.
var (
	routeMu     sync.Mutex
	routeOwners = map[string]*Shell{}
)

// Mount registers the shell on r: its Pages, and its assets under Prefix
// (r's own prefix, if r is a group, comes first; a group's middleware, e.g.
// one that requires sign-in, applies). A Shell mounts once. A route r
// already has, or any other route Gin refuses, comes back as an error
// wrapping ticket.ErrMount (the routes registered before it stay; do not
// serve r then). Mount before serving requests.
func (s *Shell) Mount(r gin.IRoutes) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mounted {
		return fmt.Errorf("%w shell: this Shell is already mounted (create one Shell per router)", ticket.ErrMount)
	}
	s.prefix = ginroute.Full(r, s.cfg.Prefix)
	if !strings.HasSuffix(s.prefix, "/") {
		s.prefix += "/"
	}
	pages := make([]string, len(s.cfg.Pages))
	for i, p := range s.cfg.Pages {
		pages[i] = ginroute.Full(r, p)
	}
	s.shell.Routes = pages
	s.env = s.shell.Env()
	sv, err := s.newServed(s.wasm.Load())
	if err != nil {
		return fmt.Errorf("%w shell: %w", ticket.ErrMount, err)
	}
	s.served.Store(sv)

	var routes []ginroute.Route
	for _, p := range s.cfg.Pages {
		routes = append(routes, ginroute.GetHead(p, s.servePage)...)
	}
	routes = append(routes, ginroute.GetHead(s.cfg.Prefix+"web/*file", s.serveWeb)...)
	routes = append(routes, ginroute.GetHead(s.cfg.Prefix+"app.js", s.serveAppJS)...)
	for _, name := range []string{"wasm_exec.js", "app.css", "manifest.webmanifest"} {
		routes = append(routes, ginroute.GetHead(s.cfg.Prefix+name, s.serveGoApp)...)
	}
	if err := ginroute.Register(r, "shell", routes...); err != nil {
		return err
	}
	s.mounted = true

	routeMu.Lock()
	defer routeMu.Unlock()
	for _, p := range pages {
		re := wasmui.RouteRegexp(p)
		if _, seen := routeOwners[re]; !seen {
			app.RouteWithRegexp(re, func() app.Composer {
				routeMu.Lock()
				owner := routeOwners[re]
				routeMu.Unlock()
				return owner.component()
			})
		}
		routeOwners[re] = s
	}
	return nil
}

// component returns a Shell configured exactly as the wasm will configure
// it (from the same Env), so the prerendered page matches.
func (s *Shell) component() app.Composer {
	s.mu.Lock()
	env := s.env
	s.mu.Unlock()
	return wasmui.FromEnv(func(k string) string { return env[k] })
}

// served is what the shell serves for one state of its wasm (still being
// built, or ready): go-app's handler, and its app.js as rewriteAppJS left
// it.
type served struct {
	handler   *app.Handler
	appJS     []byte
	appJSETag string
}

// refresh replaces what is served once the wasm is ready; before Mount,
// Mount does it.
func (s *Shell) refresh() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.served.Load() == nil {
		return
	}
	sv, err := s.newServed(s.wasm.Load())
	if err != nil { // Mount passed with the same go-app: not expected
		s.log.Error().Err(err).Msg("shell: cannot serve the built wasm")
		return
	}
	s.served.Store(sv)
}

// newServed makes go-app's handler for w (nil: still being built) and its
// app.js. s.mu is held.
func (s *Shell) newServed(w *wasmFile) (*served, error) {
	wasmURL := s.wasmURL(w)
	styles := append([]string{"/web/" + s.cssName}, s.cfg.Styles...)
	text := s.cfg.Messages.WithDefaults()
	version := sha256.New()
	// s.env holds the Messages.
	fmt.Fprintf(version, "%s|%s|%s|%q|%s|%s|%s|%v", wasmURL, s.eagerHash, s.prefix, styles, s.cfg.Title, s.cfg.Name, s.cfg.Description, s.env)
	size := ""
	if w != nil {
		size = strconv.Itoa(len(w.raw))
	}
	h := &app.Handler{
		Name:        s.cfg.Name,
		ShortName:   s.cfg.Name,
		Title:       s.cfg.Title,
		Description: s.cfg.Description,
		Lang:        text.Lang,
		Styles:      styles,
		ThemeColor:  s.cfg.ThemeColor,
		// Local icons: go-app's default icon is on raw.githubusercontent.com.
		Icon: app.Icon{
			Default:  "/web/keyportal-icon.png",
			Large:    "/web/keyportal-icon.png",
			Maskable: "/web/keyportal-icon.png",
			SVG:      "/web/keyportal-icon.svg",
		},
		LoadingLabel: text.Loading,
		// The page itself is rendered by Page, not by go-app.
		Resources:         resources{prefix: s.prefix, wasmURL: wasmURL},
		Version:           hex.EncodeToString(version.Sum(nil))[:20],
		WasmContentLength: size,
		Env:               maps.Clone(s.env), // go-app adds its own keys to it
	}
	rec := &pageRecorder{header: http.Header{}, status: 200}
	req, _ := http.NewRequest(http.MethodGet, "/app.js", nil)
	h.ServeHTTP(rec, req)
	js, err := rewriteAppJS(rec.body.String(), wasmURL)
	if err != nil {
		return nil, err
	}
	return &served{handler: h, appJS: []byte(js), appJSETag: `"` + shortHash([]byte(js)) + `"`}, nil
}

// resources is go-app's ResourceResolver (app.Handler.Resources) for the
// shell: it puts what go-app serves (/app.js, /wasm_exec.js, /app.css,
// /manifest.webmanifest, /web/…) under the shell's prefix, and the wasm at
// its content-hashed URL. go-app's PrefixedLocation would prefix every
// same-origin link of the page too (the sign-in link), so it is not used.
// It is not an http.Handler: the Shell serves the prefix itself.
type resources struct{ prefix, wasmURL string }

func (r resources) Resolve(location string) string {
	switch {
	case location == "/web/app.wasm":
		return r.wasmURL
	case location == "/web" || strings.HasPrefix(location, "/web/"):
		return r.prefix + strings.TrimPrefix(location, "/")
	case location == "/app.js", location == "/wasm_exec.js", location == "/app.css",
		location == "/manifest.webmanifest":
		return r.prefix + location[1:]
	}
	return location // "/" (go-app's root prefix), the host's own paths, remote URLs
}

// eagerURL is where the page loads the eager script from.
func (s *Shell) eagerURL() string {
	return s.prefix + "web/keyportal-eager." + s.eagerHash + ".js"
}

// cssURL is where the page loads the shell's stylesheet from.
func (s *Shell) cssURL() string { return s.prefix + "web/" + s.cssName }
