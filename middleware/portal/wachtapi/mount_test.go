package wachtapi_test

import (
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/ginroute/ginroutetest"
)

// TestMountConflictIsAnError: mounting the API where its routes already
// are gets an error, not Gin's panic.
func TestMountConflictIsAnError(t *testing.T) {
	w := newWorld(t)
	ginroutetest.WantMountError(t, w.api.Mount(w.engine), "POST /session/tickets")
	// The rate-limit scheme routes too.
	r := gin.New()
	r.PATCH("/api-auth/rate-limit-schemes/:slug", func(*gin.Context) {})
	ginroutetest.WantMountError(t, w.api.Mount(r), "PATCH /api-auth/rate-limit-schemes/:slug")
}
