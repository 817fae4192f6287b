// Package shell serves the keyportal WebAssembly shell (package wasmui) from
// a Gin engine: the page for each settings route and, under one prefix
// (Config.Prefix, default /_keyportal/), go-app's scripts, the wasm
// precompressed and content-hashed, the eager ticket script and local icons.
// The page is the shell's Page placed in the host's own template
// (Config.Layout), and with Config.Tickets it carries its first ticket's
// portal iframe, or the ticket route's refusal, in its first HTML.
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
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/httpenc"
	"github.com/keyportal/keyportal/internal/logx"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/wasmui"
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
	// be written). The zero Logger means JSON lines at info level on
	// os.Stderr; zerolog.Nop() silences it.
	Logger zerolog.Logger

	// Layout, when set, writes each settings page with the host's own
	// template, so that the page has the host's header, navigation and
	// footer around the portal: it executes that template into w with its
	// own data and p, placing p.Head in the <head> and p.Body where the
	// portal goes (see Page). The shell sends what it wrote, compressed and
	// never cached; an error is logged and answered 500. nil: a page of the
	// shell's own, with the shell alone.
	Layout func(c *gin.Context, w io.Writer, p Page) error
	// Tickets, when set, issues the first ticket while the page renders, so
	// that the portal's iframe (or the ticket route's refusal: signed out,
	// forbidden, rate limited, failed) is in the page's first HTML, with no
	// request of its own: pass the *middleware.TicketRoute that serves
	// TicketPath. It runs only for a navigation that would ask at once
	// (same-origin, typed or bookmarked: see startMode), through every check,
	// limit and audit record of the route. nil: the page asks the route once
	// it has loaded.
	Tickets PageTickets
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
	eagerBody httpenc.Body // the eager script and its compressed forms
	cssName   string       // keyportal-shell.<hash>.css
	iconPNG   []byte
	// portalOrigin is the portal's origin from the last ticket a page
	// carried, for the preconnect of pages that carry none.
	portalOrigin atomic.Pointer[string]

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
		Messages:   cfg.Messages,
		MinHeight:  cfg.MinHeight,
		SignInURL:  cfg.SignInURL,
		Theme:      cfg.Theme,
	}
	s.eagerHash = shortHash(wasmui.EagerScript)
	s.eagerBody = httpenc.Compress(wasmui.EagerScript)
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

// pageRecorder holds go-app's app.js response so newServed can amend it.
type pageRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *pageRecorder) Header() http.Header         { return r.header }
func (r *pageRecorder) WriteHeader(status int)      { r.status = status }
func (r *pageRecorder) Write(b []byte) (int, error) { return r.body.Write(b) }
