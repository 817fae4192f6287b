// Package shell serves the keyportal WebAssembly shell (package wasmui) from
// a Gin engine: the page for each settings route and, under one prefix
// (Config.Prefix, default /_keyportal/), go-app's scripts, the wasm
// precompressed and content-hashed, the eager ticket script and local icons.
// It registers no service worker and serves none.
//
// When no prebuilt wasm is given it builds the wasm from source in the
// background and caches it: New returns at once, the pages work through the
// eager script meanwhile, and the wasm takes over when it arrives. Close
// stops what New leaves running (the build, brotli compression).
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
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/httpenc"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/wasmui"
	"github.com/rs/zerolog"
)

// Config configures a Shell. The zero value builds the shell from source on
// first start and serves it for the default ticket route.
type Config struct {
	// Title is the page title (default "API keys").
	Title string
	// Name is the app name in the web manifest (default Title).
	Name string
	// Description is the page's meta description.
	Description string
	// Lang is the page language (default "en").
	Lang string
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
	// FrameTitle is the iframe's accessible title (default "API key
	// manager").
	FrameTitle string
	// MinHeight is the iframe's minimum height in CSS pixels (default 480).
	MinHeight int
	// SignInURL is linked when the session has ended (default /login).
	SignInURL string
	// Theme is posted to the portal: "light", "dark" or "system". Empty
	// follows the page's prefers-color-scheme and its changes.
	Theme string

	// Pages are the settings pages' routes: Gin patterns, relative to the
	// router given to Mount, whose last parameter is the resource id
	// (default []string{DefaultRoute}).
	Pages []string
	// Prefix is the path, relative to the router given to Mount, under
	// which the shell serves everything but its Pages: scripts, styles, the
	// wasm, icons and the web manifest. It starts and ends with "/" and
	// holds letters, digits, '-', '_', '.' and '/' (default DefaultPrefix).
	Prefix string

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
	// context given to New and Close can stop it sooner.
	BuildTimeout time.Duration
	// Logger receives errors that do not stop the shell (a cache that cannot
	// be written). The zero Logger means JSON lines on os.Stderr.
	Logger zerolog.Logger
}

// Shell serves the shell page and its assets; create it with New, attach it
// with Mount and Close it when the server stops.
type Shell struct {
	cfg   Config
	log   zerolog.Logger
	shell *wasmui.Shell // the settings handed to the wasm

	wasm     atomic.Pointer[wasmFile] // nil until read or built
	ready    chan struct{}            // closed once wasm is set or the build failed
	buildErr error                    // why the build failed; read after ready
	br       atomic.Pointer[[]byte]   // nil until brotli is ready
	bg       context.Context          // ends at Close
	stop     context.CancelFunc       // ends bg
	running  sync.WaitGroup           // the build and the compression

	eagerHash string
	cssName   string // keyportal-shell.<hash>.css
	iconPNG   []byte

	mu      sync.Mutex
	mounted bool
	env     map[string]string      // the wasm's settings, set by Mount
	prefix  string                 // site path of the assets, set by Mount
	served  atomic.Pointer[served] // go-app's handler for the current wasm
}

// Errors New returns, wrapped with detail.
var (
	// ErrConfig means the Config is inconsistent.
	ErrConfig = errors.New("shell: invalid config")
	// ErrWasm means the wasm could not be read or built.
	ErrWasm = errors.New("shell: no wasm")
)

// New checks cfg, reads the wasm at WasmPath (or starts building it from
// source in the background) and prepares the page. It does not wait for a
// build: the build's progress goes to cfg.Progress, its failure to
// cfg.Logger and to Wait. Cancelling ctx, BuildTimeout or Close stops the
// build; Wait then returns an error wrapping ErrWasm and the reason.
func New(ctx context.Context, cfg Config) (*Shell, error) {
	if reflect.ValueOf(cfg.Logger).IsZero() {
		cfg.Logger = zerolog.New(os.Stderr).With().Timestamp().Str("component", "shell").Logger()
	}
	if cfg.Progress == nil {
		cfg.Progress = os.Stderr
	}
	if cfg.Title == "" {
		cfg.Title = "API keys"
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
	if cfg.MinHeight < 0 {
		return nil, fmt.Errorf("%w: MinHeight %d is negative", ErrConfig, cfg.MinHeight)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if err := checkPrefix(cfg.Prefix); err != nil {
		return nil, fmt.Errorf("%w: Prefix: %v", ErrConfig, err)
	}
	if len(cfg.Pages) == 0 {
		cfg.Pages = []string{DefaultRoute}
	}
	for _, p := range cfg.Pages {
		if err := checkPage(p); err != nil {
			return nil, fmt.Errorf("%w: Pages: %v", ErrConfig, err)
		}
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

	s := &Shell{cfg: cfg, log: cfg.Logger, ready: make(chan struct{}), iconPNG: iconPNG(), prefix: cfg.Prefix}
	s.bg, s.stop = context.WithCancel(context.Background())
	s.shell = &wasmui.Shell{
		TicketPath: cfg.TicketPath,
		Field:      cfg.Field,
		Title:      cfg.FrameTitle,
		MinHeight:  cfg.MinHeight,
		SignInURL:  cfg.SignInURL,
		Theme:      cfg.Theme,
	}
	s.eagerHash = shortHash(wasmui.EagerScript)
	s.cssName = "keyportal-shell." + shortHash([]byte(shellCSS)) + ".css"
	if cfg.WasmPath != "" {
		if err := s.useWasm(cfg.WasmPath); err != nil {
			s.stop()
			return nil, err
		}
		close(s.ready)
		return s, nil
	}
	s.running.Add(1)
	go s.buildInBackground(ctx)
	return s, nil
}

func shortHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// Close stops the build from source and the brotli compression New may
// have left running (the shell then keeps serving gzip) and waits for them
// to end, so that nothing the Shell started outlives it. It is safe to call
// more than once and always returns nil.
func (s *Shell) Close() error {
	s.stop()
	s.running.Wait()
	return nil
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
	handler := s.served.Load().handler
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", pageETag(handler.Version, mode))
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
	handler.ServeHTTP(rec, req)
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
	return `<script fetchpriority="high" src="` + s.eagerURL() + `"` +
		attr("ticket-path", cmp.Or(cfg.TicketPath, ticket.DefaultPath)) +
		attr("field", cmp.Or(cfg.Field, ticket.DefaultField)) +
		attr("resource", wasmui.ResourceFromPath(cfg.Routes, path)) +
		attr("title", cmp.Or(cfg.Title, wasmui.DefaultTitle)) +
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
