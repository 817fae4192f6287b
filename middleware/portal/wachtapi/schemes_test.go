package wachtapi_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/internal/testenv/redistest"
	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/middleware/portal/wachtapi"
	"github.com/keyportal/keyportal/middleware/wacht"
)

type schemeWire struct {
	ID           string `json:"id"`
	DeploymentID string `json:"deployment_id"`
	Slug         string `json:"slug"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	Rules        []struct {
		Unit        string   `json:"unit"`
		Duration    int      `json:"duration"`
		MaxRequests int      `json:"max_requests"`
		Mode        string   `json:"mode"`
		Endpoints   []string `json:"endpoints"`
		Priority    int      `json:"priority"`
	} `json:"rules"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func rule(unit string, duration, max int, extra ...any) map[string]any {
	r := map[string]any{"unit": unit, "duration": duration, "max_requests": max}
	for i := 0; i+1 < len(extra); i += 2 {
		r[extra[i].(string)] = extra[i+1]
	}
	return r
}

// schemeCall sends one request to the scheme API and checks its status.
func schemeCall(t *testing.T, w *world, method, path string, body any, want int) []byte {
	t.Helper()
	status, b, _ := w.do(method, path, "Bearer "+backendKey, body)
	if status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	return b
}

func TestSchemesAPI(t *testing.T) {
	w := newWorld(t)
	const base = "/api-auth/rate-limit-schemes"
	b := schemeCall(t, w, "POST", base, map[string]any{"slug": "standard", "name": "Standard", "description": "d",
		"rules": []any{rule("minute", 1, 100, "mode", "per_key"), rule("second", 1, 5, "mode", "per_key_and_ip",
			"endpoints", []string{"/v1/admin/*"}, "priority", 10)}}, 200)
	var x schemeWire
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(x.ID, "rls_") || x.Slug != "standard" || x.Name != "Standard" || len(x.Rules) != 2 ||
		x.Rules[1].Mode != "per_key_and_ip" || x.Rules[1].Endpoints[0] != "/v1/admin/*" || x.Rules[1].Priority != 10 ||
		x.Rules[0].MaxRequests != 100 || !strings.HasSuffix(x.CreatedAt, "Z") {
		t.Fatalf("created %s", b)
	}
	schemeCall(t, w, "POST", base, map[string]any{"slug": "standard", "name": "Again"}, 409)

	for _, tc := range []struct {
		name string
		body any
		msg  string
	}{
		{"no slug", map[string]any{"name": "x"}, "slug is required"},
		{"no name", map[string]any{"slug": "x"}, "name is required"},
		{"bad slug", map[string]any{"slug": "Not A Slug", "name": "x"}, "slug"},
		{"zero max", map[string]any{"slug": "x", "name": "x", "rules": []any{rule("minute", 1, 0)}}, "rules[0].max_requests must be positive"},
		{"calendar unit of two", map[string]any{"slug": "x", "name": "x", "rules": []any{rule("calendar_day", 2, 1)}}, "rules[0].duration must be 1"},
		{"bad unit", map[string]any{"slug": "x", "name": "x", "rules": []any{rule("week", 1, 1)}}, "rules[0].unit must be one of"},
		{"bad mode", map[string]any{"slug": "x", "name": "x", "rules": []any{rule("minute", 1, 1, "mode", "per_user")}}, "rules[0].mode"},
		{"bad endpoint", map[string]any{"slug": "x", "name": "x", "rules": []any{rule("minute", 1, 1, "endpoints", []string{"v1/*/x"})}}, "rules[0].endpoints[0]"},
		{"misspelt member", map[string]any{"slug": "x", "name": "x", "rules": []any{rule("minute", 1, 1, "endpoint", []string{"/v1/x"})}}, `unknown field \"endpoint\"`},
		{"rules not a list", map[string]any{"slug": "x", "name": "x", "rules": "fast"}, "rules"},
		{"duration as text", map[string]any{"slug": "x", "name": "x", "rules": []any{rule("minute", 1, 1, "duration", "1")}}, "duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := w.do("POST", base, "Bearer "+backendKey, tc.body)
			wantError(t, tc.name, status, body, 400)
			if !strings.Contains(string(body), tc.msg) {
				t.Errorf("%s: body %s does not say %q", tc.name, body, tc.msg)
			}
		})
	}

	var list struct {
		Schemes []schemeWire `json:"schemes"`
	}
	if err := json.Unmarshal(schemeCall(t, w, "GET", base, nil, 200), &list); err != nil || len(list.Schemes) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	schemeCall(t, w, "GET", base+"/standard", nil, 200)
	schemeCall(t, w, "GET", base+"/nope", nil, 404)
	if status, _, _ := w.do("GET", base, "", nil); status != 401 {
		t.Fatalf("list without the backend key: %d, want 401", status)
	}

	b = schemeCall(t, w, "PATCH", base+"/standard", map[string]any{"rules": []any{rule("hour", 1, 7, "mode", "per_app")}}, 200)
	if err := json.Unmarshal(b, &x); err != nil || len(x.Rules) != 1 || x.Rules[0].MaxRequests != 7 || x.Name != "Standard" {
		t.Fatalf("patched %s", b)
	}
	schemeCall(t, w, "PATCH", base+"/standard", map[string]any{"slug": "renamed"}, 400)
	schemeCall(t, w, "PATCH", base+"/standard", map[string]any{"rules": []any{rule("hour", 0, 7)}}, 400)
	schemeCall(t, w, "PATCH", base+"/nope", map[string]any{"name": "x"}, 404)

	// In use: 409 naming the app, until the app names another.
	schemeCall(t, w, "PATCH", "/api-auth/apps/"+apikeytest.AppSlug, map[string]any{"rate_limit_scheme_slug": "standard"}, 200)
	b = schemeCall(t, w, "DELETE", base+"/standard", nil, 409)
	if !strings.Contains(string(b), apikeytest.AppSlug) {
		t.Errorf("409 does not name the app: %s", b)
	}
	schemeCall(t, w, "PATCH", "/api-auth/apps/"+apikeytest.AppSlug, map[string]any{"rate_limit_scheme_slug": "nope"}, 400)
	schemeCall(t, w, "PATCH", "/api-auth/apps/"+apikeytest.AppSlug, map[string]any{"rate_limit_scheme_slug": ""}, 200)
	schemeCall(t, w, "DELETE", base+"/standard", nil, 200)
	schemeCall(t, w, "GET", base+"/standard", nil, 404)
	schemeCall(t, w, "DELETE", base+"/standard", nil, 404)
}

