package shell

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/ginroute/ginroutetest"
)

// TestNothingAtTheSiteRoot: the shell registers its pages and, under the
// prefix, its assets, and nothing else; the root names go-app uses
// (/app.js, /web/…) stay free for the host.
func TestNothingAtTheSiteRoot(t *testing.T) {
	s := newTestShell(t, Config{})
	r := gin.New()
	mount(t, s, r)
	for _, rt := range r.Routes() {
		if rt.Path != DefaultRoute && !strings.HasPrefix(rt.Path, DefaultPrefix) {
			t.Errorf("the shell registered %s %s outside %s", rt.Method, rt.Path, DefaultPrefix)
		}
	}
	page := serve(t, r, "GET", "/settings/api-keys/42", nil).Body.String()
	for _, m := range regexp.MustCompile(`(?:src|href)="(/[^"]*)"`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], DefaultPrefix) {
			t.Errorf("the page loads %s from outside %s", m[1], DefaultPrefix)
			continue
		}
		if w := serve(t, r, "GET", m[1], nil); w.Code != 200 {
			t.Errorf("the page loads %s, which answers %d", m[1], w.Code)
		}
	}
	// The host keeps its own /app.js and /web/.
	host := gin.New()
	host.GET("/app.js", func(c *gin.Context) { c.String(200, "host") })
	host.GET("/web/*file", func(c *gin.Context) { c.String(200, "host") })
	mount(t, newTestShell(t, Config{}), host)
	if w := serve(t, host, "GET", "/app.js", nil); w.Body.String() != "host" {
		t.Errorf("the host's /app.js answers %q", w.Body.String())
	}
}

// TestNoServiceWorker: no app-worker.js is served, anywhere, and app.js
// holds no service worker registration.
func TestNoServiceWorker(t *testing.T) {
	s := newTestShell(t, Config{})
	r := gin.New()
	mount(t, s, r)
	for _, p := range []string{at("app-worker.js"), "/app-worker.js", at("web/app-worker.js")} {
		if w := serve(t, r, "GET", p, nil); w.Code != 404 {
			t.Errorf("GET %s: %d, want 404", p, w.Code)
		}
	}
	js := serve(t, r, "GET", at("app.js"), nil).Body.String()
	for _, gone := range []string{"serviceWorker.register", "goappInitServiceWorker", "app-worker.js"} {
		if strings.Contains(js, gone) {
			t.Errorf("app.js still holds %q", gone)
		}
	}
	if !strings.Contains(js, "\ngoappInitWebAssembly();") {
		t.Fatal("app.js lost its wasm start")
	}
	page := serve(t, r, "GET", "/settings/api-keys/42", nil).Body.String()
	if strings.Contains(page, "serviceWorker") {
		t.Error("the page mentions a service worker")
	}
}

// TestRewriteAppJSFailsLoudly: when go-app's app.js is not the one the
// rewrite was written for, the rewrite is an error (Mount fails), never a
// page that registers a service worker.
func TestRewriteAppJSFailsLoudly(t *testing.T) {
	s := newTestShell(t, Config{})
	r := gin.New()
	mount(t, s, r)
	sv := s.served.Load()
	rec := &pageRecorder{header: map[string][]string{}, status: 200}
	req := httptestRequest(t, "/app.js")
	sv.handler.ServeHTTP(rec, req)
	orig := rec.body.String()
	if _, err := rewriteAppJS(orig, s.WasmURL()); err != nil {
		t.Fatalf("go-app's own app.js: %v", err)
	}
	for name, js := range map[string]string{
		"call renamed":             strings.Replace(orig, "\ngoappInitServiceWorker();\n", "\ngoappStartServiceWorker();\n", 1),
		"second registration":      orig + "\nnavigator.serviceWorker.register('/sw.js');\n",
		"wasm fetched another way": strings.Replace(orig, "fetchWithProgress(", "fetchWasm(", 1),
		"no instantiate":           strings.Replace(orig, "const wasm = await instantiateStreaming(", "const wasm = await WebAssembly.instantiateStreaming(", 1),
		"go.run changed":           strings.Replace(orig, "go.run(wasm.instance);", "go.run(wasm.instance, {});", 1),
		"go.run twice":             strings.Replace(orig, "go.run(wasm.instance);", "go.run(wasm.instance);\n    go.run(wasm.instance);", 1),
	} {
		if _, err := rewriteAppJS(js, s.WasmURL()); !errors.Is(err, errAppJS) {
			t.Errorf("%s: err %v, want errAppJS", name, err)
		}
	}
}

// pageAsset finds what a page loads: the src or href of a script, image or
// link element.
var pageAsset = regexp.MustCompile(`<(?:script|img|link)\b[^>]*?\b(?:src|href)="([^"]*)"`)

