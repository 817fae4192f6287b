//go:build !(js && wasm)

package wasmui

import (
	"html"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// The server renders the state the ticket route's answer puts the shell in,
// so no state appears only once the wasm is up.
func TestPrerenderStates(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ok := `{"ticket":"tk1","expires_at":1800000120,"url":"https://portal.test/p/api-auth?ticket=tk1&x=<b>"}`
	cases := []struct {
		name     string
		answer   *ticket.Answer
		shell    []string // in the shell element
		notShell []string
		frame    string // in the frame slot; "" for none
		portal   string
	}{
		{"no answer", nil, []string{TextLoading, `aria-busy="true"`, "data-keyportal-prerendered"}, nil, "", ""},
		{"ticket", &ticket.Answer{Status: 200, Body: []byte(ok)}, []string{"keyportal-notice"}, []string{TextLoading, "aria-busy", "<iframe"},
			`<iframe src="https://portal.test/p/api-auth?ticket=tk1&amp;x=&lt;b&gt;" title="API key manager"`, "https://portal.test"},
		{"signed out", &ticket.Answer{Status: 401, Body: []byte(`{"error":"Unauthorized"}`)}, []string{TextSignedOut, `href="/login"`}, []string{TextLoading}, "", ""},
		{"forbidden", &ticket.Answer{Status: 403, Body: []byte(`{"error":"Forbidden"}`)}, []string{TextForbidden, TextAskAdmin}, []string{TextLoading}, "", ""},
		{"rate limited", &ticket.Answer{Status: 429, RetryAfter: "7", Body: []byte(`{"error":"Too many requests"}`)}, []string{"Retrying in 7 s"}, []string{TextLoading}, "", ""},
		{"failed", &ticket.Answer{Status: 503, Body: []byte(`{"error":"Service unavailable"}`)}, []string{"Couldn't load the API key manager (the server answered 503)", "Retry"}, []string{TextLoading}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &Shell{Routes: []string{"/settings/api-keys/:id"}}
			p := s.Prerender("https://app.test", "/settings/api-keys/42", tc.answer, now)
			for _, want := range append(tc.shell, `data-keyportal-resource="42"`) {
				if !strings.Contains(p.Shell, want) && !strings.Contains(p.Shell, html.EscapeString(want)) {
					t.Errorf("shell lacks %q:\n%s", want, p.Shell)
				}
			}
			for _, bad := range tc.notShell {
				if strings.Contains(p.Shell, bad) {
					t.Errorf("shell holds %q:\n%s", bad, p.Shell)
				}
			}
			if (tc.frame == "") != (p.Frame == "") || !strings.Contains(p.Frame, tc.frame) {
				t.Errorf("frame %q, want one holding %q", p.Frame, tc.frame)
			}
			if p.PortalOrigin != tc.portal {
				t.Errorf("portal origin %q, want %q", p.PortalOrigin, tc.portal)
			}
		})
	}
}