// TestAppRateLimitsOnTheWire: rate_limits on create and PATCH are stored
// and answered in Wacht's shape.
func TestAppRateLimitsOnTheWire(t *testing.T) {
	w := newWorld(t)
	b := schemeCall(t, w, "POST", "/api-auth/apps", map[string]any{"app_slug": "aa_7", "name": "x", "key_prefix": "x",
		"organization_id": "acme", "rate_limits": []any{rule("second", 1, 5, "mode", "per_ip")}}, 200)
	var app struct {
		RateLimits []map[string]any `json:"rate_limits"`
	}
	if err := json.Unmarshal(b, &app); err != nil || len(app.RateLimits) != 1 || app.RateLimits[0]["mode"] != "per_ip" ||
		app.RateLimits[0]["max_requests"] != float64(5) {
		t.Fatalf("created app %s", b)
	}
	b = schemeCall(t, w, "PATCH", "/api-auth/apps/aa_7", map[string]any{"rate_limits": []any{}}, 200)
	if err := json.Unmarshal(b, &app); err != nil || app.RateLimits == nil || len(app.RateLimits) != 0 {
		t.Fatalf("patched app %s", b)
	}
	schemeCall(t, w, "PATCH", "/api-auth/apps/aa_7", map[string]any{"rate_limits": []any{rule("week", 1, 5)}}, 400)
}

// TestCheckSchemeLimits: /v1/authz/check counts a key against its app's
// scheme and rate_limits, names the blocking rule, and a change to either
// applies to the next check.
func TestCheckSchemeLimits(t *testing.T) {
	w := newWorld(t)
	_, key := w.env.NewKey(t, "k", nil, nil)
	schemeCall(t, w, "POST", "/api-auth/rate-limit-schemes", map[string]any{"slug": "standard", "name": "S",
		"rules": []any{rule("minute", 1, 2)}}, 200)
	if v := limitedCheckOf(t, w, key, ""); !v.Allowed || len(v.RateLimits) != 0 {
		t.Fatalf("before the app names the scheme: %+v", v)
	}
	schemeCall(t, w, "PATCH", "/api-auth/apps/"+apikeytest.AppSlug, map[string]any{"rate_limit_scheme_slug": "standard"}, 200)
	for i := range 2 {
		if v := limitedCheckOf(t, w, key, ""); !v.Allowed || len(v.RateLimits) != 1 || v.RateLimits[0].Rule != "standard[0]" ||
			v.RateLimits[0].Remaining != 1-i || v.RateLimits[0].Limit != 2 {
			t.Fatalf("check %d: %+v", i+1, v)
		}
	}
	v := limitedCheckOf(t, w, key, "")
	if v.Allowed || v.Reason == nil || *v.Reason != "rate_limited" || v.BlockedRule == nil || *v.BlockedRule != "standard[0]" ||
		v.RetryAfter == nil || *v.RetryAfter != 60 {
		t.Fatalf("3rd check: %+v, want refused by standard[0]", v)
	}
	// A scheme change applies to the next check.
	schemeCall(t, w, "PATCH", "/api-auth/rate-limit-schemes/standard", map[string]any{"rules": []any{rule("minute", 1, 10)}}, 200)
	if v := limitedCheckOf(t, w, key, ""); !v.Allowed || v.RateLimits[0].Limit != 10 {
		t.Fatalf("after raising the scheme's limit: %+v", v)
	}
	// The app's own rules: per key and IP, each address counted apart.
	schemeCall(t, w, "PATCH", "/api-auth/apps/"+apikeytest.AppSlug, map[string]any{
		"rate_limits": []any{rule("minute", 1, 1, "mode", "per_key_and_ip", "priority", 5)}}, 200)
	if v := limitedCheckOf(t, w, key, "203.0.113.1"); !v.Allowed || len(v.RateLimits) != 2 || v.RateLimits[0].Rule != "rate_limits[0]" {
		t.Fatalf("first from .1: %+v, want rate_limits[0] first (priority 5)", v)
	}
	if v := limitedCheckOf(t, w, key, "203.0.113.1"); v.Allowed || *v.BlockedRule != "rate_limits[0]" {
		t.Fatalf("second from .1: %+v, want refused by rate_limits[0]", v)
	}
	if v := limitedCheckOf(t, w, key, "203.0.113.2"); !v.Allowed {
		t.Fatalf("first from .2: %+v, want allowed", v)
	}
}

