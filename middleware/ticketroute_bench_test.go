//go:build unix

package middleware

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/demo"
	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/middleware/wacht"
	"github.com/keyportal/keyportal/policy"
)

// BenchmarkTicketRoute measures one issued ticket through the whole route,
// side by side in one run with its floor: a Gin handler that only reads the
// body, calls the same issuer and answers its JSON, with no check, audit or
// metrics (cmd/benchserver's -handler forward). cpu-ns/op is the process's
// CPU time per ticket, which other processes on a shared machine do not
// inflate; route's minus floor's is what the route's own steps cost.
//
// The route writes its audit lines to a file, as cmd/benchserver does; the
// issuer answers a fixed ticket, or, when
// KEYPORTAL_STUB_WACHT_URL names a running stub-wacht (see TestStubWacht in
// middleware/wacht), is the Wacht client against it, the upstream's CPU
// then being another process's:
//
//	go test ./middleware -run '^$' -bench 'TicketRoute$' -benchmem -count 3
func BenchmarkTicketRoute(b *testing.B) {
	issuers := map[string]func(b *testing.B) ticket.Issuer{"fixed": fixedIssuer}
	if base := os.Getenv("KEYPORTAL_STUB_WACHT_URL"); base != "" {
		issuers["wacht"] = func(b *testing.B) ticket.Issuer { return benchWacht(b, base) }
	}
	for _, name := range []string{"fixed", "wacht"} {
		issuer, ok := issuers[name]
		if !ok {
			continue
		}
		b.Run("issuer="+name+"/floor", func(b *testing.B) { benchHandler(b, forwardOnly(issuer(b))) })
		b.Run("issuer="+name+"/route", func(b *testing.B) { benchHandler(b, benchRoute(b, allowAll, issuer(b))) })
	}
}

// BenchmarkTicketRouteDemoPolicy is the route with the real Casbin engine
// over the demo policy deciding.
func BenchmarkTicketRouteDemoPolicy(b *testing.B) {
	engine, err := policy.New(policy.Config{PolicyText: demo.Policy})
	if err != nil {
		b.Fatal(err)
	}
	benchHandler(b, benchRoute(b, engine, fixedIssuer(b)))
}

// fixedIssuer answers one fixed ticket, so that only the route's own cost
// and the decider's are measured.
func fixedIssuer(*testing.B) ticket.Issuer {
	fixed := ticket.Response{Ticket: "tk_fixed", ExpiresAt: 1_900_000_000, URL: "https://portal.test/vanity/api-auth?ticket=tk_fixed"}
	return ticket.IssuerFunc(func(context.Context, ticket.Request) (ticket.Response, error) { return fixed, nil })
}

// benchWacht is the Wacht client against the stub-wacht at base.
func benchWacht(b *testing.B, base string) ticket.Issuer {
	c, err := wacht.New(wacht.Config{APIKey: "sk_test_peer", BaseURL: base})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.CloseIdleConnections)
	return c
}

// benchRoute is the route as cmd/benchserver serves it: no rate limit, the
// audit lines written to a log file through a BufferedLog.
func benchRoute(b *testing.B, decider policy.Decider, issuer ticket.Issuer) gin.HandlerFunc {
	logFile, err := os.Create(filepath.Join(b.TempDir(), "audit.log"))
	if err != nil {
		b.Fatal(err)
	}
	auditLog := NewBufferedLog(logFile, 0)
	b.Cleanup(func() {
		if err := auditLog.Close(); err != nil {
			b.Error(err)
		}
		logFile.Close()
	})
	route, err := NewTicketRoute(Config{
		Identify:  func(*gin.Context) (Principal, error) { return Principal{Subject: "alice", Tenant: "acme"}, nil },
		Decider:   decider,
		Issuer:    issuer,
		Logger:    zerolog.New(auditLog).With().Timestamp().Logger(),
		RateLimit: NoRateLimit,
	})
	if err != nil {
		b.Fatal(err)
	}
	return route.Handler()
}

// forwardOnly is the floor: the body's id to the issuer, its answer back.
func forwardOnly(issuer ticket.Issuer) gin.HandlerFunc {
	return func(c *gin.Context) {
		var in struct {
			DeploymentID string `json:"deploymentId"`
		}
		if err := c.ShouldBindJSON(&in); err != nil || in.DeploymentID == "" {
			c.AbortWithStatus(http.StatusBadRequest)
			return
		}
		resp, err := issuer.Issue(c.Request.Context(), ticket.Request{AppSlug: "aa_" + in.DeploymentID, TTL: 120 * time.Second})
		if err != nil {
			c.AbortWithStatus(http.StatusBadGateway)
			return
		}
		c.JSON(http.StatusOK, resp)
	}
}

// benchHandler serves one browser's ticket request after another through h
// on the route's path, reporting allocations and cpu-ns/op.
func benchHandler(b *testing.B, h gin.HandlerFunc) {
	engine := gin.New()
	// As cmd/benchserver: no proxy in front, the client is the connection.
	if err := engine.SetTrustedProxies(nil); err != nil {
		b.Fatal(err)
	}
	engine.POST(ticket.DefaultPath, h)
	const body = `{"deploymentId":"42"}`
	// net/http serves each request with a context it cancels when the
	// connection ends.
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://example.com"+ticket.DefaultPath, nil)
	r.Host = "example.com"
	r.RemoteAddr = "127.0.0.1:5555"
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Origin", testOrigin)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	w := &testenv.DiscardWriter{}
	b.ReportAllocs()
	cpu := testenv.StartCPU()
	for b.Loop() {
		r.Body = io.NopCloser(strings.NewReader(body))
		r.ContentLength = int64(len(body))
		w.Reset()
		engine.ServeHTTP(w, r)
		if w.Status != http.StatusOK {
			b.Fatalf("status %d", w.Status)
		}
	}
	cpu.Report(b, b.N)
}
