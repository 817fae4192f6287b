package wachtapi_test

import (
	"errors"
	"strings"
	"testing"

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
}
