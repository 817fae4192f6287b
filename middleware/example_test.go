package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/demo"
	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

// demoDecider is the demo app's policy (internal/demo) as a Decider.
func demoDecider() *policy.Engine {
	decider, err := policy.New(policy.Config{PolicyText: demo.Policy})
	if err != nil {
		panic(err)
	}
	return decider
}

func ExampleMount() {
	gin.SetMode(gin.ReleaseMode)
	decider := demoDecider()
	r := gin.New()
	err := middleware.Mount(r, middleware.Config{
		// The app's own session; here a header stands in for it.
		Identify: func(c *gin.Context) (middleware.Principal, error) {
			if c.GetHeader("X-Demo-User") != "alice" {
				return middleware.Principal{}, errors.New("not signed in")
			}
			return middleware.Principal{Subject: "alice", Tenant: "acme"}, nil
		},
		Decider: decider,
		Issuer: ticket.IssuerFunc(func(_ context.Context, req ticket.Request) (ticket.Response, error) {
			return ticket.Response{Ticket: "t-123", ExpiresAt: 1_900_000_000, URL: "https://portal.example/vanity/api-auth?ticket=t-123"}, nil
		}),
		Logger: zerolog.Nop(),
	})
	if err != nil {
		panic(err)
	}

	req := httptest.NewRequest(http.MethodPost, "/api/settings/api-keys/embed-ticket", strings.NewReader(`{"deploymentId":"42"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://example.com") // the browser's, same origin
	req.Header.Set("X-Demo-User", "alice")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	fmt.Println(w.Code, w.Header().Get("Cache-Control"))
	// Output: 200 no-store
}

func ExampleNewTicketRoute() {
	gin.SetMode(gin.ReleaseMode)
	decider := demoDecider()
	route, err := middleware.NewTicketRoute(middleware.Config{
		Identify: func(*gin.Context) (middleware.Principal, error) {
			return middleware.Principal{Subject: "bob", Tenant: "acme"}, nil
		},
		Decider: decider,
		Issuer: ticket.IssuerFunc(func(_ context.Context, req ticket.Request) (ticket.Response, error) {
			fmt.Println("issuing for", req.AppSlug, "framed by", req.EmbedderOrigin)
			return ticket.Response{Ticket: "t-1", ExpiresAt: 1_900_000_000, URL: "https://portal.example/?ticket=t-1"}, nil
		}),
		Logger:         zerolog.Nop(),
		AllowedOrigins: []string{"https://app.acme.example"}, // the app is behind a proxy
		TTL:            5 * time.Minute,
	})
	if err != nil {
		panic(err)
	}
	r := gin.New()
	api := r.Group("/", middleware.SecurityHeaders())
	if err := route.Mount(api); err != nil {
		panic(err)
	}

	for _, origin := range []string{"https://app.acme.example", "https://evil.example"} {
		req := httptest.NewRequest(http.MethodPost, route.Path(), strings.NewReader(`{"deploymentId":43}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Println(origin, w.Code)
	}
	// Output:
	// issuing for aa_43 framed by https://app.acme.example
	// https://app.acme.example 200
	// https://evil.example 403
}

func ExampleAuthorize() {
	gin.SetMode(gin.ReleaseMode)
	decider := demoDecider()
	guard, err := middleware.Authorize(middleware.AuthorizeConfig{
		Identify: func(c *gin.Context) (middleware.Principal, error) {
			return middleware.Principal{Subject: c.GetHeader("X-Demo-User"), Tenant: "acme"}, nil
		},
		Decider: decider,
		Object:  func(c *gin.Context) string { return "deployment:" + c.Param("id") },
		Action:  "api_keys:manage",
	})
	if err != nil {
		panic(err)
	}
	r := gin.New()
	r.GET("/deployments/:id/keys", guard, func(c *gin.Context) {
		p, _ := middleware.PrincipalFrom(c)
		d, _ := middleware.DecisionFrom(c)
		c.String(http.StatusOK, "%s may, by %s", p.Subject, d.Rule)
	})

	for _, user := range []string{"bob", "dave"} {
		req := httptest.NewRequest(http.MethodGet, "/deployments/42/keys", nil)
		req.Header.Set("X-Demo-User", user)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Println(user, w.Code, w.Body)
	}
	// Output:
	// bob 200 bob may, by p, admin, *, deployment:*, api_keys:manage
	// dave 403 {"error":"Forbidden"}
}

func ExampleSecurityHeaders() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(middleware.SecurityHeaders())
	r.GET("/settings", func(c *gin.Context) { c.String(http.StatusOK, "settings") })
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/settings", nil))
	fmt.Println(w.Header().Get("Content-Security-Policy"))
	fmt.Println(w.Header().Get("X-Frame-Options"))
	// Output:
	// frame-ancestors 'none'
	// DENY
}
