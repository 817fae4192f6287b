package wacht

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testAPIKey is the backend API key the fake accepts.
const testAPIKey = "wk_live_TestBackendKey_5c2f9a"

// fakeWacht is a small in-memory Wacht backend API following
// reference/wacht-api.md: bearer auth, the error shape, apps, keys, tickets,
// the gateway check and the audit logs.
type fakeWacht struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	apps     map[string]*App
	order    []string          // app slugs in creation order
	keys     map[string][]*Key // app slug -> keys
	hashes   map[string]*Key   // hex sha256(secret) -> key
	tickets  map[string]ticketBody
	audit    map[string][]AuditLog // app slug -> entries, oldest first
	requests []recorded
	nextID   int
	// keyShape is how "key with secret" is answered: "flat", "nested" or
	// "both".
	keyShape string
}

// recorded is one request as the fake saw it.
type recorded struct {
	Method, Path, RawPath, RawQuery string
	Header                          http.Header
	Body                            []byte
}

var fakeNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newFakeWacht(t *testing.T) *fakeWacht {
	t.Helper()
	f := &fakeWacht{
		t:        t,
		apps:     map[string]*App{},
		keys:     map[string][]*Key{},
		hashes:   map[string]*Key{},
		tickets:  map[string]ticketBody{},
		audit:    map[string][]AuditLog{},
		keyShape: "flat",
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /session/tickets", f.createTicket)
	mux.HandleFunc("GET /api-auth/apps", f.listApps)
	mux.HandleFunc("POST /api-auth/apps", f.createApp)
	mux.HandleFunc("GET /api-auth/apps/{slug}", f.getApp)
	mux.HandleFunc("PATCH /api-auth/apps/{slug}", f.updateApp)
	mux.HandleFunc("DELETE /api-auth/apps/{slug}", f.deleteApp)
	mux.HandleFunc("GET /api-auth/apps/{slug}/keys", f.listKeys)
	mux.HandleFunc("POST /api-auth/apps/{slug}/keys", f.createKey)
	mux.HandleFunc("POST /api-auth/apps/{slug}/keys/{id}/rotate", f.rotateKey)
	mux.HandleFunc("POST /api-auth/apps/{slug}/keys/{id}/revoke", f.revokeKey)
	mux.HandleFunc("GET /api-auth/apps/{slug}/audit/logs", f.auditLogs)
	mux.HandleFunc("GET /api-auth/apps/{slug}/audit/analytics", f.auditAnalytics)
	mux.HandleFunc("GET /api-auth/apps/{slug}/audit/timeseries", f.auditTimeseries)
	mux.HandleFunc("POST /v1/authz/check", f.check)
	mountFakeSchemes(mux)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		f.mu.Lock()
		f.requests = append(f.requests, recorded{r.Method, r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.Header.Clone(), body})
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+testAPIKey {
			writeErr(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWacht) URL() string { return f.srv.URL }

// last returns the last request the fake received.
func (f *fakeWacht) last() recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		f.t.Fatal("fake wacht: no request received")
	}
	return f.requests[len(f.requests)-1]
}

func (f *fakeWacht) hits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{"message": msg, "code": status}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (f *fakeWacht) id() string {
	f.nextID++
	return strconv.Itoa(1000 + f.nextID)
}

func (f *fakeWacht) createTicket(w http.ResponseWriter, r *http.Request) {
	var req ticketBody
	if err := decodeStrict(r, &req); err != nil {
		writeErr(w, http.StatusBadRequest, "invalid body")
		return
	}
	switch req.TicketType {
	case TicketAPIAuthAccess:
	case TicketImpersonation, TicketAgentAccess, TicketWebhookAppAccess:
		writeErr(w, http.StatusBadRequest, "ticket type not supported by this fake")
		return
	default:
		writeErr(w, http.StatusBadRequest, "unknown ticket_type")
		return
	}
	if req.APIAuthAppSlug == "" {
		writeErr(w, http.StatusBadRequest, "api_auth_app_slug is required")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if app, ok := f.apps[req.APIAuthAppSlug]; !ok || !app.DeletedAt.IsZero() {
		writeErr(w, http.StatusNotFound, "API auth app not found")
		return
	}
	if req.ExpiresIn == 0 {
		req.ExpiresIn = 43200
	}
	tk := randomToken()
	f.tickets[tk] = req
	writeJSON(w, http.StatusOK, map[string]any{
		"ticket":     tk,
		"expires_at": fakeNow.Unix() + req.ExpiresIn,
		"url":        "https://backend.example.wacht.services/vanity/api-auth?ticket=" + tk,
	})
}

func (f *fakeWacht) listApps(w http.ResponseWriter, r *http.Request) {
	all := r.URL.Query().Get("include_inactive") == "true"
	f.mu.Lock()
	defer f.mu.Unlock()
	apps := []App{}
	for _, slug := range f.order {
		a := f.apps[slug]
		if all || (a.IsActive && a.DeletedAt.IsZero()) {
			apps = append(apps, *a)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"apps": apps, "total": len(apps)})
}

func (f *fakeWacht) createApp(w http.ResponseWriter, r *http.Request) {
	var req CreateAppRequest
	if err := decodeStrict(r, &req); err != nil {
		writeErr(w, http.StatusBadRequest, "invalid body")
		return
	}
	if req.AppSlug == "" || req.Name == "" || req.KeyPrefix == "" {
		writeErr(w, http.StatusBadRequest, "app_slug, name and key_prefix are required")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.apps[req.AppSlug]; ok {
		writeErr(w, http.StatusConflict, "app already exists")
		return
	}
	a := &App{
		ID: f.id(), DeploymentID: "42", AppSlug: req.AppSlug, Name: req.Name, KeyPrefix: req.KeyPrefix,
		Description: req.Description, IsActive: true, Permissions: req.Permissions, Resources: req.Resources,
		RateLimits: req.RateLimits, RateLimitSchemeSlug: req.RateLimitSchemeSlug, UserID: req.UserID,
		OrganizationID: req.OrganizationID, WorkspaceID: req.WorkspaceID, CreatedAt: fakeNow, UpdatedAt: fakeNow,
	}
	f.apps[a.AppSlug] = a
	f.order = append(f.order, a.AppSlug)
	writeJSON(w, http.StatusOK, a)
}

// app finds the app of the request, or answers 404.
func (f *fakeWacht) app(w http.ResponseWriter, r *http.Request) *App {
	a, ok := f.apps[r.PathValue("slug")]
	if !ok || !a.DeletedAt.IsZero() {
		writeErr(w, http.StatusNotFound, "API auth app not found")
		return nil
	}
	return a
}

// withApp runs fn on the request's app (path value slug) with the fake
// locked, or answers 404 when there is no such app.
func (f *fakeWacht) withApp(w http.ResponseWriter, r *http.Request, fn func(a *App)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a := f.app(w, r); a != nil {
		fn(a)
	}
}

func (f *fakeWacht) getApp(w http.ResponseWriter, r *http.Request) {
	f.withApp(w, r, func(a *App) {
		writeJSON(w, http.StatusOK, a)
	})
}

func (f *fakeWacht) updateApp(w http.ResponseWriter, r *http.Request) {
	var req UpdateAppRequest
	if err := decodeStrict(r, &req); err != nil {
		writeErr(w, http.StatusBadRequest, "invalid body")
		return
	}
	f.withApp(w, r, func(a *App) {
		patch(&a.Name, req.Name)
		patch(&a.Description, req.Description)
		patch(&a.IsActive, req.IsActive)
		patch(&a.Permissions, req.Permissions)
		a.UpdatedAt = fakeNow.Add(time.Minute)
		writeJSON(w, http.StatusOK, a)
	})
}

// patch applies a PATCH field: it sets *dst to *v when the request sent
// the field (v is not nil).
func patch[T any](dst, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (f *fakeWacht) deleteApp(w http.ResponseWriter, r *http.Request) {
	f.withApp(w, r, func(a *App) {
		a.DeletedAt = fakeNow.Add(time.Hour)
		a.IsActive = false
		writeJSON(w, http.StatusOK, map[string]any{})
	})
}

func (f *fakeWacht) listKeys(w http.ResponseWriter, r *http.Request) {
	all := r.URL.Query().Get("include_inactive") == "true"
	f.withApp(w, r, func(a *App) {
		keys := []Key{}
		for _, k := range f.keys[a.AppSlug] {
			if all || k.IsActive {
				keys = append(keys, *k)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
	})
}

// newKey makes a key of app a and answers it with its secret in f.keyShape.
func (f *fakeWacht) newKey(w http.ResponseWriter, a *App, name string, perms []string, meta map[string]any, exp time.Time) {
	secret := a.KeyPrefix + "_" + randomToken()
	k := &Key{
		ID: f.id(), DeploymentID: a.DeploymentID, AppSlug: a.AppSlug, Name: name, KeyPrefix: a.KeyPrefix,
		KeySuffix: secret[len(secret)-8:], Permissions: perms, Metadata: meta, ExpiresAt: exp,
		IsActive: true, CreatedAt: fakeNow, UpdatedAt: fakeNow,
	}
	sum := sha256.Sum256([]byte(secret))
	f.hashes[hex.EncodeToString(sum[:])] = k
	f.keys[a.AppSlug] = append(f.keys[a.AppSlug], k)
	flat := map[string]any{}
	b, _ := json.Marshal(k)
	_ = json.Unmarshal(b, &flat)
	switch f.keyShape {
	case "nested":
		writeJSON(w, http.StatusOK, map[string]any{"key": k, "secret": secret})
	case "both":
		flat["key"] = k
		flat["secret"] = secret
		writeJSON(w, http.StatusOK, flat)
	default:
		flat["secret"] = secret
		writeJSON(w, http.StatusOK, flat)
	}
}

func (f *fakeWacht) createKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name        string         `json:"name"`
		Permissions []string       `json:"permissions"`
		Metadata    map[string]any `json:"metadata"`
		ExpiresAt   string         `json:"expires_at"`
	}
	if err := decodeStrict(r, &req); err != nil || req.Name == "" {
		writeErr(w, http.StatusBadRequest, "name is required")
		return
	}
	var exp time.Time
	if req.ExpiresAt != "" {
		var err error
		if exp, err = time.Parse(time.RFC3339, req.ExpiresAt); err != nil {
			writeErr(w, http.StatusUnprocessableEntity, "expires_at is not RFC 3339")
			return
		}
	}
	f.withApp(w, r, func(a *App) {
		f.newKey(w, a, req.Name, req.Permissions, req.Metadata, exp)
	})
}

// key finds the active key of the request, or answers 404.
func (f *fakeWacht) key(w http.ResponseWriter, r *http.Request) (*App, *Key) {
	a := f.app(w, r)
	if a == nil {
		return nil, nil
	}
	for _, k := range f.keys[a.AppSlug] {
		if k.ID == r.PathValue("id") && k.IsActive {
			return a, k
		}
	}
	writeErr(w, http.StatusNotFound, "API key not found or already inactive")
	return nil, nil
}

func (f *fakeWacht) rotateKey(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, old := f.key(w, r)
	if old == nil {
		return
	}
	old.IsActive, old.RevokedAt, old.RevokedReason = false, fakeNow, "Rotated"
	f.newKey(w, a, old.Name, old.Permissions, old.Metadata, old.ExpiresAt)
}

func (f *fakeWacht) revokeKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := decodeStrict(r, &req); err != nil {
		writeErr(w, http.StatusBadRequest, "invalid body")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, k := f.key(w, r)
	if k == nil {
		return
	}
	k.IsActive, k.RevokedAt, k.RevokedReason = false, fakeNow, req.Reason
	writeJSON(w, http.StatusOK, map[string]any{})
}

func (f *fakeWacht) check(w http.ResponseWriter, r *http.Request) {
	var req CheckRequest
	if err := decodeStrict(r, &req); err != nil || req.Principal.Type != PrincipalAPIKey {
		writeErr(w, http.StatusBadRequest, "invalid body")
		return
	}
	sum := sha256.Sum256([]byte(req.Principal.Value))
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.hashes[hex.EncodeToString(sum[:])]
	if k == nil || !k.IsActive {
		// Wacht's gateway: a key it does not accept is a verdict, 401.
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"request_id": "req_" + f.id(), "allowed": false,
			"errors": []map[string]any{{"message": "invalid API key", "code": 401}},
		})
		return
	}
	resp := CheckResponse{
		RequestID:   "req_" + f.id(),
		Allowed:     true,
		Identity:    &Identity{KeyID: k.ID, DeploymentID: k.DeploymentID, AppSlug: k.AppSlug, KeyName: k.Name},
		Permissions: k.Permissions,
		RateLimits:  []RateLimitState{{Rule: "60/minute", Remaining: 59, Limit: 60}},
		Headers:     map[string]string{"X-RateLimit-Remaining": "59"},
	}
	for _, p := range req.RequiredPermissions {
		if !slices.Contains(k.Permissions, p) {
			resp.Allowed, resp.Reason = false, ReasonPermissionDenied
		}
	}
	outcome := OutcomeAllowed
	if !resp.Allowed {
		outcome = OutcomeBlocked
	}
	f.audit[k.AppSlug] = append(f.audit[k.AppSlug], AuditLog{
		RequestID: resp.RequestID, DeploymentID: k.DeploymentID, AppSlug: k.AppSlug, KeyID: k.ID, KeyName: k.Name,
		Outcome: outcome, ClientIP: req.ClientIP, Path: req.Resource, UserAgent: req.UserAgent,
		Timestamp: fakeNow.Add(time.Duration(len(f.audit[k.AppSlug])) * time.Second),
	})
	writeJSON(w, http.StatusOK, resp)
}

// auditLogs pages newest first; the cursor is the index to continue from.
func (f *fakeWacht) auditLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeErr(w, http.StatusBadRequest, "limit must be 1..1000")
			return
		}
		limit = n
	}
	start := 0
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 {
			writeErr(w, http.StatusBadRequest, "bad cursor")
			return
		}
		start = n
	}
	var from, to time.Time
	for name, dst := range map[string]*time.Time{"start_date": &from, "end_date": &to} {
		if s := q.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				writeErr(w, http.StatusBadRequest, name+" is not RFC 3339")
				return
			}
			*dst = t
		}
	}
	f.withApp(w, r, func(a *App) {
		var match []AuditLog
		entries := f.audit[a.AppSlug]
		for i := len(entries) - 1; i >= 0; i-- {
			e := entries[i]
			if (q.Get("outcome") != "" && e.Outcome != q.Get("outcome")) || (q.Get("key_id") != "" && e.KeyID != q.Get("key_id")) ||
				(!from.IsZero() && e.Timestamp.Before(from)) || (!to.IsZero() && e.Timestamp.After(to)) {
				continue
			}
			match = append(match, e)
		}
		page := map[string]any{"data": []AuditLog{}, "limit": limit, "has_more": false, "next_cursor": nil}
		if start < len(match) {
			end := min(start+limit, len(match))
			page["data"] = match[start:end]
			if end < len(match) {
				page["has_more"] = true
				page["next_cursor"] = fmt.Sprint(end)
			}
		}
		writeJSON(w, http.StatusOK, page)
	})
}

