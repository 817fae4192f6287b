package ticket

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"
)

func TestRequestScheme(t *testing.T) {
	for _, tc := range []struct {
		tls       bool
		forwarded string
		want      string
	}{
		{false, "", "http"},
		{true, "", "https"},
		{false, "https", "https"},
		{false, " HTTPS , http", "https"},
		{false, "http, https", "http"}, // the first proxy's word counts
		{false, "wss", "http"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if tc.forwarded != "" {
			r.Header.Set("X-Forwarded-Proto", tc.forwarded)
		}
		if got := RequestScheme(r); got != tc.want {
			t.Errorf("TLS %v, X-Forwarded-Proto %q: %q, want %q", tc.tls, tc.forwarded, got, tc.want)
		}
	}
}
