package middleware_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/middleware/apikey/apikeytest"
	"github.com/keyportal/keyportal/policy"
)

// FuzzRequireAPIKey sends arbitrary Authorization and X-API-Key headers to
// a route guarded by RequireAPIKey over a real store. In the fuzzed header
// values "$r" stands for a valid key holding deploy:read, "$w" for a valid
// key without it and "$x" for a revoked key (their secrets are random per
// process), so the fuzzer works around real secrets. The guard must never
// panic or answer 5xx (the store is healthy), must let a request through
// only when the credential is exactly the valid key that holds the
// permission, and must answer every refusal with its JSON error.
func FuzzRequireAPIKey(f *testing.F) {
	seeds := []struct{ auth, xkey string }{
		{"Bearer $r", ""},
		{"", "$r"},
		{"Bearer $r", "$r"},
		{"Bearer $r", "$w"},
		{"bearer   $r", ""},
		{"Bearer $w", ""},
		{"Bearer $x", ""},
		{"Bearer $r ", ""},
		{"Bearer $rA", ""},
		{"Bearer  ", ""},
		{"Basic YWxpY2U6c2VjcmV0", ""},
		{"Basic YWxpY2U6c2VjcmV0", "$r"},
		{"", ""},
		{"Bearer acme_live_" + strings.Repeat("A", 43), ""},
		{"Bearer acme_live_" + strings.Repeat("A", 42) + "B", ""},
		{"Bearer " + strings.Repeat("p", 33) + "_" + strings.Repeat("A", 43), ""},
		{"Bearer acme_live_\x00" + strings.Repeat("A", 42), ""},
		{"Bearer acme_live_" + strings.Repeat("é", 21) + "A", ""},
	}
	for _, s := range seeds {
		f.Add(s.auth, s.xkey)
	}

	env := apikeytest.NewEnv(f)
	env.Tenants.Set(apikeytest.Tenant, policy.TenantActive)
	_, reader := env.NewKey(f, "reader", []string{"deploy:read"}, nil)
	_, writer := env.NewKey(f, "writer", []string{"deploy:write"}, nil)
	revokedKey, revoked := env.NewKey(f, "revoked", []string{"deploy:read"}, nil)
	if _, err := env.Store.RevokeKey(context.Background(), apikeytest.AppSlug, revokedKey.ID, "fuzz", apikeytest.Actor); err != nil {
		f.Fatal(err)
	}
	srv := newAKServer(f, envConfig(env), "deploy:read")
	expand := strings.NewReplacer("$r", reader, "$w", writer, "$x", revoked)

	f.Fuzz(func(t *testing.T, auth, xkey string) {
		req := httptest.NewRequest(http.MethodGet, "/v1/thing", nil)
		auth, xkey = expand.Replace(auth), expand.Replace(xkey)
		if auth != "" {
			req.Header["Authorization"] = []string{auth}
		}
		if xkey != "" {
			req.Header["X-Api-Key"] = []string{xkey}
		}
		w := httptest.NewRecorder()
		srv.engine.ServeHTTP(w, req)

		bearer, isBearer := "", len(auth) >= 7 && strings.EqualFold(auth[:7], "Bearer ")
		if isBearer {
			bearer = strings.TrimLeft(auth[7:], " ")
		}
		presented := xkey
		if presented == "" {
			presented = bearer
		}
		switch w.Code {
		case http.StatusOK:
			if presented != reader || (bearer != "" && bearer != reader) || (xkey != "" && xkey != reader) {
				t.Fatalf("let through with Authorization %q, X-API-Key %q", auth, xkey)
			}
			var id struct{ KeyID string }
			if err := json.Unmarshal(w.Body.Bytes(), &id); err != nil {
				t.Fatalf("identity: %v", err)
			}
		case http.StatusUnauthorized, http.StatusForbidden:
			if w.Code == http.StatusForbidden && presented != writer {
				t.Fatalf("403 for a credential that is not the valid key without the permission: %q / %q", auth, xkey)
			}
			if w.Header().Get("WWW-Authenticate") == "" {
				t.Fatalf("%d without a challenge", w.Code)
			}
			var e struct{ Error, Reason string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || e.Reason == "" {
				t.Fatalf("%d with body %q", w.Code, w.Body)
			}
		default:
			t.Fatalf("status %d for Authorization %q, X-API-Key %q: %s", w.Code, auth, xkey, w.Body)
		}
		if strings.Contains(w.Body.String(), reader) || strings.Contains(w.Body.String(), writer) {
			t.Fatal("a secret echoed in the answer")
		}
	})
}
