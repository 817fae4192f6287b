package middleware

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/demo"
	"github.com/keyportal/keyportal/policy"
)

func TestAuthorize(t *testing.T) {
	engine, err := policy.New(policy.Config{PolicyText: demo.Policy})
	if err != nil {
		t.Fatal(err)
	}
	failing := deciderFunc(func(context.Context, policy.Request) (policy.Decision, error) {
		return policy.Decision{}, errors.New(upstreamDetail)
	})
	tests := []struct {
		name       string
		decider    policy.Decider
		method     string
		path       string
		user       string
		wantStatus int
		wantBody   string
		wantReason string
	}{
		{name: "admin manages keys", method: "POST", path: "/d/42/keys", user: "bob@acme", wantStatus: 200, wantBody: "bob acme admin"},
		{name: "viewer may not manage", method: "POST", path: "/d/42/keys", user: "dave@acme", wantStatus: 403, wantBody: `{"error":"Forbidden"}`, wantReason: "denied_by_rule"},
		{name: "support reads the audit trail", method: "GET", path: "/d/42/keys", user: "erin@acme", wantStatus: 200, wantBody: "erin acme support"},
		{name: "admin of another tenant", method: "POST", path: "/d/42/keys", user: "frank@globex", wantStatus: 403, wantReason: "not_owner"},
		{name: "suspended tenant", method: "POST", path: "/d/99/keys", user: "heidi@initech", wantStatus: 403, wantReason: "tenant_suspended"},
		{name: "not signed in", method: "POST", path: "/d/42/keys", user: "", wantStatus: 401, wantBody: `{"error":"Unauthorized"}`, wantReason: ReasonUnauthenticated},
		{name: "no tenant", method: "POST", path: "/d/42/keys", user: "bob", wantStatus: 403, wantReason: ReasonNoTenant},
		{name: "unmapped method", method: "DELETE", path: "/d/42/keys", user: "bob@acme", wantStatus: 403, wantReason: "no_action"},
		{name: "decider error", decider: failing, method: "POST", path: "/d/42/keys", user: "bob@acme", wantStatus: 503, wantBody: `{"error":"Service unavailable"}`, wantReason: ReasonDeciderError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.decider
			if d == nil {
				d = engine
			}
			log := &syncBuffer{}
			guard, err := Authorize(AuthorizeConfig{
				Identify: identifyByHeader,
				Decider:  d,
				Object:   func(c *gin.Context) string { return "deployment:" + c.Param("id") },
				ActionFunc: func(c *gin.Context) string {
					switch c.Request.Method {
					case http.MethodGet:
						return "audit:read"
					case http.MethodPost:
						return "api_keys:manage"
					}
					return ""
				},
				Logger: zerolog.New(log),
			})
			if err != nil {
				t.Fatal(err)
			}
			r := gin.New()
			r.Handle(tt.method, "/d/:id/keys", guard, func(c *gin.Context) {
				p, ok1 := PrincipalFrom(c)
				dec, ok2 := DecisionFrom(c)
				if !ok1 || !ok2 {
					t.Error("principal or decision missing from the context")
				}
				c.String(200, "%s %s %s", p.Subject, p.Tenant, strings.Join(dec.Roles, ","))
			})
			hr := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.user != "" {
				hr.Header.Set("X-User", tt.user)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, hr)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantBody != "" && w.Body.String() != tt.wantBody {
				t.Errorf("body = %q, want %q", w.Body, tt.wantBody)
			}
			if strings.Contains(w.Body.String(), "db-primary") {
				t.Errorf("body leaks detail: %s", w.Body)
			}
			if tt.wantReason != "" {
				lines := log.lines(t)
				if len(lines) != 1 || lines[0]["event"] != "authorize" || lines[0]["reason"] != tt.wantReason {
					t.Errorf("log = %v, want one authorize event with reason %s", lines, tt.wantReason)
				}
			}
		})
	}
}

func TestAuthorizeConfigErrors(t *testing.T) {
	obj := func(*gin.Context) string { return "x" }
	act := func(*gin.Context) string { return "y" }
	tests := []struct {
		name string
		cfg  AuthorizeConfig
		want string
	}{
		{"no Identify", AuthorizeConfig{Decider: allowAll, Object: obj, Action: "a"}, "middleware: AuthorizeConfig.Identify is required"},
		{"no Decider", AuthorizeConfig{Identify: identifyByHeader, Object: obj, Action: "a"}, "middleware: AuthorizeConfig.Decider is required"},
		{"no Object", AuthorizeConfig{Identify: identifyByHeader, Decider: allowAll, Action: "a"}, "middleware: AuthorizeConfig.Object is required"},
		{"no action", AuthorizeConfig{Identify: identifyByHeader, Decider: allowAll, Object: obj}, "middleware: AuthorizeConfig needs Action or ActionFunc"},
		{"both actions", AuthorizeConfig{Identify: identifyByHeader, Decider: allowAll, Object: obj, Action: "a", ActionFunc: act}, "middleware: AuthorizeConfig takes Action or ActionFunc"},
	}
	for _, tt := range tests {
		if _, err := Authorize(tt.cfg); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestAuthorizeEmptyObject(t *testing.T) {
	called := false
	guard, err := Authorize(AuthorizeConfig{
		Identify: identifyByHeader,
		Decider: deciderFunc(func(context.Context, policy.Request) (policy.Decision, error) {
			called = true
			return policy.Decision{Allowed: true}, nil
		}),
		Object: func(c *gin.Context) string { return c.Query("d") },
		Action: "api_keys:manage",
	})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.GET("/x", guard, func(c *gin.Context) { c.Status(200) })
	hr := httptest.NewRequest("GET", "/x", nil)
	hr.Header.Set("X-User", "bob@acme")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, hr)
	if w.Code != 403 || called {
		t.Errorf("empty object: status %d, decider called %v; want 403 without a decision", w.Code, called)
	}
}

func TestContextAccessorsWithoutGuard(t *testing.T) {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Set("principal", Principal{Subject: "forged"}) // a string key cannot pose as ours
	if _, ok := PrincipalFrom(c); ok {
		t.Error("PrincipalFrom found a principal no guard put there")
	}
	if _, ok := DecisionFrom(c); ok {
		t.Error("DecisionFrom found a decision no guard put there")
	}
}