// TestMountOnPrefixedGroup: on r.Group("/app") the pages and the assets
// live under /app, and the page loads them from there.
func TestMountOnPrefixedGroup(t *testing.T) {
	s := newTestShell(t, Config{})
	r := gin.New()
	mount(t, s, r.Group("/app"))
	w := serve(t, r, "GET", "/app/settings/api-keys/42", nil)
	if w.Code != 200 {
		t.Fatalf("page: %d", w.Code)
	}
	page := w.Body.String()
	for _, want := range []string{`src="/app/_keyportal/app.js"`, `src="/app/_keyportal/web/keyportal-eager.`, `href="/app/_keyportal/web/keyportal-shell.`, `data-keyportal-resource="42"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	// Every asset the page loads (scripts, styles, icons, go-app's loader
	// icon) is under the group's prefix: nothing at the site root.
	for _, m := range pageAsset.FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], "/app/_keyportal/") {
			t.Errorf("the page loads %s, outside /app/_keyportal/", m[1])
		}
	}
	js := serve(t, r, "GET", "/app/_keyportal/app.js", nil).Body.String()
	for _, want := range []string{`"KEYPORTAL_ROUTES":"/app/settings/api-keys/:deploymentId"`, `keyportalFetchWasm("/app/_keyportal/web/app.`, `"GOAPP_STATIC_RESOURCES_URL":"/app/_keyportal/web"`} {
		if !strings.Contains(js, want) {
			t.Errorf("app.js lacks %s", want)
		}
	}
	for _, p := range []string{s.WasmURL(), s.eagerURL(), s.cssURL(), "/app/_keyportal/wasm_exec.js", "/app/_keyportal/manifest.webmanifest"} {
		if !strings.HasPrefix(p, "/app/_keyportal/") {
			t.Errorf("%s is not under the group", p)
		}
		if w := serve(t, r, "GET", p, nil); w.Code != 200 {
			t.Errorf("GET %s: %d", p, w.Code)
		}
	}
	if w := serve(t, r, "GET", "/settings/api-keys/42", nil); w.Code != 404 {
		t.Errorf("the page outside the group answered %d", w.Code)
	}
}

// TestMountMistakesAreErrors: a route the host already has, a second
// Mount, a bad prefix or page: errors, never a panic.
func TestMountMistakesAreErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		host func(r *gin.Engine)
		msg  string
	}{
		{"host has the page", func(r *gin.Engine) { r.GET(DefaultRoute, func(*gin.Context) {}) }, "GET " + DefaultRoute},
		{"host has the prefix", func(r *gin.Engine) { r.GET("/_keyportal/*any", func(*gin.Context) {}) }, "/_keyportal/"},
		{"host has a wildcard there", func(r *gin.Engine) { r.GET("/settings/api-keys/:other", func(*gin.Context) {}) }, DefaultRoute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := gin.New()
			tc.host(r)
			err := newTestShell(t, Config{}).Mount(r)
			ginroutetest.WantMountError(t, err, tc.msg)
			t.Log(err)
		})
	}
	s := newTestShell(t, Config{})
	mount(t, s, gin.New())
	ginroutetest.WantMountError(t, s.Mount(gin.New()), "already mounted")

	path, _ := fakeWasm(t)
	for _, tc := range []struct {
		name string
		cfg  Config
		msg  string
	}{
		{"prefix without slashes", Config{Prefix: "kp"}, "Prefix"},
		{"prefix without its last slash", Config{Prefix: "/kp"}, "Prefix"},
		{"prefix with ..", Config{Prefix: "/a/../"}, "Prefix"},
		{"prefix with a wildcard", Config{Prefix: "/:x/"}, "Prefix"},
		{"prefix at the root", Config{Prefix: "/"}, "Prefix"},
		{"page without a parameter", Config{Pages: []string{"/settings/keys"}}, "no parameter"},
		{"relative page", Config{Pages: []string{"settings/:id"}}, "must be a path"},
		{"page with markup", Config{Pages: []string{`/a"b/:id`}}, "may not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.WasmPath, tc.cfg.CacheDir = path, t.TempDir()
			_, err := New(t.Context(), tc.cfg)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v, want ErrConfig mentioning %q", err, tc.msg)
			}
		})
	}
	// A custom prefix is used as given.
	s = newTestShell(t, Config{Prefix: "/assets/keys/"})
	r := gin.New()
	mount(t, s, r)
	if w := serve(t, r, "GET", "/assets/keys/app.js", nil); w.Code != 200 {
		t.Errorf("custom prefix: app.js %d", w.Code)
	}
}

func httptestRequest(t *testing.T, path string) *http.Request {
	t.Helper()
	return httptest.NewRequest("GET", path, nil)
}
