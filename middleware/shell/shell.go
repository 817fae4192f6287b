// Package shell serves the keyportal WebAssembly shell (package wasmui) from
// a Gin engine: the page for each settings route, go-app's scripts, the wasm
// precompressed and content-hashed, the eager ticket script and local icons.
// It builds the wasm from source on first start when no prebuilt one is
// given, and caches it. New's context bounds that build; Close stops what
// New leaves running (brotli compression of a new wasm).
//
// Production: build once with `go run github.com/keyportal/keyportal/cmd/shellbuild -o web`
// and set Config.WasmPath to web/app.wasm.
package shell

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/httpenc"
	"github.com/keyportal/keyportal/internal/logx"
	"github.com/keyportal/keyportal/internal/wasmbuild"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/wasmui"
	"github.com/maxence-charriere/go-app/v10/pkg/app"
	"github.com/rs/zerolog"
)

// Config configures a Shell. The zero value builds the shell from source on
// first start and serves it for the default ticket route.
type Config struct {
	// Title is the page title (default Messages.PageTitle).
	Title string
	// Name is the app name in the web manifest (default Title).
	Name string
	// Description is the page's meta description.
	Description string
	// Styles are extra stylesheets (same-origin paths) loaded after the
	// shell's own.
	Styles []string
	// ThemeColor is the browser UI colour (default "#ffffff").
	ThemeColor string

	// TicketPath is the ticket route the shell POSTs to, as
	// middleware.Config.Path: checked by ticket.CheckPath, empty means
	// ticket.DefaultPath.
	TicketPath string
	// Field is the JSON field carrying the resource id, as
	// middleware.Config.Field: checked by ticket.CheckField, empty means
	// ticket.DefaultField.
	Field string
	// Messages are the texts of the page and of the shell, and their
	// language, the page's lang attribute (wasmui.English where empty).
	// New refuses a table wasmui.Messages.Check refuses.
	Messages wasmui.Messages
	// MinHeight is the iframe's minimum height in CSS pixels (default 480).
	MinHeight int
	// SignInURL is linked when the session has ended (default /login).
	SignInURL string
	// Theme is posted to the portal: "light", "dark" or "system". Empty
	// follows the page's prefers-color-scheme and its changes.
	Theme string

	// WasmPath is a prebuilt shell wasm (from cmd/shellbuild). Its gzip
	// and brotli forms are read from beside it (app.<hash>.wasm.gz/.br) or
	// computed once and cached there, or in CacheDir if that directory is
	// read-only.
	WasmPath string
	// BuildFromSource is the package path of the wasm main, built with the
	// go command when WasmPath is empty (default
	// github.com/keyportal/keyportal/cmd/shellwasm).
	BuildFromSource string
	// ModuleDir is where the go command runs for BuildFromSource: a module
	// that requires github.com/keyportal/keyportal (default: the current
	// directory).
	ModuleDir string
	// CacheDir holds built wasm binaries keyed by a hash of the Go version
	// and sources, so that a second start is instant (default
	// <user cache dir>/keyportal/shell).
	CacheDir string
	// Progress receives build and compression progress lines (default
	// os.Stderr); use io.Discard to silence it.
	Progress io.Writer
	// BuildTimeout bounds the build from source (default 10 minutes); the
	// context given to New can stop it sooner.
	BuildTimeout time.Duration
	// Logger receives errors that do not stop the shell (a cache that cannot
	// be written). The zero Logger means JSON lines at info level on
	// os.Stderr; zerolog.Nop() silences it.
	Logger zerolog.Logger
}

// Shell serves the shell page and its assets; create it with New, attach it
// with Mount and Close it when the server stops.
type Shell struct {
	cfg     Config
	log     zerolog.Logger
	handler *app.Handler
	shell   *wasmui.Shell // the settings handed to the wasm
	env     map[string]string

	wasm      []byte
	wasmHash  string
	wasmURL   string
	gz        []byte
	br        atomic.Pointer[[]byte] // nil until brotli is ready
	brDone    chan struct{}          // closed when no compression runs
	stopBr    context.CancelFunc     // stops the compression (Close)
	eagerURL  string
	eagerHash string
	cssURL    string
	iconPNG   []byte

	appJSOnce sync.Once
	appJS     []byte
	appJSETag string

	mu      sync.Mutex
	routes  []string
	mounted bool
}

