package shell

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/wasmbuild"
	"github.com/keyportal/keyportal/wasmui"
	"github.com/rs/zerolog"
)

func init() { gin.SetMode(gin.TestMode) }

// fakeWasm is a small WebAssembly-looking file: New checks the magic only.
func fakeWasm(t *testing.T) (path string, body []byte) {
	t.Helper()
	body = append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte("keyportal shell "), 4096)...)
	path = filepath.Join(t.TempDir(), "app.wasm")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, body
}

func newTestShell(t *testing.T, cfg Config) *Shell {
	t.Helper()
	if cfg.WasmPath == "" {
		cfg.WasmPath, _ = fakeWasm(t)
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = t.TempDir()
	}
	cfg.Progress = io.Discard
	cfg.Logger = zerolog.Nop()
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.running.Wait()
	return s
}

// mount mounts s on r, failing the test on an error.
func mount(t *testing.T, s *Shell, r gin.IRoutes) {
	t.Helper()
	if err := s.Mount(r); err != nil {
		t.Fatal(err)
	}
}

// at is the path of name under the default prefix.
func at(name string) string { return DefaultPrefix + name }

func serve(t *testing.T, r http.Handler, method, path string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "http://app.test"+path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func TestPageAnswers200WithShellMarkup(t *testing.T) {
	s := newTestShell(t, Config{Title: "Acme — API keys"})
	r := gin.New()
	mount(t, s, r)
	w := serve(t, r, "GET", "/settings/api-keys/42", nil)
	if w.Code != 200 {
		t.Fatalf("status %d, want 200\n%s", w.Code, w.Body)
	}
	page := w.Body.String()
	for _, want := range []string{
		`<title>Acme — API keys</title>`,
		`class="keyportal-shell"`,
		`data-keyportal-resource="42"`,
		`data-keyportal-ticket-path="/api/settings/api-keys/embed-ticket"`,
		`data-keyportal-field="deploymentId"`,
		`aria-busy="true"`,
		wasmui.TextLoading,
		`src="` + s.eagerURL() + `"`,
		`src="/_keyportal/app.js"`,
		`href="` + s.cssURL() + `"`,
		`href="/_keyportal/web/keyportal-icon.svg"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}

	// Another deployment gets its own id; an unrouted path is not the shell.
	if w := serve(t, r, "GET", "/settings/api-keys/77", nil); !strings.Contains(w.Body.String(), `data-keyportal-resource="77"`) {
		t.Error("page for 77 does not carry its id")
	}
	if w := serve(t, r, "GET", "/settings/other", nil); w.Code != 404 {
		t.Errorf("unrouted path answered %d", w.Code)
	}
}

func TestPageCustomRoutesAndSettings(t *testing.T) {
	s := newTestShell(t, Config{TicketPath: "/api/keys/ticket", Field: "appId", Messages: wasmui.Messages{FrameTitle: "Keys"}, MinHeight: 600, Theme: "dark", Pages: []string{"/apps/:appId/keys"}})
	r := gin.New()
	mount(t, s, r)
	w := serve(t, r, "GET", "/apps/a-7/keys", nil)
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	for _, want := range []string{`data-keyportal-resource="a-7"`, `data-keyportal-ticket-path="/api/keys/ticket"`, `data-keyportal-field="appId"`} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("page lacks %s", want)
		}
	}
	js := serve(t, r, "GET", at("app.js"), nil).Body.String()
	for _, want := range []string{`"KEYPORTAL_THEME":"dark"`, `"KEYPORTAL_TICKET_PATH":"/api/keys/ticket"`, `"KEYPORTAL_FIELD":"appId"`, `"KEYPORTAL_ROUTES":"/apps/:appId/keys"`, `"KEYPORTAL_MIN_HEIGHT":"600"`, `"KEYPORTAL_MESSAGES":"{\"frame_title\":\"Keys\"}"`} {
		if !strings.Contains(js, want) {
			t.Errorf("app.js env lacks %s", want)
		}
	}
}

// remoteRef finds URLs with a host in attributes and scripts.
var remoteRef = regexp.MustCompile(`(?i)(?:https?:)?//([a-z0-9.\-]+(?::\d+)?)`)

func TestNothingLoadsFromAnotherHost(t *testing.T) {
	s := newTestShell(t, Config{})
	r := gin.New()
	mount(t, s, r)
	for _, path := range []string{"/settings/api-keys/42", at("app.js"), at("manifest.webmanifest"), at("app.css"), s.eagerURL()} {
		w := serve(t, r, "GET", path, nil)
		if w.Code != 200 {
			t.Fatalf("%s: status %d", path, w.Code)
		}
		for _, m := range remoteRef.FindAllStringSubmatch(w.Body.String(), -1) {
			host := m[1]
			if host == "app.test" || host == "www.w3.org" /* SVG namespace, not a request */ {
				continue
			}
			t.Errorf("%s references another host: %s", path, m[0])
		}
	}
	page := serve(t, r, "GET", "/settings/api-keys/42", nil).Body.String()
	if strings.Contains(page, "githubusercontent") || strings.Contains(page, "<script>") {
		t.Error("page has a remote icon or an inline script")
	}
}

func TestAppJSLoadsHashedWasm(t *testing.T) {
	s := newTestShell(t, Config{})
	r := gin.New()
	mount(t, s, r)
	js := serve(t, r, "GET", at("app.js"), nil).Body.String()
	// Native streaming compile: fetch() straight into instantiateStreaming,
	// not go-app's progress wrapper.
	if !strings.Contains(js, `keyportalFetchWasm("`+s.WasmURL()+`")`) || strings.Contains(js, `fetchWithProgress("`+s.WasmURL()) {
		t.Fatalf("app.js does not fetch %s directly", s.WasmURL())
	}
	if strings.Contains(js, "\ngoappInitServiceWorker();") || !strings.Contains(js, "\ngoappInitWebAssembly();") {
		t.Fatal("app.js still registers a service worker (or lost its wasm start)")
	}
	// The wasm is fetched (and compiled, and Go started) once the eager
	// script is done with the first ticket, so it does not hold up the portal.
	gate := strings.Index(js, "if (eager && eager.settled) await eager.settled;")
	if gate < 0 || gate > strings.Index(js, `keyportalFetchWasm("`+s.WasmURL()+`")`) || gate > strings.Index(js, "go.run(") {
		t.Fatal("app.js does not wait for the eager script before fetching and running the wasm")
	}
	// In a host's layout the wasm's component goes to the shell's place,
	// not to the top of the body (placeShell wraps go-app's go.run).
	if !strings.Contains(js, placeShell) || strings.Count(js, "go.run(wasm.instance);") != 1 {
		t.Fatal("app.js does not move the wasm's component into the shell's place")
	}
	// Not preloaded: the wasm must not compete with the portal's ticket.
	page := serve(t, r, "GET", "/settings/api-keys/42", nil).Body.String()
	if strings.Contains(page, `rel="preload"`) {
		t.Fatal("the page preloads the wasm")
	}
	if !regexp.MustCompile(`^/_keyportal/web/app\.[0-9a-f]{16}\.wasm$`).MatchString(s.WasmURL()) {
		t.Fatalf("wasm URL %q is not content-hashed", s.WasmURL())
	}
}

func TestPageEagerScriptFollowsTheShell(t *testing.T) {
	s := newTestShell(t, Config{Messages: wasmui.Messages{FrameTitle: `Keys "&" more`}, MinHeight: 600, Pages: []string{"/apps/:appId/keys"}})
	r := gin.New()
	mount(t, s, r)
	page := serve(t, r, "GET", "/apps/a-7/keys", nil).Body.String()
	want := `<script src="` + s.eagerURL() + `"` +
		` data-keyportal-ticket-path="/api/settings/api-keys/embed-ticket" data-keyportal-field="deploymentId"` +
		` data-keyportal-resource="a-7" data-keyportal-title="Keys &#34;&amp;&#34; more"` +
		` data-keyportal-min-height="600" data-keyportal-start="auto"></script>`
	pos := strings.Index(page, want)
	if pos < 0 {
		t.Fatalf("no eager script:\n%s\nwant\n%s", page, want)
	}
	// After the shell (the portal loads before the parser waits for the
	// script), in the body, and nothing render-blocking in the head.
	if shell := strings.Index(page, `class="keyportal-shell"`); shell < 0 || shell > pos || pos < strings.Index(page, "<body>") {
		t.Errorf("the eager script does not follow the shell in the body:\n%s", page)
	}
	head := page[:strings.Index(page, "</head>")]
	if regexp.MustCompile(`<script (?:[^>]*[^r] )?src=`).MatchString(strings.ReplaceAll(head, "<script defer ", "")) {
		t.Errorf("a script in the head is neither deferred nor async:\n%s", head)
	}
	// The script's attributes are escaped whatever the address holds (the
	// page itself refuses such addresses: TestPageRefusesMarkupInItsAddress).
	if tag := s.eagerTag(*s.shell, `/apps/a"><b>/keys`, "auto", nil); !strings.Contains(tag, ` data-keyportal-resource="a&#34;&gt;&lt;b&gt;"`) {
		t.Errorf("eagerTag does not escape the resource: %s", tag)
	}
	if strings.Count(page, s.eagerURL()) != 1 {
		t.Fatal("the eager script is loaded more than once")
	}
	if !regexp.MustCompile(`<aside id="app-wasm-loader" hidden><img id="app-wasm-loader-icon" [^>]*loading="lazy"`).MatchString(page) {
		t.Error("go-app's loader is not hidden, or its icon not lazy")
	}
	// The server's markup is marked as such: the eager script may amend it.
	if !strings.Contains(page, `data-keyportal-prerendered`) {
		t.Fatal("the prerendered shell is not marked")
	}
}

func TestWasmServedPrecompressed(t *testing.T) {
	path, raw := fakeWasm(t)
	s := newTestShell(t, Config{WasmPath: path})
	r := gin.New()
	mount(t, s, r)
	for _, tc := range []struct {
		name, accept, encoding string
		decode                 func(io.Reader) (io.Reader, error)
	}{
		{"brotli preferred", "gzip, deflate, br, zstd", "br", func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }},
		{"gzip", "gzip", "gzip", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
		{"br refused with q=0", "br;q=0, gzip", "gzip", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
		{"wildcard", "*", "br", func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }},
		{"identity", "", "", func(r io.Reader) (io.Reader, error) { return r, nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(t, r, "GET", s.WasmURL(), map[string]string{"Accept-Encoding": tc.accept})
			if w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			h := w.Header()
			if h.Get("Content-Type") != "application/wasm" || h.Get("Content-Encoding") != tc.encoding ||
				h.Get("Vary") != "Accept-Encoding" || h.Get("Cache-Control") != "public, max-age=31536000, immutable" {
				t.Fatalf("headers %v", h)
			}
			if h.Get("Content-Length") != "" && h.Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
				t.Fatalf("Content-Length %s for %d bytes", h.Get("Content-Length"), w.Body.Len())
			}
			if tc.encoding != "" && w.Body.Len() >= len(raw)/4 {
				t.Fatalf("%s body %d bytes for %d raw: not compressed", tc.encoding, w.Body.Len(), len(raw))
			}
			dec, err := tc.decode(bytes.NewReader(w.Body.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(dec)
			if err != nil || !bytes.Equal(got, raw) {
				t.Fatalf("decoded body differs from the wasm (err %v)", err)
			}

			// Revalidation answers 304 for this encoding's ETag.
			etag := h.Get("ETag")
			w2 := serve(t, r, "GET", s.WasmURL(), map[string]string{"Accept-Encoding": tc.accept, "If-None-Match": etag})
			if w2.Code != 304 || w2.Body.Len() != 0 {
				t.Fatalf("revalidation: %d with %d bytes", w2.Code, w2.Body.Len())
			}
		})
	}
	if w := serve(t, r, "GET", at("web/app.0000000000000000.wasm"), nil); w.Code != 404 {
		t.Errorf("a stale hash answered %d, want 404", w.Code)
	}
	if w := serve(t, r, "GET", at("web/app.wasm"), nil); w.Code != 200 || w.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("the unhashed URL answered %d, %q; want 200 never cached (pages served while it was built load it)", w.Code, w.Header().Get("Cache-Control"))
	}
}

func TestCompressedFormsCachedNextToWasm(t *testing.T) {
	path, raw := fakeWasm(t)
	s1 := newTestShell(t, Config{WasmPath: path})
	gzPath, brPath := wasmbuild.CompressedPaths(path, s1.wasm.Load().hash)
	for _, p := range []string{gzPath, brPath} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("not cached: %v", err)
		}
	}
	// A second start uses the cached files as they are: prove it by
	// planting a different (valid) gzip stream there.
	planted := wasmbuild.Gzip(append([]byte("planted"), raw...))
	if err := os.WriteFile(gzPath, planted, 0o644); err != nil {
		t.Fatal(err)
	}
	s2 := newTestShell(t, Config{WasmPath: path})
	if !bytes.Equal(s2.wasm.Load().gz, planted) {
		t.Fatal("second start recompressed instead of using the cache")
	}
}

func TestStaticAssets(t *testing.T) {
	s := newTestShell(t, Config{})
	r := gin.New()
	mount(t, s, r)
	for _, tc := range []struct{ path, contentType, cache, contains string }{
		{s.eagerURL(), "text/javascript; charset=utf-8", immutable, "keyportalTicketRequest"},
		{s.cssURL(), "text/css; charset=utf-8", immutable, ".keyportal-shell"},
		{at("web/keyportal-icon.svg"), "image/svg+xml", "public, max-age=86400", "<svg"},
		{at("web/keyportal-icon.png"), "image/png", "public, max-age=86400", "PNG"},
	} {
		w := serve(t, r, "GET", tc.path, nil)
		if w.Code != 200 || w.Header().Get("Content-Type") != tc.contentType || w.Header().Get("Cache-Control") != tc.cache || !strings.Contains(w.Body.String(), tc.contains) {
			t.Errorf("%s: %d %v", tc.path, w.Code, w.Header())
			continue
		}
		if w2 := serve(t, r, "GET", tc.path, map[string]string{"If-None-Match": w.Header().Get("ETag")}); w2.Code != 304 {
			t.Errorf("%s revalidation: %d", tc.path, w2.Code)
		}
	}
	if w := serve(t, r, "GET", at("web/../../etc/passwd"), nil); w.Code == 200 {
		t.Error("path traversal answered 200")
	}
}

func TestConfigErrors(t *testing.T) {
	path, _ := fakeWasm(t)
	notWasm := filepath.Join(t.TempDir(), "x.wasm")
	os.WriteFile(notWasm, []byte("<html>"), 0o644)
	for _, tc := range []struct {
		name string
		cfg  Config
		want error
		msg  string
	}{
		{"relative ticket path", Config{WasmPath: path, TicketPath: "api/ticket"}, ErrConfig, "TicketPath"},
		{"bad field", Config{WasmPath: path, Field: "a b"}, ErrConfig, "Field"},
		{"both wasm sources", Config{WasmPath: path, BuildFromSource: "x/y"}, ErrConfig, "not both"},
		{"remote style", Config{WasmPath: path, Styles: []string{"https://cdn.test/x.css"}}, ErrConfig, "same-origin"},
		{"negative height", Config{WasmPath: path, MinHeight: -1}, ErrConfig, "MinHeight"},
		{"unknown theme", Config{WasmPath: path, Theme: "sepia"}, ErrConfig, "Theme"},
		{"missing wasm", Config{WasmPath: filepath.Join(t.TempDir(), "nope.wasm")}, ErrWasm, "nope.wasm"},
		{"not wasm", Config{WasmPath: notWasm}, ErrWasm, "not a WebAssembly binary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Progress, tc.cfg.Logger = io.Discard, zerolog.Nop()
			_, err := New(context.Background(), tc.cfg)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "shell: ") {
				t.Fatalf("err %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestMountOnRootGroupWithMiddleware(t *testing.T) {
	s := newTestShell(t, Config{})
	r := gin.New()
	authed := r.Group("", func(c *gin.Context) {
		if c.GetHeader("Cookie") == "" {
			c.AbortWithStatus(401)
		}
	})
	mount(t, s, authed)
	if w := serve(t, r, "GET", "/settings/api-keys/42", nil); w.Code != 401 {
		t.Fatalf("without a cookie: %d, want the group's 401", w.Code)
	}
	if w := serve(t, r, "GET", "/settings/api-keys/42", map[string]string{"Cookie": "session=1"}); w.Code != 200 {
		t.Fatalf("with a cookie: %d", w.Code)
	}
}

// startFromSource starts a shell that builds (or finds in cache) the real
// wasm, reporting to progress, and waits until it serves.
func startFromSource(t *testing.T, cache string, progress io.Writer) *Shell {
	t.Helper()
	s, err := New(context.Background(), Config{CacheDir: cache, Progress: progress, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.running.Wait()
	return s
}

func TestBuildFromSourceCached(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the real wasm (about a minute); skipped with -short")
	}
	cache := t.TempDir()
	var progress bytes.Buffer
	start := time.Now()
	s := startFromSource(t, cache, &progress)
	t.Logf("first start %s: %s", time.Since(start).Round(time.Millisecond), progress.String())
	if !strings.Contains(progress.String(), "building the shell wasm from source (first start only") {
		t.Errorf("no visible build progress: %q", progress.String())
	}
	raw, gz, br := s.WasmSizes()
	t.Logf("wasm: raw %d, gzip %d, brotli %d bytes", raw, gz, br)
	if br == 0 || br > 1_500_000 {
		t.Errorf("brotli size %d, want ≤ 1.5 MB", br)
	}

	progress.Reset()
	start = time.Now()
	s2 := startFromSource(t, cache, &progress)
	t.Logf("second start %s", time.Since(start).Round(time.Millisecond))
	if strings.Contains(progress.String(), "building") || strings.Contains(progress.String(), "compressing") {
		t.Errorf("second start rebuilt or recompressed: %q", progress.String())
	}
	if s2.wasm.Load().hash != s.wasm.Load().hash {
		t.Error("second start serves a different wasm")
	}
}
