package portal

import (
	"net/url"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/middleware/keystore"
)

func TestNormalizeOrigin(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"already serialized", "https://app.acme.test", "https://app.acme.test"},
		{"with a port", "http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"upper-case host", "https://App.Acme.TEST", "https://app.acme.test"},
		{"default https port dropped", "https://app.acme.test:443", "https://app.acme.test"},
		{"default http port dropped", "http://localhost:80", "http://localhost"},
		{"https on port 80 kept", "https://localhost:80", "https://localhost:80"},
		{"trailing slash", "https://app.acme.test/", "https://app.acme.test"},
		{"IPv6 literal", "http://[::1]:8080", "http://[::1]:8080"},
		{"empty port", "http://localhost:", "http://localhost"},
		{"a path", "https://app.acme.test/settings", ""},
		{"a query", "https://app.acme.test?x=1", ""},
		{"credentials", "https://user:pw@app.acme.test", ""},
		{"another scheme", "javascript://app.acme.test", ""},
		{"no host", "https://", ""},
		{"null", "null", ""},
		{"empty", "", ""},
		{"quote in host", `https://a"b.test`, ""},
		{"over 300 bytes", "https://" + strings.Repeat("a", 300) + ".test", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := normalizeOrigin(tt.in); got != tt.want {
				t.Errorf("normalizeOrigin(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// slowNormalizeOrigin is normalizeOrigin without the fast path.
func slowNormalizeOrigin(s string) string {
	if isSerializedOrigin(s) {
		// Break the fast path open: the parse must give the same answer
		// for a string that differs only by the trailing slash it drops.
		return strings.TrimSuffix(normalizeOrigin(s+"/"), "/")
	}
	return normalizeOrigin(s)
}

// FuzzNormalizeOriginFastPath checks that the fast path answers exactly what
// parsing would: a string it accepts is returned unchanged, and parsing it
// gives the same origin.
func FuzzNormalizeOriginFastPath(f *testing.F) {
	for _, s := range []string{"https://a.test", "http://localhost:80", "http://h:0080", "https://x:", "http://A.test", "http://[::1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isSerializedOrigin(s) || len(s) > 299 {
			return
		}
		u, err := url.Parse(s + "/")
		if err != nil {
			t.Fatalf("fast path accepted %q, which does not parse: %v", s, err)
		}
		if got := slowNormalizeOrigin(s); got != s {
			t.Fatalf("fast path kept %q, parsing gives %q (host %q)", s, got, u.Host)
		}
	})
}

func TestOriginAllowed(t *testing.T) {
	app := keystore.App{AllowedOrigins: []string{"https://app.acme.test", "HTTP://Localhost:8080", "not an origin"}}
	tests := []struct {
		name, origin string
		want         bool
	}{
		{"listed as is", "https://app.acme.test", true},
		{"listed in another spelling", "http://localhost:8080", true},
		{"another port", "http://localhost:8081", false},
		{"another scheme", "http://app.acme.test", false},
		{"a malformed entry matches nothing", "not an origin", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := originAllowed(app, tt.origin); got != tt.want {
				t.Errorf("originAllowed(%q) = %v, want %v", tt.origin, got, tt.want)
			}
		})
	}
}
