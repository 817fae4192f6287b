package sqlstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/middleware/keystore"
)

// TestAppOriginRule: the store keeps allowed origins in the form the portal
// compares (ticket.ParseOrigin) and refuses, saying why, what the portal
// would never match, such as a wildcard.
func TestAppOriginRule(t *testing.T) {
	a := keystore.App{Slug: "aa_1", Name: "n", KeyPrefix: "p", Tenant: "acme",
		AllowedOrigins: []string{"HTTPS://App.Acme.test:443", "http://localhost:8080/"}}
	if err := validApp(&a); err != nil {
		t.Fatalf("valid origins refused: %v", err)
	}
	if got := strings.Join(a.AllowedOrigins, " "); got != "https://app.acme.test http://localhost:8080" {
		t.Errorf("stored origins %q, want them serialized", got)
	}
	a.AllowedOrigins = []string{"http://*.example"}
	err := validApp(&a)
	if !errors.Is(err, keystore.ErrInvalid) || !strings.Contains(err.Error(), "wildcard") {
		t.Fatalf("http://*.example: err = %v, want ErrInvalid saying wildcards are not origins", err)
	}
}
