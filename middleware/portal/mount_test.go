package portal

import (
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/ginroute/ginroutetest"
)

// TestMountConflictIsAnError: a host that already has one of the portal's
// routes (the keys, overview and access-log APIs among them) gets an error
// from Mount, not Gin's panic.
func TestMountConflictIsAnError(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, path := range []string{PagePath + "/api/keys", PagePath + "/api/overview", PagePath + "/api/access"} {
		r := gin.New()
		r.GET(path, func(*gin.Context) {})
		ginroutetest.WantMountError(t, e.portal.Mount(r), "GET "+path)
	}
}
