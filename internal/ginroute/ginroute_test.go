package ginroute

import (
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/ginroute/ginroutetest"
)

func init() { gin.SetMode(gin.TestMode) }

func ok(c *gin.Context) { c.Status(204) }

// TestRegisterTurnsGinPanicsIntoErrors: a route the host already has, and
// a pattern Gin refuses, come back as errors naming the route.
func TestRegisterTurnsGinPanicsIntoErrors(t *testing.T) {
	r := gin.New()
	r.GET("/app.js", ok)
	for _, tc := range []struct {
		name string
		r    gin.IRoutes
		rt   Route
		msg  string
	}{
		{"duplicate", r, Route{"GET", "/app.js", []gin.HandlerFunc{ok}}, "GET /app.js: handlers are already registered"},
		{"duplicate under a group", r.Group("/app"), Route{"GET", "/../app.js", []gin.HandlerFunc{ok}}, "GET /app/../app.js"},
		{"bad pattern", r, Route{"GET", "/x/*rest/y", []gin.HandlerFunc{ok}}, "catch-all routes are only allowed at the end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ginroutetest.WantMountError(t, Register(tc.r, "test", tc.rt), tc.msg)
		})
	}
	if err := Register(r.Group("/app"), "test", GetHead("/app.js", ok)...); err != nil {
		t.Fatalf("a group's own /app/app.js: %v", err)
	}
}

func TestFull(t *testing.T) {
	r := gin.New()
	for _, tc := range []struct {
		r          gin.IRoutes
		path, want string
	}{
		{r, "/x", "/x"},
		{r.Group(""), "/x", "/x"},
		{r.Group("/app"), "/x", "/app/x"},
		{r.Group("/app/"), "/x", "/app/x"},
		{r.Group("/app"), "/", "/app"},
	} {
		if got := Full(tc.r, tc.path); got != tc.want {
			t.Errorf("Full(%q, %q) = %q, want %q", Base(tc.r), tc.path, got, tc.want)
		}
	}
}