// TestCheckSchemeSharedThroughRedis: two instances of the API on one store
// and one Redis share a scheme's count.
func TestCheckSchemeSharedThroughRedis(t *testing.T) {
	lim := redistest.Limiter(t)
	w := newWorld(t, func(c *wachtapi.Config) { c.Limiter = lim })
	w2 := w.second(t, func(c *wachtapi.Config) { c.Limiter = lim })

	schemeCall(t, w, "POST", "/api-auth/rate-limit-schemes", map[string]any{"slug": "shared", "name": "S",
		"rules": []any{rule("minute", 1, 4, "mode", "per_app")}}, 200)
	schemeCall(t, w2, "PATCH", "/api-auth/apps/"+apikeytest.AppSlug, map[string]any{"rate_limit_scheme_slug": "shared"}, 200)
	_, a := w.env.NewKey(t, "a", nil, nil)
	_, b := w.env.NewKey(t, "b", nil, nil)
	allowed := 0
	for i := range 10 {
		inst, key := w, a
		if i%2 == 1 {
			inst, key = w2, b
		}
		if v := limitedCheckOf(t, inst, key, ""); v.Allowed {
			allowed++
		}
	}
	if allowed != 4 {
		t.Errorf("%d of 10 checks of one app over two instances allowed, want 4", allowed)
	}
}

// TestSchemesWithTheGoClient: wacht.Client's scheme methods read and write
// keyportal's scheme API, and a scheme in use is refused with 409.
func TestSchemesWithTheGoClient(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, backendKey)
	ctx := t.Context()
	x, err := c.CreateRateLimitScheme(ctx, wacht.CreateRateLimitSchemeRequest{Slug: "gold", Name: "Gold", Rules: []wacht.RateLimit{
		{Unit: "minute", Duration: 1, MaxRequests: 600, Mode: "per_app_and_ip", Endpoints: []string{"/v1/*"}, Priority: 3}}})
	if err != nil || x.ID == "" || x.CreatedAt.IsZero() || len(x.Rules) != 1 || x.Rules[0].Mode != "per_app_and_ip" ||
		x.Rules[0].Endpoints[0] != "/v1/*" || x.Rules[0].Priority != 3 {
		t.Fatalf("CreateRateLimitScheme = %+v, %v", x, err)
	}
	slug := "gold"
	if _, err := c.UpdateApp(ctx, apikeytest.AppSlug, wacht.UpdateAppRequest{RateLimitSchemeSlug: &slug}); err != nil {
		t.Fatal(err)
	}
	var apiErr *wacht.APIError
	if err := c.DeleteRateLimitScheme(ctx, "gold"); !errors.As(err, &apiErr) || apiErr.Status != 409 {
		t.Fatalf("deleting a scheme in use: %v, want 409", err)
	}
	rules := []wacht.RateLimit{{Unit: "hour", Duration: 1, MaxRequests: 9}}
	if x, err = c.UpdateRateLimitScheme(ctx, "gold", wacht.UpdateRateLimitSchemeRequest{Rules: &rules}); err != nil || x.Rules[0].MaxRequests != 9 {
		t.Fatalf("UpdateRateLimitScheme = %+v, %v", x, err)
	}
	list, err := c.ListRateLimitSchemes(ctx)
	if err != nil || len(list) != 1 || list[0].Slug != "gold" {
		t.Fatalf("ListRateLimitSchemes = %+v, %v", list, err)
	}
	if _, err := c.GetRateLimitScheme(ctx, "nope"); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Fatalf("unknown scheme: %v", err)
	}
}
