package wacht

import (
	"context"
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// TestStubWacht runs the Issuer against the load-test upstream (stub-wacht,
// in the peers' directory $PEERS), when KEYPORTAL_STUB_WACHT_URL names a
// running one:
//
//	(cd "$PEERS/stub-wacht" && go build -o /tmp/stub-wacht .) && /tmp/stub-wacht -addr 127.0.0.1:7700 &
//	KEYPORTAL_STUB_WACHT_URL=http://127.0.0.1:7700 go test -run StubWacht ./middleware/wacht
func TestStubWacht(t *testing.T) {
	base := os.Getenv("KEYPORTAL_STUB_WACHT_URL")
	if base == "" {
		t.Skip("KEYPORTAL_STUB_WACHT_URL not set; start stub-wacht to run this test")
	}
	c := newTestClient(t, base, Config{})
	ctx := context.Background()

	start := time.Now()
	resp, err := c.Issue(ctx, ticket.Request{AppSlug: "aa_42", Subject: "alice", TTL: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Ticket) != 43 || resp.URL == "" {
		t.Errorf("response = ticket of %d chars, url %q", len(resp.Ticket), resp.URL)
	}
	if want := start.Add(90 * time.Second).Unix(); resp.ExpiresAt < want-2 || resp.ExpiresAt > want+2 {
		t.Errorf("expires_at = %d, want about %d", resp.ExpiresAt, want)
	}

	// The stub refuses other ticket types with 400 {"error":"bad request"}.
	_, err = c.CreateTicket(ctx, TicketRequest{Type: TicketImpersonation, UserID: "alice"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 400 || len(ae.Messages) != 1 || ae.Messages[0] != "bad request" {
		t.Fatalf("err = %v", err)
	}
}

// BenchmarkStubWacht measures Issue against a running stub-wacht (see
// TestStubWacht). With the upstream in another process, cpu-ns/op is the
// client's CPU alone.
func BenchmarkStubWacht(b *testing.B) {
	base := os.Getenv("KEYPORTAL_STUB_WACHT_URL")
	if base == "" {
		b.Skip("KEYPORTAL_STUB_WACHT_URL not set")
	}
	b.Run("serial", func(b *testing.B) {
		benchIssue(b, newTestClient(b, base, Config{}), 1)
	})
	b.Run("parallel", func(b *testing.B) {
		benchIssue(b, newTestClient(b, base, Config{}), runtime.GOMAXPROCS(0))
	})
}
