package middleware

import (
	"errors"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// TestMountConflictIsAnError: a host that already has the ticket route's
// path gets an error from Mount (and from middleware.Mount), not Gin's
// panic.
func TestMountConflictIsAnError(t *testing.T) {
	env := newRouteEnv(t, Config{})
	err := env.route.Mount(env.engine) // the same route twice
	if !errors.Is(err, ticket.ErrMount) || !strings.Contains(err.Error(), "POST "+ticket.DefaultPath) {
		t.Fatalf("err %v, want ErrMount naming POST %s", err, ticket.DefaultPath)
	}
	e := gin.New()
	e.POST(ticket.DefaultPath, func(*gin.Context) {})
	err = Mount(e, Config{Identify: identifyByHeader, Decider: allowAll, Issuer: &fakeIssuer{}, RateLimit: NoRateLimit})
	if !errors.Is(err, ticket.ErrMount) {
		t.Fatalf("middleware.Mount: %v, want ErrMount", err)
	}
}
