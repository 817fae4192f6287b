package wacht

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
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

// reportCPU adds cpu-ns/op (testenv.CPUClock): client and in-process
// server together, which ns/op hides once callers run in parallel. Call it
// right before the timed loop.
func reportCPU(b *testing.B) {
	cpu := testenv.StartCPU()
	b.Cleanup(func() { cpu.Report(b, b.N) })
}

// BenchmarkIssue measures one ticket through the Issuer against a local
// server, sequentially and from parallel callers, beside a bare net/http
// POST of the same request over the same transport settings (what net/http
// alone costs).
func BenchmarkIssue(b *testing.B) {
	b.Run("baseline-nethttp", func(b *testing.B) {
		srv := benchServer(b)
		hc := defaultHTTPClient()
		b.Cleanup(hc.CloseIdleConnections)
		body := `{"ticket_type":"api_auth_access","api_auth_app_slug":"aa_42","expires_in":120,"user_id":"alice"}`
		b.ReportAllocs()
		reportCPU(b)
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
		benchIssue(b, newTestClient(b, benchServer(b).URL, Config{}), 1)
	})
	// parallel: one caller per P; parallel32: 32 callers, as keyportal's
	// load test drives the ticket route (wrk, 32 connections).
	b.Run("parallel", func(b *testing.B) {
		benchIssue(b, newTestClient(b, benchServer(b).URL, Config{}), runtime.GOMAXPROCS(0))
	})
	b.Run("parallel32", func(b *testing.B) {
		benchIssue(b, newTestClient(b, benchServer(b).URL, Config{}), 32)
	})
}

// benchIssue issues tickets through c from callers goroutines (1: serially,
// on the benchmark's goroutine), reporting allocations and cpu-ns/op.
func benchIssue(b *testing.B, c *Client, callers int) {
	req := ticket.Request{AppSlug: "aa_42", Subject: "alice", TTL: 120 * time.Second}
	b.ReportAllocs()
	reportCPU(b)
	if callers == 1 {
		ctx := context.Background()
		for b.Loop() {
			if _, err := c.Issue(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := c.Issue(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
