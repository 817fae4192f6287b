package shell

import (
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/wasmui"
)

// hiddenPanel matches the prerendered start panel (go-app writes
// attributes in any order).
var hiddenPanel = regexp.MustCompile(`<div (class="keyportal-start" hidden|hidden class="keyportal-start")>`)

// startAttr is how the page carries its start mode.
func startAttr(mode string) string { return `data-keyportal-start="` + mode + `"` }

// TestPageStartModeFollowsSecFetchSite: a page opened from another site
// does not carry the flag that makes it ask for a ticket at once; one
// opened from the app itself, or by the user, does.
func TestPageStartModeFollowsSecFetchSite(t *testing.T) {
	s := newTestShell(t, Config{})
	r := gin.New()
	mount(t, s, r)
	for _, tc := range []struct {
		site string // Sec-Fetch-Site; "" sends none
		want string
	}{
		{"same-origin", wasmui.StartAtOnce},
		{"none", wasmui.StartAtOnce},
		{"", wasmui.StartAtOnce}, // a browser without Fetch Metadata
		{"cross-site", wasmui.StartOnClick},
		{"same-site", wasmui.StartOnClick},
		{"nonsense", wasmui.StartOnClick},
	} {
		header := map[string]string{}
		if tc.site != "" {
			header["Sec-Fetch-Site"] = tc.site
		}
		w := serve(t, r, "GET", "/settings/api-keys/42", header)
		page := w.Body.String()
		if w.Code != 200 {
			t.Fatalf("Sec-Fetch-Site %q: status %d", tc.site, w.Code)
		}
		other := wasmui.StartAtOnce
		if tc.want == wasmui.StartAtOnce {
			other = wasmui.StartOnClick
		}
		if strings.Count(page, startAttr(tc.want)) != 1 || strings.Contains(page, startAttr(other)) {
			t.Errorf("Sec-Fetch-Site %q: want the page to carry %s only", tc.site, startAttr(tc.want))
		}
		if !strings.Contains(page, `<script src="`+s.eagerURL()+`"`) {
			t.Errorf("Sec-Fetch-Site %q: the mode is not on the eager script's element", tc.site)
		}
		if !strings.Contains(w.Header().Get("Vary"), "Sec-Fetch-Site") {
			t.Errorf("Sec-Fetch-Site %q: Vary %q does not name Sec-Fetch-Site", tc.site, w.Header().Get("Vary"))
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Sec-Fetch-Site %q: Cache-Control %q, want no-store", tc.site, cc)
		}
	}
	// The prerendered shell carries the start panel, hidden, for the eager
	// script to show.
	page := serve(t, r, "GET", "/settings/api-keys/42", map[string]string{"Sec-Fetch-Site": "cross-site"}).Body.String()
	if !hiddenPanel.MatchString(page) {
		t.Error("the page lacks the hidden start panel")
	}
	for _, want := range []string{wasmui.TextFromAnotherSite, `<button type="button">` + wasmui.TextOpen + `</button>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}

// TestPageIsNeverCached: the page may carry a single-use ticket and
// depends on the navigation's Sec-Fetch-Site, so no cache may keep it, and
// a browser that revalidates a page it kept anyway (it should not) gets the
// page for this navigation: a cross-site one gets the page that waits, not a
// 304 that reuses the page that asks at once.
func TestPageIsNeverCached(t *testing.T) {
	s := newTestShell(t, Config{})
	r := gin.New()
	mount(t, s, r)
	const path = "/settings/api-keys/42"
	same := serve(t, r, "GET", path, map[string]string{"Sec-Fetch-Site": "same-origin"})
	if same.Header().Get("Cache-Control") != "no-store" || same.Header().Get("ETag") != "" {
		t.Fatalf("Cache-Control %q ETag %q, want no-store and no ETag", same.Header().Get("Cache-Control"), same.Header().Get("ETag"))
	}
	w := serve(t, r, "GET", path, map[string]string{"Sec-Fetch-Site": "cross-site", "If-None-Match": "*"})
	if w.Code != 200 || !strings.Contains(w.Body.String(), startAttr(wasmui.StartOnClick)) {
		t.Fatalf("cross-site revalidation: %d, want 200 with %s", w.Code, startAttr(wasmui.StartOnClick))
	}
}
