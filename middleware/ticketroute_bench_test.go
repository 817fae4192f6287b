package middleware

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/demo"
	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

// benchRoute measures one issued ticket through the whole route, audit line
// formatted (to io.Discard) included; the issuer answers a fixed ticket so
// that only the route's own cost and the decider's are measured.
func benchRoute(b *testing.B, decider policy.Decider) {
	fixed := ticket.Response{Ticket: "tk_fixed", ExpiresAt: 1_900_000_000, URL: "https://portal.test/vanity/api-auth?ticket=tk_fixed"}
	issuer := ticket.IssuerFunc(func(context.Context, ticket.Request) (ticket.Response, error) { return fixed, nil })
	route, err := NewTicketRoute(Config{
		Identify:  func(*gin.Context) (Principal, error) { return Principal{Subject: "alice", Tenant: "acme"}, nil },
		Decider:   decider,
		Issuer:    issuer,
		Logger:    zerolog.New(io.Discard),
		RateLimit: NoRateLimit,
	})
	if err != nil {
		b.Fatal(err)
	}
	engine := gin.New()
	if err := route.Mount(engine); err != nil {
		b.Fatal(err)
	}
	const body = `{"deploymentId":"42"}`
	r, _ := http.NewRequest(http.MethodPost, "http://example.com"+ticket.DefaultPath, nil)
	r.Host = "example.com"
	r.RemoteAddr = "127.0.0.1:5555"
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Origin", testOrigin)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	w := &testenv.DiscardWriter{}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.Body = io.NopCloser(strings.NewReader(body))
		r.ContentLength = int64(len(body))
		w.Reset()
		engine.ServeHTTP(w, r)
		if w.Status != http.StatusOK {
			b.Fatalf("status %d", w.Status)
		}
	}
}

func BenchmarkTicketRoute(b *testing.B) { benchRoute(b, allowAll) }

func BenchmarkTicketRouteDemoPolicy(b *testing.B) {
	engine, err := policy.New(policy.Config{PolicyText: demo.Policy})
	if err != nil {
		b.Fatal(err)
	}
	benchRoute(b, engine)
}
