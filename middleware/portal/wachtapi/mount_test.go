package wachtapi_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// TestMountConflictIsAnError: mounting the API where its routes already
// are gets an error, not Gin's panic.
func TestMountConflictIsAnError(t *testing.T) {
	w := newWorld(t)
	err := w.api.Mount(w.engine)
	if !errors.Is(err, ticket.ErrMount) || !strings.Contains(err.Error(), "POST /session/tickets") {
		t.Fatalf("err %v, want ErrMount naming POST /session/tickets", err)
	}
	// The rate-limit scheme routes too.
	r := gin.New()
	r.PATCH("/api-auth/rate-limit-schemes/:slug", func(*gin.Context) {})
	if err := w.api.Mount(r); !errors.Is(err, ticket.ErrMount) || !strings.Contains(err.Error(), "PATCH /api-auth/rate-limit-schemes/:slug") {
		t.Fatalf("err %v, want ErrMount naming PATCH /api-auth/rate-limit-schemes/:slug", err)
	}
}
