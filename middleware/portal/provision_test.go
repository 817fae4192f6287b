package portal

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/internal/testenv/pgtest"
	"github.com/keyportal/keyportal/middleware"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/postgres"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

// provisionPolicy: alice administers acme, which owns deployment 42; gina
// administers globex, which owns 77; vera only views acme; initech is
// suspended. Ownership of deployment 500 cannot be read (testenv.Owners).
const provisionPolicy = `
p, admin, *, deployment:*, api_keys:manage
g, alice, admin, acme
g, gina, admin, globex
g, vera, viewer, acme
g, ian, admin, initech
g3, initech, suspended
`

// routeEnv is a ticket route (policy with ownership from the app, the
// portal's issuer) in front of e's portal.
type routeEnv struct {
	*env
	engine *gin.Engine
	log    *lockedBuffer
}

const routeOrigin = "http://example.com" // httptest requests' Host

func newRouteEnv(t *testing.T) *routeEnv {
	t.Helper()
	e := newEnv(t, envOptions{})
	dec, err := policy.New(policy.Config{PolicyText: provisionPolicy, Logger: zerolog.Nop(), Owners: testenv.Owners{
		"deployment:42": "acme", "deployment:77": "globex", "deployment:99": "initech", "deployment:500": "acme",
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := &routeEnv{env: e, engine: gin.New(), log: &lockedBuffer{}}
	err = middleware.Mount(r.engine, middleware.Config{
		Identify: func(c *gin.Context) (middleware.Principal, error) {
			sub, tenant, _ := strings.Cut(c.GetHeader("X-User"), "@")
			if sub == "" {
				return middleware.Principal{}, errors.New("signed out")
			}
			return middleware.Principal{Subject: sub, Tenant: tenant}, nil
		},
		Decider:   dec,
		Issuer:    e.portal.Issuer(),
		Logger:    zerolog.New(r.log),
		RateLimit: middleware.NoRateLimit,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ask posts a ticket request for deployment id as user ("sub@tenant", ""
// for signed out) from origin.
func (r *routeEnv) ask(user, id, origin string) (int, string) {
	req := httptest.NewRequest(http.MethodPost, ticket.DefaultPath, strings.NewReader(`{"deploymentId":"`+id+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", origin)
	if user != "" {
		req.Header.Set("X-User", user)
	}
	w := httptest.NewRecorder()
	r.engine.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

func (r *routeEnv) apps() []keystore.App {
	r.t.Helper()
	apps, err := r.store.ListApps(context.Background(), keystore.AppFilter{IncludeInactive: true})
	if err != nil {
		r.t.Fatal(err)
	}
	return apps
}

// TestProvisionOnlyAfterTheRouteAuthorized attacks provisioning through the
// ticket route: no refused request creates an app; the first authorized one
// does, for the tenant the policy named and the origin the route verified.
func TestProvisionOnlyAfterTheRouteAuthorized(t *testing.T) {
	r := newRouteEnv(t)
	refused := []struct {
		name, user, id, origin string
		status                 int
		reason                 string
	}{
		{"signed out", "", "42", routeOrigin, 401, "unauthenticated"},
		{"cross-site page", "alice@acme", "42", "https://evil.test", 403, "cross_site"},
		{"no role in the tenant", "mallory@acme", "42", routeOrigin, 403, "no_role"},
		{"viewer may not manage keys", "vera@acme", "42", routeOrigin, 403, "denied_by_rule"},
		{"deployment of another tenant", "alice@acme", "77", routeOrigin, 403, "not_owner"},
		{"admin of the owner, acting in another tenant", "gina@acme", "42", routeOrigin, 403, "no_role"},
		{"deployment nobody owns", "alice@acme", "404", routeOrigin, 403, "not_owner"},
		{"suspended tenant", "ian@initech", "99", routeOrigin, 403, "tenant_suspended"},
		{"ownership cannot be read", "alice@acme", "500", routeOrigin, 503, "decider_error"},
	}
	for _, tc := range refused {
		code, body := r.ask(tc.user, tc.id, tc.origin)
		if code != tc.status {
			t.Errorf("%s: status %d (%s), want %d", tc.name, code, body, tc.status)
		}
		if !strings.Contains(r.log.String(), `"reason":"`+tc.reason+`"`) {
			t.Errorf("%s: no event with reason %s in\n%s", tc.name, tc.reason, r.log.String())
		}
		if apps := r.apps(); len(apps) != 0 {
			t.Fatalf("%s: a refused request provisioned %+v", tc.name, apps)
		}
	}

	code, body := r.ask("alice@acme", "42", routeOrigin)
	if code != 200 || !strings.Contains(body, `"ticket":"`) {
		t.Fatalf("authorized first ticket: %d %s", code, body)
	}
	apps := r.apps()
	if len(apps) != 1 {
		t.Fatalf("apps after the first ticket: %+v", apps)
	}
	a := apps[0]
	if a.Slug != "aa_42" || a.DeploymentID != "42" || a.Tenant != "acme" || !slices.Equal(a.AllowedOrigins, []string{routeOrigin}) ||
		a.Name != "API keys for deployment:42" || a.KeyPrefix != "acme" || !a.Usable() {
		t.Fatalf("provisioned app = %+v", a)
	}
	created := r.events("app.created")
	if len(created) != 1 || created[0].Actor != "alice" || created[0].Tenant != "acme" {
		t.Fatalf("app.created events = %+v", created)
	}
	// The second ticket uses the app as it is.
	if code, body := r.ask("alice@acme", "42", routeOrigin); code != 200 {
		t.Fatalf("second ticket: %d %s", code, body)
	}
	if n := len(r.apps()); n != 1 {
		t.Fatalf("%d apps after the second ticket", n)
	}
}

// TestProvisionNeverTakesOverAnApp: an app that exists for another tenant
// (the deployment changed hands, or someone created it by hand) is not
// taken over by the tenant the policy now names; nor is a deleted one
// brought back.
func TestProvisionNeverTakesOverAnApp(t *testing.T) {
	r := newRouteEnv(t)
	r.app("aa_42", "globex", routeOrigin)
	code, body := r.ask("alice@acme", "42", routeOrigin)
	if code != 403 || !strings.Contains(r.log.String(), `"reason":"issuer_rejected"`) {
		t.Fatalf("ticket for globex's app: %d %s", code, body)
	}
	got, err := r.store.GetApp(context.Background(), "aa_42")
	if err != nil || got.Tenant != "globex" {
		t.Fatalf("app after the attempt: %+v, %v", got, err)
	}

	r.app("aa_77", "globex", routeOrigin)
	if err := r.store.DeleteApp(context.Background(), "aa_77", keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	if code, body := r.ask("gina@globex", "77", routeOrigin); code != 403 {
		t.Fatalf("ticket for a deleted app: %d %s", code, body)
	}
	if got, _ := r.store.GetApp(context.Background(), "aa_77"); got.Usable() {
		t.Fatal("a deleted app came back")
	}
}

// TestProvisionOnlyForRouteDecisions: the issuer provisions only for a
// request that carries the route's decision, and not at all with
// NoProvision; NewApp names the app but cannot move it.
func TestProvisionOnlyForRouteDecisions(t *testing.T) {
	e := newEnv(t, envOptions{})
	req := ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", Resource: "42", EmbedderOrigin: originA}
	if _, err := e.portal.Issuer().Issue(context.Background(), req); !errors.Is(err, ticket.ErrRejected) {
		t.Fatalf("a request without the route's decision: %v", err)
	}
	if _, err := e.store.GetApp(context.Background(), "aa_42"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("app created without a decision: %v", err)
	}

	req.Object, req.Action = "deployment:42", "api_keys:manage"
	off, err := New(Config{Store: e.store, BaseURL: e.srv.URL, Logger: zerolog.Nop(), NoProvision: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := off.Issuer().Issue(context.Background(), req); !errors.Is(err, ticket.ErrRejected) {
		t.Fatalf("NoProvision: %v", err)
	}
	if _, err := e.store.GetApp(context.Background(), "aa_42"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("app created with NoProvision: %v", err)
	}

	e.portal.newApp = func(r ticket.Request) keystore.App {
		return keystore.App{Name: "Acme deployment " + r.Resource, KeyPrefix: "acme_live", Tenant: "globex", Slug: "aa_1", AllowedOrigins: []string{originB}}
	}
	e.issue(req)
	a, err := e.store.GetApp(context.Background(), "aa_42")
	if err != nil || a.Name != "Acme deployment 42" || a.KeyPrefix != "acme_live" || a.Tenant != "acme" || !slices.Equal(a.AllowedOrigins, []string{originA}) {
		t.Fatalf("app = %+v, %v", a, err)
	}
}

func TestDefaultKeyPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"acme": "acme", "Acme Corp.": "acme_corp", "ünïcode": "n_code", "---": "key", "": "key",
		strings.Repeat("a", 40): strings.Repeat("a", 32),
	} {
		if got := DefaultKeyPrefix(in); got != want {
			t.Errorf("DefaultKeyPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestProvisionRace sends first tickets for one deployment concurrently
// through two portals on one store (two instances): exactly one app is
// created; with two tenants claiming it, one wins and every request of the
// other is refused.
func TestProvisionRace(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		other, err := New(Config{Store: e.store, BaseURL: e.srv.URL, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		provisionRace(t, e.store, e.portal, other)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := testenv.PostgresDSN(t)
		schema := pgtest.Schema(t, dsn, "kp_provision_")
		var issuers [2]*Portal
		var first keystore.Store
		for i := range issuers {
			st, err := postgres.Open(t.Context(), dsn, keystore.Options{Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if first == nil {
				first = st
			}
			if issuers[i], err = New(Config{Store: st, BaseURL: "https://keys.example.com", Logger: zerolog.Nop()}); err != nil {
				t.Fatal(err)
			}
		}
		provisionRace(t, first, issuers[0], issuers[1])
	})
}

func provisionRace(t *testing.T, store keystore.Store, a, b *Portal) {
	const n = 16
	race := func(slug string, tenants ...string) (issued map[string]int, refused int) {
		issued = map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				p, tenant := a, tenants[i%len(tenants)]
				if i%2 == 1 {
					p = b
				}
				res, err := p.Issuer().Issue(context.Background(), ticket.Request{AppSlug: slug, Tenant: tenant, Subject: "u", Resource: "7",
					Object: "deployment:7", Action: "api_keys:manage", EmbedderOrigin: originA})
				remember(res.Ticket)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					issued[tenant]++
				case errors.Is(err, ticket.ErrRejected):
					refused++
				default:
					t.Errorf("Issue: %v", err)
				}
			})
		}
		wg.Wait()
		return issued, refused
	}
	if issued, refused := race("aa_7", "acme"); issued["acme"] != n || refused != 0 {
		t.Fatalf("one tenant: issued %v, refused %d", issued, refused)
	}
	issued, refused := race("aa_8", "acme", "globex")
	if len(issued) != 1 || refused != n/2 {
		t.Fatalf("two tenants: issued %v, refused %d; want one tenant to win", issued, refused)
	}
	apps, err := store.ListApps(context.Background(), keystore.AppFilter{IncludeInactive: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 2 {
		t.Fatalf("apps = %+v, want aa_7 and aa_8 once each", apps)
	}
	for _, app := range apps {
		if _, won := issued[app.Tenant]; app.Slug == "aa_8" && !won {
			t.Fatalf("aa_8 belongs to %s, but %v got the tickets", app.Tenant, issued)
		}
	}
}
