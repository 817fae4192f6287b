package wacht

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// benchServer answers every ticket request with the same small body, so the
// benchmark measures the client and the loopback round trip.
func benchServer(b *testing.B) *httptest.Server {
	body := []byte(`{"ticket":"5n2Jc1dGvQ9a7KqXo0sTzY4rLwP8mEhB3uFiVgNkR6A","expires_at":1800000120,"url":"https://example.wacht.services/vanity/api-auth?ticket=5n2Jc1dGvQ9a7KqXo0sTzY4rLwP8mEhB3uFiVgNkR6A"}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkIssue measures one ticket through the Issuer against a local
// server, sequentially and from parallel callers, beside a bare net/http POST
// of the same request (the floor: what the client adds is the difference).
func BenchmarkIssue(b *testing.B) {
	req := ticket.Request{AppSlug: "aa_42", Subject: "alice", TTL: 120e9}
	b.Run("baseline-nethttp", func(b *testing.B) {
		srv := benchServer(b)
		hc := defaultHTTPClient()
		b.Cleanup(hc.CloseIdleConnections)
		body := `{"ticket_type":"api_auth_access","api_auth_app_slug":"aa_42","expires_in":120,"user_id":"alice"}`
		b.ReportAllocs()
		for b.Loop() {
			r, _ := http.NewRequest(http.MethodPost, srv.URL+"/session/tickets", strings.NewReader(body))
			r.Header.Set("Authorization", "Bearer "+testAPIKey)
			r.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(r)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.Run("serial", func(b *testing.B) {
		c := newTestClient(b, benchServer(b).URL, Config{})
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Issue(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		c := newTestClient(b, benchServer(b).URL, Config{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				if _, err := c.Issue(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
