// Package ginroutetest holds the assertion the Mount tests of keyportal's
// packages share: a route Gin refuses comes back from Mount as an error
// wrapping ticket.ErrMount that names the route (see package ginroute).
package ginroutetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// WantMountError fails t at once unless err wraps ticket.ErrMount and its
// message holds names: the refused route as "METHOD /path", or another
// part of the reason (for example "already mounted").
func WantMountError(t testing.TB, err error, names string) {
	t.Helper()
	if !errors.Is(err, ticket.ErrMount) || !strings.Contains(err.Error(), names) {
		t.Fatalf("err %v, want ErrMount naming %q", err, names)
	}
}
