package middleware

import (
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/ginroute/ginroutetest"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// TestMountConflictIsAnError: a host that already has the ticket route's
// path gets an error from Mount (and from middleware.Mount), not Gin's
// panic.
func TestMountConflictIsAnError(t *testing.T) {
	env := newRouteEnv(t, Config{})
	err := env.route.Mount(env.engine) // the same route twice
	ginroutetest.WantMountError(t, err, "POST "+ticket.DefaultPath)
	e := gin.New()
	e.POST(ticket.DefaultPath, func(*gin.Context) {})
	err = Mount(e, Config{Identify: identifyByHeader, Decider: allowAll, Issuer: &fakeIssuer{}, RateLimit: NoRateLimit})
	ginroutetest.WantMountError(t, err, "POST "+ticket.DefaultPath)
}
