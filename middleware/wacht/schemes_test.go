package wacht

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSchemes are the fake's rate-limit schemes, as Wacht's API serves
// them: the list as {"schemes": [...]}.
type fakeSchemes struct {
	mu      sync.Mutex
	schemes map[string]*RateLimitScheme
	order   []string
}

func mountFakeSchemes(mux *http.ServeMux) {
	f := &fakeSchemes{schemes: map[string]*RateLimitScheme{}}
	mux.HandleFunc("GET /api-auth/rate-limit-schemes", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		out := []RateLimitScheme{}
		for _, s := range f.order {
			if x, ok := f.schemes[s]; ok {
				out = append(out, *x)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"schemes": out})
	})
	mux.HandleFunc("POST /api-auth/rate-limit-schemes", func(w http.ResponseWriter, r *http.Request) {
		var req CreateRateLimitSchemeRequest
		if err := decodeStrict(r, &req); err != nil || req.Slug == "" || req.Name == "" {
			writeErr(w, http.StatusBadRequest, "invalid body")
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.schemes[req.Slug]; ok {
			writeErr(w, http.StatusConflict, "scheme already exists")
			return
		}
		x := &RateLimitScheme{ID: "rls_" + req.Slug, DeploymentID: "42", Slug: req.Slug, Name: req.Name,
			Description: req.Description, Rules: req.Rules, CreatedAt: fakeNow, UpdatedAt: fakeNow}
		f.schemes[req.Slug], f.order = x, append(f.order, req.Slug)
		writeJSON(w, http.StatusOK, x)
	})
	get := func(w http.ResponseWriter, r *http.Request) *RateLimitScheme {
		x, ok := f.schemes[r.PathValue("slug")]
		if !ok {
			writeErr(w, http.StatusNotFound, "rate limit scheme not found")
		}
		return x
	}
	mux.HandleFunc("GET /api-auth/rate-limit-schemes/{slug}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if x := get(w, r); x != nil {
			writeJSON(w, http.StatusOK, x)
		}
	})
	mux.HandleFunc("PATCH /api-auth/rate-limit-schemes/{slug}", func(w http.ResponseWriter, r *http.Request) {
		var req UpdateRateLimitSchemeRequest
		if err := decodeStrict(r, &req); err != nil {
			writeErr(w, http.StatusBadRequest, "invalid body")
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		x := get(w, r)
		if x == nil {
			return
		}
		patch(&x.Name, req.Name)
		patch(&x.Description, req.Description)
		patch(&x.Rules, req.Rules)
		x.UpdatedAt = fakeNow.Add(time.Minute)
		writeJSON(w, http.StatusOK, x)
	})
	mux.HandleFunc("DELETE /api-auth/rate-limit-schemes/{slug}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if x := get(w, r); x != nil {
			delete(f.schemes, x.Slug)
			writeJSON(w, http.StatusOK, map[string]any{})
		}
	})
}

func TestRateLimitSchemes(t *testing.T) {
	f := newFakeWacht(t)
	c := newTestClient(t, f.URL(), Config{})
	ctx := context.Background()
	rules := []RateLimit{
		{Unit: "minute", Duration: 1, MaxRequests: 100, Mode: "per_key"},
		{Unit: "second", Duration: 1, MaxRequests: 5, Mode: "per_key_and_ip", Endpoints: []string{"/v1/admin/*"}, Priority: 10},
	}
	x, err := c.CreateRateLimitScheme(ctx, CreateRateLimitSchemeRequest{Slug: "standard", Name: "Standard", Rules: rules})
	if err != nil || x.ID == "" || x.Slug != "standard" || len(x.Rules) != 2 || x.Rules[1].Endpoints[0] != "/v1/admin/*" ||
		x.Rules[1].Priority != 10 || !x.CreatedAt.Equal(fakeNow) {
		t.Fatalf("CreateRateLimitScheme = %+v, %v", x, err)
	}
	var sent map[string]any
	if err := json.Unmarshal(f.last().Body, &sent); err != nil || f.last().Path != "/api-auth/rate-limit-schemes" {
		t.Fatalf("sent %s to %s", f.last().Body, f.last().Path)
	}
	if r := sent["rules"].([]any)[1].(map[string]any); r["max_requests"] != float64(5) || r["mode"] != "per_key_and_ip" {
		t.Fatalf("rule on the wire: %v", r)
	}
	list, err := c.ListRateLimitSchemes(ctx)
	if err != nil || len(list) != 1 || list[0].Slug != "standard" {
		t.Fatalf("ListRateLimitSchemes = %+v, %v", list, err)
	}
	name, none := "Renamed", []RateLimit{}
	x, err = c.UpdateRateLimitScheme(ctx, "standard", UpdateRateLimitSchemeRequest{Name: &name, Rules: &none})
	if err != nil || x.Name != "Renamed" || len(x.Rules) != 0 || f.last().Method != http.MethodPatch {
		t.Fatalf("UpdateRateLimitScheme = %+v, %v", x, err)
	}
	if !strings.Contains(string(f.last().Body), `"rules":[]`) || strings.Contains(string(f.last().Body), "description") {
		t.Fatalf("patch body %s: want rules [] and no description", f.last().Body)
	}
	if x, err = c.GetRateLimitScheme(ctx, "standard"); err != nil || x.Name != "Renamed" {
		t.Fatalf("GetRateLimitScheme = %+v, %v", x, err)
	}
	if err := c.DeleteRateLimitScheme(ctx, "standard"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetRateLimitScheme(ctx, "standard")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Fatalf("after delete GetRateLimitScheme: %v, want a 404 APIError", err)
	}
}

func TestRateLimitSchemesBadInput(t *testing.T) {
	f := newFakeWacht(t)
	c := newTestClient(t, f.URL(), Config{})
	ctx := context.Background()
	before := f.hits()
	if _, err := c.CreateRateLimitScheme(ctx, CreateRateLimitSchemeRequest{Name: "x"}); err == nil || !strings.Contains(err.Error(), "Slug is required") {
		t.Errorf("no slug: %v", err)
	}
	if _, err := c.GetRateLimitScheme(ctx, ""); err == nil {
		t.Error("empty slug accepted")
	}
	if err := c.DeleteRateLimitScheme(ctx, ".."); err == nil {
		t.Error(`slug ".." accepted`)
	}
	if f.hits() != before {
		t.Errorf("bad input reached the server: %d requests", f.hits()-before)
	}
}