// Errors New returns, wrapped with detail.
var (
	// ErrConfig means the Config is inconsistent.
	ErrConfig = errors.New("shell: invalid config")
	// ErrWasm means the wasm could not be read or built.
	ErrWasm = errors.New("shell: no wasm")
)

// New reads (or builds) the wasm, precompresses it and prepares the page.
// Without WasmPath the first call builds the wasm, which may take a minute
// (progress goes to cfg.Progress); cancelling ctx stops the build and New
// returns an error wrapping ErrWasm and ctx's error. ctx is not kept: once
// New has returned, only Close stops what it started.
func New(ctx context.Context, cfg Config) (*Shell, error) {
	cfg.Logger = logx.Or(cfg.Logger, "shell")
	if cfg.Progress == nil {
		cfg.Progress = os.Stderr
	}
	if cfg.Title == "" {
		cfg.Title = cfg.Messages.WithDefaults().PageTitle
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Title
	}
	if cfg.ThemeColor == "" {
		cfg.ThemeColor = "#ffffff"
	}
	if cfg.BuildTimeout <= 0 {
		cfg.BuildTimeout = 10 * time.Minute
	}
	if cfg.TicketPath != "" {
		if err := ticket.CheckPath(cfg.TicketPath); err != nil {
			return nil, fmt.Errorf("%w: TicketPath: %v", ErrConfig, err)
		}
	}
	if cfg.Field != "" {
		if err := ticket.CheckField(cfg.Field); err != nil {
			return nil, fmt.Errorf("%w: Field: %v", ErrConfig, err)
		}
	}
	switch cfg.Theme {
	case "", ticket.ThemeLight, ticket.ThemeDark, ticket.ThemeSystem:
	default:
		return nil, fmt.Errorf("%w: Theme %q must be light, dark, system or empty (follow the page)", ErrConfig, cfg.Theme)
	}
	if err := cfg.Messages.Check(); err != nil {
		return nil, fmt.Errorf("%w: Messages: %w", ErrConfig, err)
	}
	if cfg.MinHeight < 0 {
		return nil, fmt.Errorf("%w: MinHeight %d is negative", ErrConfig, cfg.MinHeight)
	}
	if cfg.WasmPath != "" && cfg.BuildFromSource != "" {
		return nil, fmt.Errorf("%w: set WasmPath or BuildFromSource, not both", ErrConfig)
	}
	for _, st := range cfg.Styles {
		if !strings.HasPrefix(st, "/") || strings.HasPrefix(st, "//") {
			return nil, fmt.Errorf("%w: style %q must be a same-origin path (the shell loads nothing from other hosts)", ErrConfig, st)
		}
	}
	if cfg.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		cfg.CacheDir = filepath.Join(dir, "keyportal", "shell")
	}

	s := &Shell{cfg: cfg, log: cfg.Logger, brDone: make(chan struct{}), stopBr: func() {}, iconPNG: iconPNG()}
	s.shell = &wasmui.Shell{
		TicketPath: cfg.TicketPath,
		Field:      cfg.Field,
		Messages:   cfg.Messages,
		MinHeight:  cfg.MinHeight,
		SignInURL:  cfg.SignInURL,
		Theme:      cfg.Theme,
	}
	if err := s.loadWasm(ctx); err != nil {
		return nil, err
	}
	s.eagerHash = shortHash(wasmui.EagerScript)
	s.eagerURL = "/web/keyportal-eager." + s.eagerHash + ".js"
	s.cssURL = "/web/keyportal-shell." + shortHash([]byte(shellCSS)) + ".css"
	return s, nil
}

func shortHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// Close stops the brotli compression New may have left running (the
// shell then keeps serving gzip) and waits for it to end, so that nothing
// the Shell started outlives it. It is safe to call more than once and
// always returns nil.
func (s *Shell) Close() error {
	s.stopBr()
	<-s.brDone
	return nil
}

