package ticket

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestParseOrigin(t *testing.T) {
	tests := []struct {
		name, in, want string
		why            string // for a refusal: a part of the error message
	}{
		{name: "serialized", in: "https://app.acme.test", want: "https://app.acme.test"},
		{name: "with a port", in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{name: "upper-case host", in: "https://App.Acme.TEST", want: "https://app.acme.test"},
		{name: "upper-case scheme", in: "HTTPS://app.acme.test", want: "https://app.acme.test"},
		{name: "default https port dropped", in: "https://app.acme.test:443", want: "https://app.acme.test"},
		{name: "default http port dropped", in: "http://localhost:80", want: "http://localhost"},
		{name: "https on port 80 kept", in: "https://localhost:80", want: "https://localhost:80"},
		{name: "leading zeros in the port", in: "http://h:0080", want: "http://h"},
		{name: "empty port", in: "http://localhost:", want: "http://localhost"},
		{name: "trailing slash", in: "https://app.acme.test/", want: "https://app.acme.test"},
		{name: "IPv6 literal", in: "http://[::1]:8080", want: "http://[::1]:8080"},
		{name: "IPv6 in its long form", in: "http://[0:0:0:0:0:0:0:1]", want: "http://[::1]"},
		{name: "IPv6 in upper case", in: "http://[FE80::1]", want: "http://[fe80::1]"},
		{name: "final dot kept", in: "https://acme.test.", want: "https://acme.test."},
		{name: "punycode", in: "https://xn--bcher-kva.test", want: "https://xn--bcher-kva.test"},
		{name: "Z in the host", in: "https://Zeta.test", want: "https://zeta.test"},
		{name: "port 1", in: "http://h:1", want: "http://h:1"},
		{name: "port 65535", in: "http://h:65535", want: "http://h:65535"},
		{name: "port with a 9", in: "http://h:9090", want: "http://h:9090"},

		{name: "empty", in: "", why: "empty"},
		{name: "null", in: "null", why: "want scheme://host[:port]"},
		{name: "no scheme", in: "app.acme.test", why: "want scheme://host[:port]"},
		{name: "another scheme", in: "javascript://app.acme.test", why: "the scheme must be http or https"},
		{name: "ftp", in: "ftp://app.acme.test", why: "the scheme must be http or https"},
		{name: "no host", in: "https://", why: "no host"},
		{name: "only a slash", in: "https:///", why: "no host"},
		{name: "only a port", in: "https://:8080", why: "no host"},
		{name: "a path", in: "https://app.acme.test/settings", why: "a path"},
		{name: "two slashes", in: "https://app.acme.test//", why: "a path"},
		{name: "a query", in: "https://app.acme.test?x=1", why: "a query"},
		{name: "an empty query", in: "https://app.acme.test?", why: "a query"},
		{name: "a fragment", in: "https://app.acme.test#top", why: "a fragment"},
		{name: "an empty fragment", in: "https://app.acme.test#", why: "a fragment"},
		{name: "user info", in: "https://user:pw@app.acme.test", why: "user info"},
		{name: "a query and no host", in: "https://?x=1", why: "a query"},
		{name: "user info and no user", in: "https://@app.acme.test", why: "user info"},
		{name: "port 65536", in: "http://h:65536", why: "port"},
		{name: "wildcard host", in: "http://*.example", why: "wildcards are not supported"},
		{name: "bare wildcard", in: "*", why: "want scheme://host[:port]"},
		{name: "wildcard port", in: "https://acme.test:*", why: "port"},
		{name: "underscore", in: "https://a_b.acme.test", why: "letters, digits"},
		{name: "quote in host", in: `https://a"b.test`, why: "letters, digits"},
		{name: "space", in: "https://a b.test", why: "letters, digits"},
		{name: "percent", in: "https://a%2eb.test", why: "letters, digits"},
		{name: "backslash", in: `https://acme.test\x`, why: "letters, digits"},
		{name: "non-ASCII host", in: "https://bücher.test", why: "xn--"},
		{name: "empty label", in: "https://a..b", why: "empty label"},
		{name: "leading dot", in: "https://.acme.test", why: "empty label"},
		{name: "port 0", in: "http://h:0", why: "port"},
		{name: "port too large", in: "https://acme.test:99999", why: "port"},
		{name: "huge port", in: "https://acme.test:99999999999999999999999", why: "port"},
		{name: "port with a sign", in: "https://acme.test:+80", why: "port"},
		{name: "two ports", in: "https://acme.test:80:80", why: "port"},
		{name: "IPv6 without brackets", in: "http://::1", why: "no host"},
		{name: "IPv6 with a zone", in: "http://[fe80::1%25eth0]", why: "IPv6"},
		{name: "IPv4 in brackets", in: "http://[127.0.0.1]", why: "IPv6"},
		{name: "unclosed bracket", in: "http://[::1", why: "IPv6"},
		{name: "junk after IPv6", in: "http://[::1]x", why: "IPv6"},
		{name: "over 300 bytes", in: "https://" + strings.Repeat("a", 300) + ".test", why: "longer than 300"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOrigin(tt.in)
			if tt.why != "" {
				if err == nil || !errors.Is(err, ErrNotOrigin) || !strings.Contains(err.Error(), tt.why) {
					t.Fatalf("ParseOrigin(%q) = %q, %v; want an ErrNotOrigin saying %q", tt.in, got, err, tt.why)
				}
				if IsOrigin(tt.in) {
					t.Errorf("IsOrigin(%q) = true for a refused string", tt.in)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseOrigin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			if IsOrigin(tt.in) != (tt.in == tt.want) {
				t.Errorf("IsOrigin(%q) = %v, want %v", tt.in, !(tt.in == tt.want), tt.in == tt.want)
			}
		})
	}
}

func TestParseOriginErrorMessage(t *testing.T) {
	_, err := ParseOrigin("http://*.example")
	const want = `not an origin: "http://*.example": wildcards are not supported: list each origin`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestParseOriginErrorClipsInput: the error quotes a refused string of up
// to 80 bytes whole, and a longer one clipped to 80 bytes and "…".
func TestParseOriginErrorClipsInput(t *testing.T) {
	at80 := "https://a_" + strings.Repeat("b", 70)
	for in, want := range map[string]string{
		at80:       `"` + at80 + `"`,
		at80 + "c": `"` + at80 + `…"`,
	} {
		if _, err := ParseOrigin(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseOrigin(%d bytes) = %v, want it to quote %s", len(in), err, want)
		}
	}
}

func TestContainsOrigin(t *testing.T) {
	list := []string{"https://app.acme.test", "HTTP://Localhost:8080/", "not an origin", "http://*.acme.test"}
	for origin, want := range map[string]bool{
		"https://app.acme.test": true,
		"http://localhost:8080": true,
		"http://localhost:8081": false,
		"http://app.acme.test":  false,
		"not an origin":         false,
		"http://x.acme.test":    false,
		"http://*.acme.test":    false,
		"":                      false,
	} {
		if got := ContainsOrigin(list, origin); got != want {
			t.Errorf("ContainsOrigin(%q) = %v, want %v", origin, got, want)
		}
	}
}

// TestOriginHotPathAllocatesNothing: checking a serialized origin, and
// finding it among serialized ones, costs no allocation.
func TestOriginHotPathAllocatesNothing(t *testing.T) {
	list := []string{"https://other.acme.test", "http://127.0.0.1:8080", "https://app.acme.test"}
	for _, s := range []string{"https://app.acme.test", "http://127.0.0.1:8080", "http://*.example", "https://App.acme.test"} {
		if n := testing.AllocsPerRun(100, func() { IsOrigin(s) }); n != 0 {
			t.Errorf("IsOrigin(%q) allocates %v times", s, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		if !ContainsOrigin(list, "https://app.acme.test") {
			t.Fatal("not found")
		}
	}); n != 0 {
		t.Errorf("ContainsOrigin allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseOrigin("https://app.acme.test") }); n != 0 {
		t.Errorf("ParseOrigin of a serialized origin allocates %v times", n)
	}
}

// FuzzParseOrigin checks the rule against itself and against net/url: what
// ParseOrigin returns is serialized (IsOrigin, ParseOrigin returns it
// unchanged), IsOrigin holds exactly for the strings ParseOrigin returns as
// they are, and net/url reads the result as the same scheme and host with
// nothing else.
func FuzzParseOrigin(f *testing.F) {
	for _, s := range []string{"https://a.test", "http://localhost:80", "http://h:0080", "https://x:", "http://A.test",
		"http://[::1]", "http://[0::1]:443", "https://a.test/", "http://*.example", "http://a@b", "null"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseOrigin(s)
		if IsOrigin(s) != (err == nil && got == s) {
			t.Fatalf("IsOrigin(%q) = %v, but ParseOrigin gives %q, %v", s, IsOrigin(s), got, err)
		}
		if err != nil {
			return
		}
		if again, err := ParseOrigin(got); err != nil || again != got || !IsOrigin(got) {
			t.Fatalf("ParseOrigin(%q) = %q is not serialized: again %q, %v", s, got, again, err)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("net/url cannot parse %q (from %q): %v", got, s, err)
		}
		if u.Scheme+"://"+u.Host != got || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			t.Fatalf("net/url reads %q (from %q) as %#v", got, s, u)
		}
		if u.Hostname() != strings.ToLower(u.Hostname()) {
			t.Fatalf("%q has upper case", got)
		}
		if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
			t.Fatalf("%q keeps the default port", got)
		}
	})
}