// auditAnalytics sums the app's audit entries as Wacht's analytics do; top
// keys when include_top_keys=true (the other lists are answered empty).
func (f *fakeWacht) auditAnalytics(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]any{}
	var total, allowed, blocked int64
	perKey := map[string]int64{}
	names := map[string]string{}
	for _, l := range f.audit[r.PathValue("slug")] {
		total++
		if l.Outcome == OutcomeAllowed {
			allowed++
		} else {
			blocked++
		}
		perKey[l.KeyID]++
		names[l.KeyID] = l.KeyName
	}
	out["total_requests"], out["allowed_requests"], out["blocked_requests"] = total, allowed, blocked
	out["success_rate"], out["keys_used_24h"] = float64(allowed*100)/float64(max(total, 1)), len(perKey)
	if r.URL.Query().Get("include_top_keys") == "true" {
		var top []TopKey
		for k, n := range perKey {
			top = append(top, TopKey{KeyID: k, KeyName: names[k], TotalRequests: n})
		}
		out["top_keys"] = top
	}
	writeJSON(w, http.StatusOK, out)
}

// auditTimeseries answers one daily point per day from start_date to
// end_date, counting the app's audit entries.
func (f *fakeWacht) auditTimeseries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, err1 := time.Parse(time.RFC3339Nano, q.Get("start_date"))
	end, err2 := time.Parse(time.RFC3339Nano, q.Get("end_date"))
	if err1 != nil || err2 != nil || q.Get("interval") != "day" {
		writeErr(w, http.StatusBadRequest, "start_date, end_date and interval=day are required by the fake")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var data []map[string]any
	for d := start.Truncate(24 * time.Hour); d.Before(end); d = d.Add(24 * time.Hour) {
		var n int64
		for _, l := range f.audit[r.PathValue("slug")] {
			if !l.Timestamp.Before(d) && l.Timestamp.Before(d.Add(24*time.Hour)) {
				n++
			}
		}
		data = append(data, map[string]any{"timestamp": d.Format("2006-01-02 15:04:05"), "total_requests": n,
			"allowed_requests": n, "blocked_requests": 0, "success_rate": 100})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "interval": "day"})
}