// loadWasm reads or builds the wasm and its compressed forms.
func (s *Shell) loadWasm(ctx context.Context) error {
	path := s.cfg.WasmPath
	if path == "" {
		built, err := s.build(ctx)
		if err != nil {
			return err
		}
		path = built
	}
	wasm, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWasm, err)
	}
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return fmt.Errorf("%w: %s is not a WebAssembly binary", ErrWasm, path)
	}
	s.wasm = wasm
	s.wasmHash = wasmbuild.Hash(wasm)
	s.wasmURL = "/web/app." + s.wasmHash + ".wasm"

	gzPath, brPath := wasmbuild.CompressedPaths(path, s.wasmHash)
	s.gz = s.readOrMake(gzPath, func() ([]byte, error) { return wasmbuild.Gzip(wasm), nil })
	if br, err := os.ReadFile(brPath); err == nil && len(br) > 0 {
		s.br.Store(&br)
		close(s.brDone)
		return nil
	}
	// Brotli at quality 11 takes minutes in pure Go; serve gzip meanwhile.
	fmt.Fprintf(s.cfg.Progress, "keyportal: compressing the shell with brotli in the background (first start only); serving gzip meanwhile\n")
	bg, stop := context.WithCancel(context.Background())
	s.stopBr = stop
	go func() {
		defer close(s.brDone)
		defer stop()
		br := s.readOrMake(brPath, func() ([]byte, error) { return wasmbuild.Brotli(bg, wasm) })
		if br != nil {
			s.br.Store(&br)
			fmt.Fprintf(s.cfg.Progress, "keyportal: shell wasm %d bytes, gzip %d, brotli %d\n", len(wasm), len(s.gz), len(br))
		}
	}()
	return nil
}

// build builds the wasm from source under ctx and BuildTimeout, or finds it
// in the cache, and returns its path.
func (s *Shell) build(ctx context.Context) (string, error) {
	bctx, cancel := context.WithTimeout(ctx, s.cfg.BuildTimeout)
	defer cancel()
	built, err := wasmbuild.Cached(bctx, wasmbuild.Options{
		Package:  s.cfg.BuildFromSource,
		Dir:      s.cfg.ModuleDir,
		Progress: s.cfg.Progress,
	}, s.cfg.CacheDir)
	switch {
	case err == nil:
		return built, nil
	case ctx.Err() != nil:
		return "", fmt.Errorf("%w: building the shell from source was stopped: %w", ErrWasm, err)
	case bctx.Err() != nil:
		err = fmt.Errorf("building the shell from source took longer than BuildTimeout (%s): %w", s.cfg.BuildTimeout, err)
	}
	return "", fmt.Errorf("%w: %w (or build it once with `go run github.com/keyportal/keyportal/cmd/shellbuild -o web` and set WasmPath)", ErrWasm, err)
}

// readOrMake returns the file at path, or makes it and caches it there (or,
// if that directory is read-only, in CacheDir).
func (s *Shell) readOrMake(path string, compute func() ([]byte, error)) []byte {
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return b
	}
	b, err := compute()
	if errors.Is(err, context.Canceled) {
		return nil // Close stopped it
	}
	if err != nil {
		s.log.Error().Err(err).Str("path", path).Msg("shell: compressing the wasm failed; serving it uncompressed")
		return nil
	}
	if err := wasmbuild.WriteFile(path, b); err != nil {
		alt := filepath.Join(s.cfg.CacheDir, filepath.Base(path))
		if cached, err := os.ReadFile(alt); err == nil && len(cached) > 0 {
			return cached
		}
		if err2 := os.MkdirAll(s.cfg.CacheDir, 0o755); err2 != nil || wasmbuild.WriteFile(alt, b) != nil {
			s.log.Warn().Err(err).Str("path", path).Msg("shell: cannot cache the compressed wasm; it will be recomputed at next start")
		}
	}
	return b
}

// DefaultRoute is the settings page route Mount uses when given none.
const DefaultRoute = "/settings/api-keys/:deploymentId"

// routeMu guards routeOwners: go-app's router is global to the process, so
// each page pattern maps to the Shell mounted for it last.
var (
	routeMu     sync.Mutex
	routeOwners = map[string]*Shell{}
)

