package shell

import (
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestPageRefusesMarkupInItsAddress: go-app writes the page's address into
// attributes (og:url, the shell's data-keyportal-resource) quoted as Go
// strings, not HTML-escaped, so a '"' in the address ended the attribute
// and the rest became markup: /settings/api-keys/"><img src=x onerror=…>
// ran the script on the app's origin. Such an address gets a 404 and no
// page.
func TestPageRefusesMarkupInItsAddress(t *testing.T) {
	s := newTestShell(t, Config{Pages: []string{DefaultRoute, "/orgs/:org/apps/:appId/keys"}})
	r := gin.New()
	mount(t, s, r)
	for _, path := range []string{
		"/settings/api-keys/%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E",
		"/settings/api-keys/%22onfocus=alert(1)%20autofocus%20x=%22",
		"/settings/api-keys/a'b",
		"/settings/api-keys/%3Cb%3E",
		"/settings/api-keys/a&b",
		"/settings/api-keys/a%5Cb",
		"/settings/api-keys/a%60b",
		"/settings/api-keys/a%0Ab",
		"/orgs/%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E/apps/42/keys",
	} {
		for _, method := range []string{"GET", "HEAD"} {
			w := serve(t, r, method, path, nil)
			if body := w.Body.String(); w.Code != 404 || strings.Contains(body, "<") {
				t.Errorf("%s %s: %d, markup %v; want 404 and no markup", method, path, w.Code, strings.Contains(body, "<"))
			}
		}
	}
	w := serve(t, r, "GET", "/settings/api-keys/%22x", nil)
	if !strings.Contains(w.Body.String(), "no settings page") || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("refusal: %q %q, want a plain-text reason", w.Header().Get("Content-Type"), w.Body.String())
	}
	for _, path := range []string{"/settings/api-keys/42", "/settings/api-keys/dep_7-a", "/orgs/acme/apps/a-1/keys", "/settings/api-keys/%C3%A9t%C3%A9"} {
		if w := serve(t, r, "GET", path, nil); w.Code != 200 {
			t.Errorf("GET %s: %d, want 200", path, w.Code)
		}
	}
}
