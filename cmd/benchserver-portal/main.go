// Command benchserver-portal serves, side by side in one process, the whole
// ticket route (middleware.NewTicketRoute with the portal's local issuer, a
// Casbin decision and the demo policy) and a bare Gin handler answering the
// same JSON, so that wrk can compare them in one run:
//
//	go build -o /tmp/benchserver-portal ./cmd/benchserver-portal
//	/tmp/benchserver-portal -addr 127.0.0.1:7801 &
//	wrk -t2 -c32 -d8s -s cmd/benchserver/post.lua http://127.0.0.1:7801/bare -- 42 alice acme http://127.0.0.1:8080
//	wrk -t2 -c32 -d8s -s cmd/benchserver/post.lua http://127.0.0.1:7801/api/settings/api-keys/embed-ticket -- 42 alice acme http://127.0.0.1:8080
//
// (alice, owner in tenant acme, asks for deployment 42 from the allowed
// embedder origin.)
//
// -audit=store also records every attempt in the SQLite store (durable, one
// fsync per request); the default, -audit=log, writes the audit line to the
// route's logger only (here discarded after formatting). -issuer=static swaps
// the local issuer for a fixed answer, to tell the route's own cost apart.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/cmd/internal/benchserve"
	"github.com/keyportal/keyportal/internal/demo"
	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
	"github.com/keyportal/keyportal/middleware/portal"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

const embedder = "http://127.0.0.1:8080"

func main() {
	addr := flag.String("addr", "127.0.0.1:7801", "listen address")
	auditTo := flag.String("audit", "log", "where the route's audit events go: log, or store (SQLite, durable)")
	issuer := flag.String("issuer", "local", "the route's issuer: local (the portal's), or static (a fixed answer, to tell the route's own cost from the issuer's)")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060)")
	flag.Parse()
	if err := run(*addr, *auditTo, *issuer, *pprofAddr); err != nil {
		log.Fatal(err)
	}
}

func run(addr, auditTo, issuerKind, pprofAddr string) error {
	dir, err := os.MkdirTemp("", "benchserver-portal-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "keyportal.db"), keystore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.CreateApp(context.Background(), keystore.App{
		Slug: "aa_42", Name: "Acme Public API", KeyPrefix: "acme_live", Tenant: "acme",
		AllowedOrigins: []string{embedder},
	}, keystore.Actor{Name: "bench"}); err != nil {
		return err
	}
	p, err := portal.New(portal.Config{Store: store, BaseURL: "http://localhost:8081"})
	if err != nil {
		return err
	}
	decider, err := policy.New(policy.Config{PolicyText: demo.Policy})
	if err != nil {
		return err
	}
	cfg := middleware.Config{
		Identify: func(c *gin.Context) (middleware.Principal, error) {
			return middleware.Principal{Subject: c.GetHeader("X-User"), Tenant: c.GetHeader("X-Tenant")}, nil
		},
		Decider:        decider,
		Issuer:         p.Issuer(),
		Logger:         zerolog.New(io.Discard).With().Timestamp().Logger(),
		AllowedOrigins: []string{embedder},
		RateLimit:      middleware.NoRateLimit,
	}
	// A ticket as the route answers it: the static issuer's fixed answer, and
	// the shape and size of the bare handler's.
	sample, err := p.Issuer().Issue(context.Background(), ticket.Request{
		AppSlug: "aa_42", Tenant: "acme", Subject: "alice", Resource: "42", EmbedderOrigin: embedder,
	})
	if err != nil {
		return err
	}
	switch issuerKind {
	case "local":
	case "static":
		cfg.Issuer = ticket.IssuerFunc(func(context.Context, ticket.Request) (ticket.Response, error) { return sample, nil })
	default:
		return fmt.Errorf("-issuer must be local or static, got %q", issuerKind)
	}
	switch auditTo {
	case "log":
	case "store":
		cfg.Auditor = store
	default:
		return fmt.Errorf("-audit must be log or store, got %q", auditTo)
	}
	route, err := middleware.NewTicketRoute(cfg)
	if err != nil {
		return err
	}

	gin.SetMode(gin.ReleaseMode)
	g := gin.New()
	if err := route.Mount(g); err != nil {
		return err
	}
	// The bare handler answers a body of the same shape and size.
	fixed := ticket.Response{Ticket: strings.Repeat("x", len(sample.Ticket)), ExpiresAt: sample.ExpiresAt, URL: p.TicketURL(strings.Repeat("x", len(sample.Ticket)))}
	g.POST("/bare", func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, fixed)
	})
	log.Printf("benchserver-portal on http://%s (audit=%s, issuer=%s): POST /bare and POST %s", addr, auditTo, issuerKind, route.Path())
	return benchserve.Serve(addr, g, pprofAddr)
}
