package middleware

import (
	"fmt"
	"strings"
	"testing"
)

// TestTicketRouteBodySizeBoundary: a body of exactly MaxBodyBytes is read,
// one byte more is refused with 413, whether its length is declared or the
// body is chunked.
func TestTicketRouteBodySizeBoundary(t *testing.T) {
	body := func(n int) string {
		const id = `{"deploymentId":"42"}`
		return id + strings.Repeat(" ", n-len(id))
	}
	for _, tc := range []struct {
		size    int
		chunked bool
		want    int
	}{
		{MaxBodyBytes, false, 200},
		{MaxBodyBytes + 1, false, 413},
		{MaxBodyBytes, true, 200},
		{MaxBodyBytes + 1, true, 413},
	} {
		t.Run(fmt.Sprintf("%d bytes, chunked %v", tc.size, tc.chunked), func(t *testing.T) {
			env := newRouteEnv(t, Config{})
			if w := env.do(req{body: body(tc.size), chunked: tc.chunked}); w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
		})
	}
}
