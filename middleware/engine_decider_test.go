package middleware

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/demo"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/policy"
)

// The route tests above use fake deciders. These run the ticket route and
// Authorize on a real policy.Engine whose tenant status comes from the host
// app, so that a failing or ignorant tenant table is refused end to end: an
// error from the app's TenantStatuser must close the route (503, no ticket),
// and a tenant the app does not know must be denied (403, no ticket).

// tenantTable is a host app's tenant table: tenants not in m are unknown to
// it, and when err is set every lookup fails with it.
type tenantTable struct {
	m   map[string]policy.TenantStatus
	err error
}

func (tt tenantTable) TenantStatus(_ context.Context, tenant string) (policy.TenantStatus, error) {
	if tt.err != nil {
		return "", tt.err
	}
	if st, ok := tt.m[tenant]; ok {
		return st, nil
	}
	return policy.TenantUnknown, nil
}

var (
	acmeActive    = tenantTable{m: map[string]policy.TenantStatus{"acme": policy.TenantActive}}
	tenantsDown   = tenantTable{err: errors.New(upstreamDetail)}
	tenantsEmpty  = tenantTable{m: map[string]policy.TenantStatus{}}
	tenantsGlobex = tenantTable{m: map[string]policy.TenantStatus{"globex": policy.TenantActive}}
)

// engineWithTenants is the demo policy with tenant status from tenants.
func engineWithTenants(t *testing.T, tenants policy.TenantStatuser) *policy.Engine {
	t.Helper()
	e, err := policy.New(policy.Config{PolicyText: demo.Policy, Tenants: tenants})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestPolicyEngineWithAppTenants(t *testing.T) {
	unknown := string(policy.ReasonUnknownTenant)
	tests := []struct {
		name    string
		tenants tenantTable
		status  int    // of the ticket route and of Authorize
		reason  string // audited by the route; logged by Authorize when it refuses
	}{
		// alice owns deployment 42 in acme: with acme active she passes,
		// which shows the refusals below come from the tenant table.
		{"tenant active", acmeActive, 200, ReasonIssued},
		{"tenant table fails: closed", tenantsDown, 503, ReasonDeciderError},
		{"tenant table is empty: unknown tenant", tenantsEmpty, 403, unknown},
		{"tenant table knows other tenants only: unknown tenant", tenantsGlobex, 403, unknown},
	}
	bodies := map[int]string{503: `{"error":"Service unavailable"}`, 403: `{"error":"Forbidden"}`}
	for _, tt := range tests {
		t.Run(tt.name+"/ticket route", func(t *testing.T) {
			env := newRouteEnv(t, Config{Decider: engineWithTenants(t, tt.tenants)})
			w := env.do(req{user: "alice@acme"})
			if w.Code != tt.status || (tt.status != 200 && w.Body.String() != bodies[tt.status]) {
				t.Fatalf("got %d %s, want %d %s", w.Code, w.Body, tt.status, bodies[tt.status])
			}
			wantOutcome := map[int]string{200: audit.OutcomeIssued, 403: audit.OutcomeDenied, 503: audit.OutcomeError}[tt.status]
			if ev := env.log.onlyAudit(t); ev["reason"] != tt.reason || ev["outcome"] != wantOutcome {
				t.Errorf("audit reason %v outcome %v, want %s %s", ev["reason"], ev["outcome"], tt.reason, wantOutcome)
			}
			if issued := env.issuer.callCount(); (issued == 1) != (tt.status == 200) || issued > 1 {
				t.Errorf("issuer called %d times", issued)
			}
		})
		t.Run(tt.name+"/Authorize", func(t *testing.T) {
			log := &syncBuffer{}
			guard, err := Authorize(AuthorizeConfig{
				Identify: identifyByHeader,
				Decider:  engineWithTenants(t, tt.tenants),
				Object:   func(c *gin.Context) string { return "deployment:" + c.Param("id") },
				Action:   "api_keys:manage",
				Logger:   zerolog.New(log),
			})
			if err != nil {
				t.Fatal(err)
			}
			reached := false
			r := gin.New()
			r.POST("/d/:id/keys", guard, func(c *gin.Context) { reached = true; c.Status(200) })
			hr := httptest.NewRequest("POST", "/d/42/keys", nil)
			hr.Header.Set("X-User", "alice@acme")
			w := httptest.NewRecorder()
			r.ServeHTTP(w, hr)
			if w.Code != tt.status || reached != (tt.status == 200) || (tt.status != 200 && w.Body.String() != bodies[tt.status]) {
				t.Fatalf("got %d %s, handler reached %v; want %d", w.Code, w.Body, reached, tt.status)
			}
			if tt.status == 200 {
				return
			}
			var got string
			for _, l := range log.lines(t) {
				if l["event"] == "authorize" {
					got, _ = l["reason"].(string)
				}
			}
			if got != tt.reason {
				t.Errorf("logged reason %q, want %q", got, tt.reason)
			}
		})
	}
}
