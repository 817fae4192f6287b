package portal

import (
	"errors"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// TestMountConflictIsAnError: a host that already has one of the portal's
// routes gets an error from Mount, not Gin's panic.
func TestMountConflictIsAnError(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := gin.New()
	r.GET(PagePath+"/api/keys", func(*gin.Context) {})
	err := e.portal.Mount(r)
	if !errors.Is(err, ticket.ErrMount) || !strings.Contains(err.Error(), "GET "+PagePath+"/api/keys") {
		t.Fatalf("err %v, want ErrMount naming GET %s/api/keys", err, PagePath)
	}
	// The overview and access-log routes too.
	for _, path := range []string{PagePath + "/api/overview", PagePath + "/api/access"} {
		r := gin.New()
		r.GET(path, func(*gin.Context) {})
		if err := e.portal.Mount(r); !errors.Is(err, ticket.ErrMount) || !strings.Contains(err.Error(), "GET "+path) {
			t.Errorf("err %v, want ErrMount naming GET %s", err, path)
		}
	}
}