// Mount registers the shell's page routes (Gin patterns whose last
// parameter is the resource id; DefaultRoute if none) and its assets on r:
// /web/*, /app.js, /wasm_exec.js, /app.css, /manifest.webmanifest and
// /app-worker.js. r must serve the site root (a group without a prefix is
// fine, e.g. one that requires sign-in). Mount before serving requests.
func (s *Shell) Mount(r gin.IRouter, routes ...string) {
	if g, ok := r.(interface{ BasePath() string }); ok && g.BasePath() != "/" && g.BasePath() != "" {
		panic(fmt.Sprintf("shell: Mount needs a router at the site root, got a group at %q (go-app serves /app.js and /web/ at the root)", g.BasePath()))
	}
	if len(routes) == 0 {
		routes = []string{DefaultRoute}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes = append(s.routes, routes...)
	s.shell.Routes = append([]string(nil), s.routes...)
	s.env = s.shell.Env()
	if s.handler == nil {
		s.handler = s.newHandler()
	}
	s.handler.Env = s.env

	routeMu.Lock()
	for _, rt := range routes {
		re := wasmui.RouteRegexp(rt)
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
	routeMu.Unlock()

	for _, rt := range routes {
		r.GET(rt, s.servePage)
		r.HEAD(rt, s.servePage)
	}
	if !s.mounted {
		s.mounted = true
		r.GET("/web/*file", s.serveWeb)
		r.HEAD("/web/*file", s.serveWeb)
		r.GET("/app.js", s.serveAppJS)
		r.HEAD("/app.js", s.serveAppJS)
		for _, p := range []string{"/wasm_exec.js", "/app.css", "/manifest.webmanifest", "/app-worker.js"} {
			r.GET(p, s.serveGoApp)
			r.HEAD(p, s.serveGoApp)
		}
	}
}

// component returns a Shell configured exactly as the wasm will configure
// it (from the same Env), so the prerendered page matches.
func (s *Shell) component() app.Composer {
	s.mu.Lock()
	env := s.env
	s.mu.Unlock()
	return wasmui.FromEnv(func(k string) string { return env[k] })
}

func (s *Shell) newHandler() *app.Handler {
	styles := append([]string{s.cssURL}, s.cfg.Styles...)
	text := s.cfg.Messages.WithDefaults()
	version := sha256.New()
	// s.env holds the Messages.
	fmt.Fprintf(version, "%s|%s|%s|%q|%s|%s|%s|%v", s.wasmHash, s.eagerHash, s.cssURL, styles, s.cfg.Title, s.cfg.Name, s.cfg.Description, s.env)
	return &app.Handler{
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
		// The eager script and the wasm preload are written at the top of
		// the head by servePage (see headStart).
		Resources:             resources{wasmURL: s.wasmURL},
		Version:               hex.EncodeToString(version.Sum(nil))[:20],
		WasmContentLength:     strconv.Itoa(len(s.wasm)),
		ServiceWorkerTemplate: workerJS,
	}
}

// resources resolves /web/ paths like go-app's LocalDir but points the wasm
// at its content-hashed URL. It is not an http.Handler: the Shell serves
// /web/ itself.
type resources struct{ wasmURL string }

func (r resources) Resolve(location string) string {
	if location == "/web/app.wasm" {
		return r.wasmURL
	}
	return app.LocalDir("").Resolve(location)
}

// servePage serves the shell page. Gin matched the route, so the status is
// 200 unless go-app says otherwise. The page depends on the request's
// Sec-Fetch-Site (startMode), so it varies on it and answers conditional
// requests itself, with an ETag per start mode.
func (s *Shell) servePage(c *gin.Context) {
	if !safePagePath(c.Request.URL.Path) {
		c.Data(http.StatusNotFound, "text/plain; charset=utf-8", []byte("404 no settings page here: the address holds a character that no resource id has\n"))
		return
	}
	mode := startMode(c.Request)
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", pageETag(s.handler.Version, mode))
	h.Add("Vary", "Sec-Fetch-Site")
	if httpenc.MatchETag(c.GetHeader("If-None-Match"), h.Get("ETag")) {
		c.Status(http.StatusNotModified)
		return
	}
	req := c.Request
	if req.Header.Get("If-None-Match") != "" {
		// go-app would answer 304 to its own, mode-blind tag.
		req = req.Clone(req.Context())
		req.Header.Del("If-None-Match")
	}
	rec := &pageRecorder{header: http.Header{}, status: 200}
	s.handler.ServeHTTP(rec, req)
	body := fixPage(rec.body.Bytes())
	if rec.status == 200 {
		body = insertHead(body, s.headStart(c.Request.URL.Path, mode))
	}
	for k, v := range rec.header {
		if k != "Etag" && k != "Cache-Control" {
			h[k] = v
		}
	}
	if rec.status == 200 {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	c.Status(rec.status)
	c.Writer.WriteHeaderNow()
	if c.Request.Method != http.MethodHead {
		c.Writer.Write(body)
	}
}

// pageRecorder holds go-app's page response so fixPage can amend it.
type pageRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *pageRecorder) Header() http.Header         { return r.header }
func (r *pageRecorder) WriteHeader(status int)      { r.status = status }
func (r *pageRecorder) Write(b []byte) (int, error) { return r.body.Write(b) }

var (
	// go-app's server encoder writes an attribute whose value is "true" as
	// a bare name, which for aria-busy means "" (not busy).
	bareAriaBusy = regexp.MustCompile(` aria-busy([ >])`)
	// go-app writes og:url and og:image as "https://" + Domain + path even
	// without a Domain; those host-less URLs are dropped.
	hostlessMeta = regexp.MustCompile(`<meta [^>]*content="https://(/[^"]*)?"[^>]*>\s*`)
	// go-app's loader icon is hidden unless loading fails; lazy, it takes
	// no connection from the page's first requests.
	loaderIcon = regexp.MustCompile(`<img ([^>]*id="app-wasm-loader-icon")`)
)

// headStart is written first in the page's head: the eager script, with
// the shell's settings for this page, asks for the ticket and shows the
// portal before the wasm is up. Its data-keyportal-start is the page's
// start mode (startMode), read by the eager script and by the wasm. It is classic, neither async nor defer: it
// is tiny and arrives with the render-blocking stylesheets, Chromium runs
// async scripts late (after the deferred ones), and it must run before
// app.js, which waits for it before fetching the wasm.
//
// The wasm is deliberately not preloaded: receiving 7 MB and compiling it
// keeps the page's main thread busy, which delayed the ticket's response
// and the portal by 100–500 ms on a loaded 2-core machine. The portal comes
// first; the wasm, which only renews tickets and shows error states, loads
// right after.
func (s *Shell) headStart(path, mode string) string {
	s.mu.Lock()
	cfg := *s.shell
	s.mu.Unlock()
	attr := func(name, value string) string {
		return ` data-keyportal-` + name + `="` + html.EscapeString(value) + `"`
	}
	min := cfg.MinHeight
	if min <= 0 {
		min = wasmui.DefaultMinHeight
	}
	return `<script fetchpriority="high" src="` + s.eagerURL + `"` +
		attr("ticket-path", cmp.Or(cfg.TicketPath, ticket.DefaultPath)) +
		attr("field", cmp.Or(cfg.Field, ticket.DefaultField)) +
		attr("resource", wasmui.ResourceFromPath(cfg.Routes, path)) +
		attr("title", cfg.Messages.WithDefaults().FrameTitle) +
		attr("min-height", strconv.Itoa(min)) +
		attr("start", mode) +
		`></script>`
}

// insertHead puts tags right after the page's charset declaration (which
// must stay within the first bytes), or after <head>.
func insertHead(page []byte, tags string) []byte {
	at := -1
	for _, mark := range []string{`<meta charset="UTF-8">`, `<head>`} {
		if i := bytes.Index(page, []byte(mark)); i >= 0 {
			at = i + len(mark)
			break
		}
	}
	if at < 0 {
		return page
	}
	out := make([]byte, 0, len(page)+len(tags))
	out = append(out, page[:at]...)
	out = append(out, tags...)
	return append(out, page[at:]...)
}

func fixPage(b []byte) []byte {
	b = bareAriaBusy.ReplaceAll(b, []byte(` aria-busy="true"$1`))
	b = loaderIcon.ReplaceAll(b, []byte(`<img loading="lazy" $1`))
	return hostlessMeta.ReplaceAll(b, nil)
}

func (s *Shell) serveGoApp(c *gin.Context) {
	s.handler.ServeHTTP(c.Writer, c.Request)
}

// serveAppJS serves go-app's app.js with three changes: the wasm is
// instantiated straight from fetch() rather than through go-app's progress
// wrapper, which re-streams the body through JavaScript and delays the
// browser's streaming compile (the shell shows its own loading state, so
// the percentage is not missed); the wasm is fetched once the eager script
// is done with the first ticket; and no service worker is registered.
func (s *Shell) serveAppJS(c *gin.Context) {
	s.appJSOnce.Do(func() {
		rec := &pageRecorder{header: http.Header{}, status: 200}
		req, _ := http.NewRequest(http.MethodGet, "/app.js", nil)
		s.handler.ServeHTTP(rec, req)
		js := rec.body.String()
		from := `fetchWithProgress("` + s.wasmURL + `", showProgress)`
		if strings.Contains(js, from) {
			js = strings.Replace(js, from, `fetch("`+s.wasmURL+`")`, 1)
		} else {
			s.log.Warn().Msg("shell: go-app's app.js changed; the wasm loads through its progress wrapper")
		}
		// Loading, compiling and starting the wasm hold the main thread: let
		// the eager script show the portal first (see headStart). The shell
		// would only wait for the same ticket meanwhile, showing the same
		// loading state.
		start := "const wasm = await instantiateStreaming("
		if strings.Contains(js, start) {
			js = strings.Replace(js, start, "const eager = window."+wasmui.EagerGlobal+";\n    if (eager && eager.settled) await eager.settled;\n    "+start, 1)
		} else {
			s.log.Warn().Msg("shell: go-app's app.js changed; the wasm may start before the eager script showed the portal")
		}
		// No service worker: the shell needs none, and one would be
		// installed for the whole host app's origin (and start a worker
		// while the wasm compiles).
		js = strings.Replace(js, "\ngoappInitServiceWorker();\n", "\n", 1)
		s.appJS = []byte(js)
		s.appJSETag = `"` + shortHash(s.appJS) + `"`
	})
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", s.appJSETag)
	if httpenc.MatchETag(c.GetHeader("If-None-Match"), s.appJSETag) {
		c.Status(304)
		return
	}
	c.Data(200, "application/javascript", s.appJS)
}

const immutable = "public, max-age=31536000, immutable"

// serveWeb serves the shell's files under /web/.
func (s *Shell) serveWeb(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("file"), "/")
	switch {
	case "/web/"+name == s.wasmURL:
		s.serveWasm(c)
	case "/web/"+name == s.eagerURL:
		s.serveBytes(c, "text/javascript; charset=utf-8", immutable, s.eagerHash, wasmui.EagerScript)
	case "/web/"+name == s.cssURL:
		s.serveBytes(c, "text/css; charset=utf-8", immutable, strings.TrimSuffix(strings.TrimPrefix(name, "keyportal-shell."), ".css"), []byte(shellCSS))
	case name == "keyportal-icon.svg":
		s.serveBytes(c, "image/svg+xml", "public, max-age=86400", shortHash([]byte(iconSVG)), []byte(iconSVG))
	case name == "keyportal-icon.png":
		s.serveBytes(c, "image/png", "public, max-age=86400", shortHash(s.iconPNG), s.iconPNG)
	default:
		c.AbortWithStatus(404)
	}
}

func (s *Shell) serveBytes(c *gin.Context, contentType, cacheControl, etag string, body []byte) {
	h := c.Writer.Header()
	h.Set("Cache-Control", cacheControl)
	h.Set("ETag", `"`+etag+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	if httpenc.MatchETag(c.GetHeader("If-None-Match"), `"`+etag+`"`) {
		c.Status(304)
		return
	}
	c.Data(200, contentType, body)
}

// serveWasm serves the wasm as brotli, gzip or identity by Accept-Encoding.
func (s *Shell) serveWasm(c *gin.Context) {
	forms := httpenc.Body{Identity: s.wasm, Gzip: s.gz}
	if br := s.br.Load(); br != nil {
		forms.Brotli = *br
	}
	body, enc := forms.Pick(c.GetHeader("Accept-Encoding"))
	h := c.Writer.Header()
	h.Set("Vary", "Accept-Encoding")
	h.Set("Cache-Control", immutable)
	h.Set("X-Content-Type-Options", "nosniff")
	etag := `"` + s.wasmHash + "-" + cmp.Or(enc, "identity") + `"`
	h.Set("ETag", etag)
	if httpenc.MatchETag(c.GetHeader("If-None-Match"), etag) {
		c.Status(304)
		return
	}
	if enc != "" {
		h.Set("Content-Encoding", enc)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.Data(200, "application/wasm", body)
}

// WasmURL returns the content-hashed URL the page loads the wasm from.
func (s *Shell) WasmURL() string { return s.wasmURL }

// WasmSizes returns the raw, gzip and brotli sizes of the served wasm
// (brotli 0 while it is still being computed).
func (s *Shell) WasmSizes() (raw, gzip, brotli int) {
	if br := s.br.Load(); br != nil {
		brotli = len(*br)
	}
	return len(s.wasm), len(s.gz), brotli
}
