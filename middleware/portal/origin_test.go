package portal

import (
	"testing"

	"github.com/keyportal/keyportal/middleware/keystore"
)

func TestOriginAllowed(t *testing.T) {
	app := keystore.App{AllowedOrigins: []string{"https://app.acme.test", "HTTP://Localhost:8080", "not an origin", "http://*.acme.test"}}
	tests := []struct {
		name, origin string
		want         bool
	}{
		{"listed as is", "https://app.acme.test", true},
		{"listed in another spelling", "http://localhost:8080", true},
		{"another port", "http://localhost:8081", false},
		{"another scheme", "http://app.acme.test", false},
		{"a malformed entry matches nothing", "not an origin", false},
		{"a wildcard entry matches nothing", "http://x.acme.test", false},
		{"a wildcard entry does not match itself", "http://*.acme.test", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := originAllowed(app, tt.origin); got != tt.want {
				t.Errorf("originAllowed(%q) = %v, want %v", tt.origin, got, tt.want)
			}
		})
	}
	if got := allowedOrigins(app); len(got) != 2 || got[0] != "https://app.acme.test" || got[1] != "http://localhost:8080" {
		t.Errorf("allowedOrigins = %q, want the two origins serialized", got)
	}
}

// TestOriginAllowedAllocatesNothing: the check on every API call compares a
// serialized origin against serialized stored ones without allocating.
func TestOriginAllowedAllocatesNothing(t *testing.T) {
	app := keystore.App{AllowedOrigins: []string{"https://other.acme.test", "http://127.0.0.1:8080", "https://app.acme.test"}}
	if n := testing.AllocsPerRun(100, func() {
		if !originAllowed(app, "https://app.acme.test") {
			t.Fatal("not allowed")
		}
	}); n != 0 {
		t.Errorf("originAllowed allocates %v times, want 0", n)
	}
}
