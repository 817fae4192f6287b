package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/demo"
	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

// TestMatrixAgreesWithTicketRoute decides every cell of `policy matrix` for
// the default policy again through the real ticket route (gin handler, real
// policy engine), in a world built to match the cell: a user holding the
// cell's role in a tenant of the cell's status, and an object owned by that
// tenant, by another tenant, or by nobody. Allowed cells must get 200 and a
// ticket; every other cell 403 with the matrix's reason in the audit event.
func TestMatrixAgreesWithTicketRoute(t *testing.T) {
	gin.SetMode(gin.TestMode)
	ctx := context.Background()
	demoEngine, err := policy.New(policy.Config{PolicyText: demo.Policy})
	if err != nil {
		t.Fatal(err)
	}
	cells, err := demoEngine.Matrix(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) == 0 {
		t.Fatal("empty matrix")
	}

	// The world: the demo's permission rows, and for each status a tenant
	// with one user per role and one deployment of its own.
	statuses := []policy.TenantStatus{policy.TenantActive, policy.TenantSuspended, policy.TenantDeleted}
	var world strings.Builder
	for _, line := range strings.Split(demo.Policy, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "p,") {
			world.WriteString(line + "\n")
		}
	}
	roles := map[string]bool{}
	for _, c := range cells {
		roles[c.Role] = true
	}
	for _, st := range statuses {
		tenant := "t-" + string(st)
		fmt.Fprintf(&world, "g3, %s, %s\n", tenant, st)
		fmt.Fprintf(&world, "g2, deployment:own-%s, %s\n", st, tenant)
		for role := range roles {
			if role != "" {
				fmt.Fprintf(&world, "g, u-%s-%s, %s, %s\n", role, st, role, tenant)
			}
		}
	}
	world.WriteString("g3, t-other, active\ng2, deployment:foreign, t-other\n")
	engine, err := policy.New(policy.Config{PolicyText: world.String()})
	if err != nil {
		t.Fatalf("world policy: %v\n%s", err, world.String())
	}

	const origin = "https://app.acme.test"
	var mu sync.Mutex
	var events []audit.Event
	routes := map[string]*gin.Engine{} // by action
	for _, c := range cells {
		if routes[c.Action] != nil {
			continue
		}
		prefix, _, _ := strings.Cut(c.Object, ":")
		route, err := middleware.NewTicketRoute(middleware.Config{
			Identify: func(g *gin.Context) (middleware.Principal, error) {
				return middleware.Principal{Subject: g.GetHeader("X-User"), Tenant: g.GetHeader("X-Tenant")}, nil
			},
			Decider: engine,
			Issuer: ticket.IssuerFunc(func(ctx context.Context, r ticket.Request) (ticket.Response, error) {
				return ticket.Response{Ticket: "tk-" + r.Subject, ExpiresAt: time.Now().Add(time.Minute).Unix(), URL: "https://portal.test/vanity/api-auth"}, nil
			}),
			Auditor: audit.AuditorFunc(func(_ context.Context, e audit.Event) error {
				mu.Lock()
				defer mu.Unlock()
				events = append(events, e)
				return nil
			}),
			Logger:         zerolog.Nop(),
			Action:         c.Action,
			Object:         func(id string) string { return prefix + ":" + id },
			AllowedOrigins: []string{origin},
			RateLimit:      middleware.NoRateLimit,
		})
		if err != nil {
			t.Fatal(err)
		}
		g := gin.New()
		if err := route.Mount(g); err != nil {
			t.Fatal(err)
		}
		routes[c.Action] = g
	}

	allowed := 0
	for _, c := range cells {
		name := fmt.Sprintf("%s/%s/%s/%s", roleName(c.Role), c.Ownership, c.TenantStatus, c.Action)
		user := "nobody"
		if c.Role != "" {
			user = fmt.Sprintf("u-%s-%s", c.Role, c.TenantStatus)
		}
		id := map[policy.Ownership]string{
			policy.OwnershipOwn:     "own-" + string(c.TenantStatus),
			policy.OwnershipOther:   "foreign",
			policy.OwnershipUnknown: "nobodys",
		}[c.Ownership]
		req := httptest.NewRequest(http.MethodPost, ticket.DefaultPath, strings.NewReader(`{"deploymentId":"`+id+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		req.Header.Set("X-User", user)
		req.Header.Set("X-Tenant", "t-"+string(c.TenantStatus))
		w := httptest.NewRecorder()
		mu.Lock()
		events = events[:0]
		mu.Unlock()
		routes[c.Action].ServeHTTP(w, req)

		mu.Lock()
		if len(events) != 1 {
			t.Errorf("%s: %d audit events, want 1", name, len(events))
			mu.Unlock()
			continue
		}
		ev := events[0]
		mu.Unlock()
		switch {
		case c.Decision.Allowed:
			allowed++
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"ticket"`) {
				t.Errorf("%s: matrix says allow, route answered %d %s", name, w.Code, w.Body)
			}
		case w.Code != http.StatusForbidden:
			t.Errorf("%s: matrix says deny (%s), route answered %d %s", name, c.Decision.Reason, w.Code, w.Body)
		case ev.Reason != string(c.Decision.Reason):
			t.Errorf("%s: matrix says %s, route audited %q", name, c.Decision.Reason, ev.Reason)
		}
	}
	// The demo policy allows owner, admin and developer to manage keys and
	// support to read the audit trail, each only in an active tenant on its
	// own deployment: 4 allowed cells. A matrix that allowed nothing would
	// agree with a route that refused everything; this keeps both honest.
	if allowed != 4 {
		t.Errorf("%d allowed cells, want 4 (owner, admin, developer manage keys; support reads audit)", allowed)
	}
}
