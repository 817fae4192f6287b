package clientip

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/testenv"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	m.Run()
}

// clientIP sends one request from peer (with X-Forwarded-For when xff is
// set) through an engine made by setup and returns what Of answered.
func clientIP(t *testing.T, e *gin.Engine, log *zerolog.Logger, peer, xff string) string {
	t.Helper()
	var got string
	e.GET("/", func(c *gin.Context) { got = Of(c, log) })
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = peer + ":5555"
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	e.ServeHTTP(httptest.NewRecorder(), r)
	return got
}

func TestOf(t *testing.T) {
	const attacker, claimed, proxy = "203.0.113.7", "198.51.100.1", "10.1.2.3"
	trusting := func(proxies ...string) func(t *testing.T) *gin.Engine {
		return func(t *testing.T) *gin.Engine {
			e := gin.New()
			if err := Trust(e, proxies); err != nil {
				t.Fatal(err)
			}
			return e
		}
	}
	tests := []struct {
		name     string
		engine   func(t *testing.T) *gin.Engine
		peer     string
		xff      string
		want     string
		warnings int
	}{
		{"gin's default engine: a spoofed header is ignored, with a warning", func(*testing.T) *gin.Engine { return gin.New() },
			attacker, claimed, attacker, 1},
		{"gin's default engine, no header", func(*testing.T) *gin.Engine { return gin.New() }, attacker, "", attacker, 0},
		{"no proxy trusted: a spoofed header is ignored", trusting(), attacker, claimed, attacker, 0},
		{"the trusted proxy's header is honoured", trusting(proxy), proxy, claimed, claimed, 0},
		{"a trusted range's header is honoured", trusting("10.0.0.0/8"), proxy, claimed, claimed, 0},
		{"a chain through the trusted proxy names the first untrusted hop", trusting(proxy), proxy, claimed + ", " + attacker, attacker, 0},
		{"another address's header is ignored", trusting(proxy), attacker, claimed, attacker, 0},
		{"IPv6 peer", trusting(), "2001:db8::1", claimed, "2001:db8::1", 0},
		{"every IPv4 address named as a proxy", trusting("0.0.0.0/0"), attacker, claimed, attacker, 1},
		{"every IPv6 address named as a proxy", trusting("::/0"), "2001:db8::1", claimed, "2001:db8::1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warned.Store(false)
			var logs testenv.LogBuffer
			log := zerolog.New(&logs)
			e := tt.engine(t)
			peer := tt.peer
			if strings.Contains(peer, ":") {
				peer = "[" + peer + "]"
			}
			for range 3 { // the warning is logged once
				if got := clientIP(t, e, &log, peer, tt.xff); got != tt.want {
					t.Fatalf("client IP %q, want %q", got, tt.want)
				}
				e = tt.engine(t)
			}
			if n := strings.Count(logs.String(), "clientip.untrusted_header"); n != tt.warnings {
				t.Errorf("%d warnings, want %d:\n%s", n, tt.warnings, logs.String())
			}
			if tt.warnings > 0 && !strings.Contains(logs.String(), "SetTrustedProxies") {
				t.Errorf("the warning does not name the fix:\n%s", logs.String())
			}
		})
	}
}

func TestTrustRefusesWhatIsNotAnAddress(t *testing.T) {
	for _, bad := range []string{"proxy.internal", "10.0.0.0/33", "10.0.0.1:8080", ""} {
		err := Trust(gin.New(), []string{"10.0.0.1", bad})
		if err == nil || !strings.Contains(err.Error(), `"`+bad+`"`) || !strings.Contains(err.Error(), "CIDR") {
			t.Errorf("Trust(%q) = %v, want an error naming it", bad, err)
		}
	}
}

func TestParseProxies(t *testing.T) {
	got, err := ParseProxies(" 10.0.0.1, 10.0.0.0/8,,fd00::/8 ,2001:db8::7")
	if err != nil || strings.Join(got, " ") != "10.0.0.1 10.0.0.0/8 fd00::/8 2001:db8::7" {
		t.Errorf("ParseProxies = %q, %v", got, err)
	}
	if got, err := ParseProxies(""); got != nil || err != nil {
		t.Errorf("ParseProxies(\"\") = %q, %v, want none", got, err)
	}
	if _, err := ParseProxies("10.0.0.1,lb.internal"); err == nil || !strings.Contains(err.Error(), `"lb.internal"`) {
		t.Errorf("ParseProxies with a host name: %v, want an error naming it", err)
	}
}

// TestOfOtherForwardingHeaders: an engine may read the client address from
// headers of its choosing (Engine.RemoteIPHeaders) or from a platform's
// (Engine.TrustedPlatform). On an engine that trusts every address, a
// client's own header is ignored whatever its name; a platform's header is
// what gin makes of it, as before.
func TestOfOtherForwardingHeaders(t *testing.T) {
	const attacker, claimed = "203.0.113.7", "198.51.100.1"
	tests := []struct {
		name     string
		engine   func(e *gin.Engine) error
		header   string
		want     string
		warnings int
	}{
		{"gin's default engine reading CF-Connecting-IP", func(e *gin.Engine) error {
			e.RemoteIPHeaders = []string{"CF-Connecting-IP"}
			return nil
		}, "CF-Connecting-IP", attacker, 1},
		{"gin's default engine reading True-Client-IP and X-Forwarded-For", func(e *gin.Engine) error {
			e.RemoteIPHeaders = []string{"True-Client-IP", "X-Forwarded-For"}
			return nil
		}, "True-Client-IP", attacker, 1},
		{"no proxy trusted, reading CF-Connecting-IP", func(e *gin.Engine) error {
			e.RemoteIPHeaders = []string{"CF-Connecting-IP"}
			return Trust(e, nil)
		}, "CF-Connecting-IP", attacker, 0},
		{"the attacker's address trusted, reading CF-Connecting-IP", func(e *gin.Engine) error {
			e.RemoteIPHeaders = []string{"CF-Connecting-IP"}
			return Trust(e, []string{attacker})
		}, "CF-Connecting-IP", claimed, 0},
		{"a platform's header with no proxy trusted", func(e *gin.Engine) error {
			e.TrustedPlatform = gin.PlatformCloudflare
			return Trust(e, nil)
		}, "CF-Connecting-IP", claimed, 0},
		{"a platform's header on gin's default engine", func(e *gin.Engine) error {
			e.TrustedPlatform = gin.PlatformCloudflare
			return nil
		}, "CF-Connecting-IP", attacker, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warned.Store(false)
			var logs testenv.LogBuffer
			log := zerolog.New(&logs)
			e := gin.New()
			if err := tt.engine(e); err != nil {
				t.Fatal(err)
			}
			var got string
			e.GET("/", func(c *gin.Context) { got = Of(c, &log) })
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = attacker + ":5555"
			r.Header.Set(tt.header, claimed)
			e.ServeHTTP(httptest.NewRecorder(), r)
			if got != tt.want {
				t.Errorf("client IP %q, want %q", got, tt.want)
			}
			if n := strings.Count(logs.String(), "clientip.untrusted_header"); n != tt.warnings {
				t.Errorf("%d warnings, want %d", n, tt.warnings)
			}
		})
	}
}
