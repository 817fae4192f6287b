package middleware

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"

	"github.com/keyportal/keyportal/middleware/ticket"
)

func TestOriginCheck(t *testing.T) {
	tests := []struct {
		name       string
		allowed    []string
		host       string
		tls        bool
		origin     []string
		fetchSite  string
		wantOrigin string
		wantOK     bool
	}{
		{name: "own origin", host: "app.test", origin: []string{"http://app.test"}, wantOrigin: "http://app.test", wantOK: true},
		{name: "own origin with port", host: "app.test:8080", origin: []string{"http://app.test:8080"}, wantOrigin: "http://app.test:8080", wantOK: true},
		{name: "own origin, Host with default port", host: "app.test:80", origin: []string{"http://app.test"}, wantOrigin: "http://app.test", wantOK: true},
		{name: "own origin, Origin with default port", host: "app.test", origin: []string{"http://app.test:80"}, wantOrigin: "http://app.test", wantOK: true},
		{name: "own origin, Host in upper case", host: "APP.test", origin: []string{"http://app.test"}, wantOrigin: "http://app.test", wantOK: true},
		{name: "own origin over TLS", host: "app.test", tls: true, origin: []string{"https://app.test"}, wantOrigin: "https://app.test", wantOK: true},
		{name: "http origin for a TLS request", host: "app.test", tls: true, origin: []string{"http://app.test"}},
		{name: "https origin for a plain request", host: "app.test", origin: []string{"https://app.test"}},
		{name: "other port", host: "app.test", origin: []string{"http://app.test:81"}},
		{name: "suffix attack", host: "app.test", origin: []string{"http://app.test.evil.example"}},
		{name: "prefix attack", host: "app.test", origin: []string{"http://evilapp.test"}},
		{name: "userinfo", host: "app.test", origin: []string{"http://app.test@evil.example"}},
		{name: "null", host: "app.test", origin: []string{"null"}},
		{name: "missing", host: "app.test"},
		{name: "two headers", host: "app.test", origin: []string{"http://app.test", "http://app.test"}},
		{name: "garbage", host: "app.test", origin: []string{"http://%zz"}},
		{name: "same-site fetch", host: "app.test", origin: []string{"http://app.test"}, fetchSite: "same-site"},
		{name: "unknown fetch site", host: "app.test", origin: []string{"http://app.test"}, fetchSite: "sideways"},
		{name: "navigation (none)", host: "app.test", origin: []string{"http://app.test"}, fetchSite: "none", wantOrigin: "http://app.test", wantOK: true},
		{name: "allowed list", allowed: []string{"https://app.test"}, host: "internal:8080", origin: []string{"https://app.test"}, wantOrigin: "https://app.test", wantOK: true},
		{name: "allowed list, upper case", allowed: []string{"https://app.test"}, host: "internal:8080", origin: []string{"https://APP.test"}, wantOrigin: "https://app.test", wantOK: true},
		{name: "allowed list excludes own", allowed: []string{"https://app.test"}, host: "internal:8080", origin: []string{"http://internal:8080"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var normalized []string
			for _, o := range tt.allowed {
				n, err := ticket.ParseOrigin(o)
				if err != nil {
					t.Fatal(err)
				}
				normalized = append(normalized, n)
			}
			r := httptest.NewRequest("POST", "/", nil)
			r.Host = tt.host
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for _, o := range tt.origin {
				r.Header.Add("Origin", o)
			}
			if tt.fetchSite != "" {
				r.Header.Set("Sec-Fetch-Site", tt.fetchSite)
			}
			origin, ok := newOriginCheck(normalized).verify(r)
			if ok != tt.wantOK || (ok && origin != tt.wantOrigin) {
				t.Errorf("verify = %q, %v; want %q, %v", origin, ok, tt.wantOrigin, tt.wantOK)
			}
		})
	}
}
