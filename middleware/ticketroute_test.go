package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

// upstreamDetail is in every fake upstream error; no client body may show it.
const upstreamDetail = "db-primary-7 said: password authentication failed"

func TestTicketRouteChecks(t *testing.T) {
	big := `{"deploymentId":"` + strings.Repeat("9", 5<<10) + `"}`
	id64 := strings.Repeat("a", 64)
	tests := []struct {
		name       string
		req        req
		decider    policy.Decider
		issuerErr  error
		wantStatus int
		wantBody   string // exact, for errors
		wantReason string
		wantIssued bool // issuer called and 200
	}{
		{name: "issued", wantStatus: 200, wantReason: ReasonIssued, wantIssued: true},
		{name: "id as integer", req: req{body: `{"deploymentId":42}`}, wantStatus: 200, wantReason: ReasonIssued, wantIssued: true},
		{name: "id of 64 chars", req: req{body: `{"deploymentId":"` + id64 + `"}`}, wantStatus: 200, wantReason: ReasonIssued, wantIssued: true},
		{name: "whitespace around the object", req: req{body: " \n{ \"deploymentId\" : \"42\" }\n "}, wantStatus: 200, wantReason: ReasonIssued, wantIssued: true},
		{name: "charset utf-8", req: req{contentType: "application/json; charset=UTF-8"}, wantStatus: 200, wantReason: ReasonIssued, wantIssued: true},
		{name: "Sec-Fetch-Site same-origin", req: req{fetchSite: "same-origin"}, wantStatus: 200, wantReason: ReasonIssued, wantIssued: true},

		// 1. content type, size, strict JSON
		{name: "text/plain", req: req{contentType: "text/plain"}, wantStatus: 415, wantBody: `{"error":"Content-Type must be application/json"}`, wantReason: ReasonUnsupportedMediaType},
		{name: "form", req: req{contentType: "application/x-www-form-urlencoded", body: "deploymentId=42"}, wantStatus: 415, wantReason: ReasonUnsupportedMediaType},
		{name: "no content type", req: req{contentType: "-"}, wantStatus: 415, wantReason: ReasonUnsupportedMediaType},
		{name: "latin-1 charset", req: req{contentType: "application/json; charset=latin-1"}, wantStatus: 415, wantReason: ReasonUnsupportedMediaType},
		{name: "5 KiB body", req: req{body: big}, wantStatus: 413, wantBody: `{"error":"Request body too large"}`, wantReason: ReasonBodyTooLarge},
		{name: "5 KiB chunked body", req: req{body: big, chunked: true}, wantStatus: 413, wantReason: ReasonBodyTooLarge},
		{name: "malformed JSON", req: req{body: `{"deploymentId":`}, wantStatus: 400, wantBody: `{"error":"Request body must be one JSON object"}`, wantReason: ReasonMalformedJSON},
		{name: "empty body", req: req{body: " "}, wantStatus: 400, wantReason: ReasonMalformedJSON},
		{name: "array", req: req{body: `["42"]`}, wantStatus: 400, wantReason: ReasonMalformedJSON},
		{name: "bare string", req: req{body: `"42"`}, wantStatus: 400, wantReason: ReasonMalformedJSON},
		{name: "null body", req: req{body: `null`}, wantStatus: 400, wantReason: ReasonMalformedJSON},
		{name: "trailing garbage", req: req{body: `{"deploymentId":"42"} x`}, wantStatus: 400, wantBody: `{"error":"Request body must be one JSON object"}`, wantReason: ReasonTrailingData},
		{name: "two objects", req: req{body: `{"deploymentId":"42"}{"deploymentId":"43"}`}, wantStatus: 400, wantReason: ReasonTrailingData},
		{name: "unknown field", req: req{body: `{"deploymentId":"42","admin":true}`}, wantStatus: 400, wantBody: `{"error":"Request body must hold deploymentId only"}`, wantReason: ReasonUnknownField},
		{name: "field in other case", req: req{body: `{"DeploymentID":"42"}`}, wantStatus: 400, wantReason: ReasonUnknownField},
		{name: "duplicate field", req: req{body: `{"deploymentId":"42","deploymentId":"43"}`}, wantStatus: 400, wantReason: ReasonDuplicateField},

		// 2. same-origin check
		{name: "foreign origin", req: req{origin: "https://evil.example"}, wantStatus: 403, wantBody: `{"error":"Forbidden"}`, wantReason: ReasonCrossSite},
		{name: "Sec-Fetch-Site cross-site", req: req{fetchSite: "cross-site"}, wantStatus: 403, wantReason: ReasonCrossSite},
		{name: "Sec-Fetch-Site same-site", req: req{fetchSite: "same-site"}, wantStatus: 403, wantReason: ReasonCrossSite},
		{name: "null origin", req: req{origin: "null"}, wantStatus: 403, wantReason: ReasonCrossSite},
		{name: "no origin", req: req{origin: "-"}, wantStatus: 403, wantReason: ReasonCrossSite},
		{name: "origin on https", req: req{origin: "https://example.com"}, wantStatus: 403, wantReason: ReasonCrossSite},
		{name: "origin with other port", req: req{origin: "http://example.com:8080"}, wantStatus: 403, wantReason: ReasonCrossSite},
		{name: "origin with a path", req: req{origin: "http://example.com/x"}, wantStatus: 403, wantReason: ReasonCrossSite},

		// 3. identify
		{name: "no session", req: req{user: "-"}, wantStatus: 401, wantBody: `{"error":"Unauthorized"}`, wantReason: ReasonUnauthenticated},
		{name: "empty subject", req: req{user: "@acme"}, wantStatus: 401, wantReason: ReasonUnauthenticated},

		// 4. input shape
		{name: "missing id", req: req{body: `{}`}, wantStatus: 400, wantBody: `{"error":"deploymentId is required"}`, wantReason: ReasonMissingID},
		{name: "null id", req: req{body: `{"deploymentId":null}`}, wantStatus: 400, wantBody: `{"error":"deploymentId is required"}`, wantReason: ReasonMissingID},
		{name: "empty id", req: req{body: `{"deploymentId":""}`}, wantStatus: 400, wantReason: ReasonMissingID},
		{name: "id with a space", req: req{body: `{"deploymentId":"4 2"}`}, wantStatus: 400, wantBody: `{"error":"deploymentId must be 1 to 64 letters, digits, '_' or '-'"}`, wantReason: ReasonInvalidID},
		{name: "id with a path", req: req{body: `{"deploymentId":"../43"}`}, wantStatus: 400, wantReason: ReasonInvalidID},
		{name: "id with a colon", req: req{body: `{"deploymentId":"42:*"}`}, wantStatus: 400, wantReason: ReasonInvalidID},
		{name: "id with unicode", req: req{body: `{"deploymentId":"４２"}`}, wantStatus: 400, wantReason: ReasonInvalidID},
		{name: "id with a NUL", req: req{body: `{"deploymentId":"42\u0000"}`}, wantStatus: 400, wantReason: ReasonInvalidID},
		{name: "id of 65 chars", req: req{body: `{"deploymentId":"` + id64 + `a"}`}, wantStatus: 400, wantReason: ReasonInvalidID},
		{name: "id as float", req: req{body: `{"deploymentId":4.2}`}, wantStatus: 400, wantReason: ReasonInvalidID},
		{name: "id as exponent", req: req{body: `{"deploymentId":4e2}`}, wantStatus: 400, wantReason: ReasonInvalidID},
		{name: "id negative", req: req{body: `{"deploymentId":-42}`}, wantStatus: 400, wantReason: ReasonInvalidID},
		{name: "id as bool", req: req{body: `{"deploymentId":true}`}, wantStatus: 400, wantReason: ReasonInvalidID},
		{name: "id as object", req: req{body: `{"deploymentId":{"id":"42"}}`}, wantStatus: 400, wantReason: ReasonInvalidID},
		{name: "id as array", req: req{body: `{"deploymentId":["42"]}`}, wantStatus: 400, wantReason: ReasonInvalidID},

		// 5. tenant status and decision
		{name: "no tenant", req: req{user: "alice"}, wantStatus: 403, wantBody: `{"error":"Forbidden"}`, wantReason: ReasonNoTenant},
		{name: "no role", decider: denyWith(policy.ReasonNoRole), wantStatus: 403, wantBody: `{"error":"Forbidden"}`, wantReason: "no_role"},
		{name: "not owner", decider: denyWith(policy.ReasonNotOwner), wantStatus: 403, wantBody: `{"error":"Forbidden"}`, wantReason: "not_owner"},
		{name: "tenant suspended", decider: denyWith(policy.ReasonTenantSuspended), wantStatus: 403, wantBody: `{"error":"Forbidden"}`, wantReason: "tenant_suspended"},
		{name: "tenant deleted", decider: denyWith(policy.ReasonTenantDeleted), wantStatus: 403, wantBody: `{"error":"Forbidden"}`, wantReason: "tenant_deleted"},
		{name: "denied by rule", decider: denyWith(policy.ReasonDeniedByRule), wantStatus: 403, wantReason: "denied_by_rule"},
		{name: "denial without reason", decider: denyWith(""), wantStatus: 403, wantReason: "denied_by_rule"},
		{name: "decider error", decider: deciderFunc(func(context.Context, policy.Request) (policy.Decision, error) {
			return policy.Decision{}, errors.New(upstreamDetail)
		}), wantStatus: 503, wantBody: `{"error":"Service unavailable"}`, wantReason: ReasonDeciderError},

		// 7. issuer
		{name: "issuer unavailable", issuerErr: fmt.Errorf("%w: %s", ticket.ErrUnavailable, upstreamDetail), wantStatus: 503, wantBody: `{"error":"Ticket service unavailable"}`, wantReason: ReasonIssuerUnavailable},
		{name: "issuer failed", issuerErr: fmt.Errorf("%w: %s", ticket.ErrUpstream, upstreamDetail), wantStatus: 502, wantBody: `{"error":"Ticket issuance failed"}`, wantReason: ReasonIssuerFailed},
		{name: "issuer other error", issuerErr: errors.New(upstreamDetail), wantStatus: 502, wantBody: `{"error":"Ticket issuance failed"}`, wantReason: ReasonIssuerFailed},
		{name: "issuer rejected", issuerErr: fmt.Errorf("%w: %s", ticket.ErrRejected, upstreamDetail), wantStatus: 403, wantBody: `{"error":"Forbidden"}`, wantReason: ReasonIssuerRejected},
		{name: "issuer deadline", issuerErr: fmt.Errorf("wacht: %w", context.DeadlineExceeded), wantStatus: 503, wantBody: `{"error":"Ticket service unavailable"}`, wantReason: ReasonIssuerTimeout},

		// The order of the checks: the earlier one answers.
		{name: "order: content type before origin", req: req{contentType: "text/plain", origin: "https://evil.example"}, wantStatus: 415, wantReason: ReasonUnsupportedMediaType},
		{name: "order: JSON before origin", req: req{body: `{`, origin: "https://evil.example"}, wantStatus: 400, wantReason: ReasonMalformedJSON},
		{name: "order: origin before identify", req: req{user: "-", origin: "https://evil.example"}, wantStatus: 403, wantReason: ReasonCrossSite},
		{name: "order: identify before shape", req: req{user: "-", body: `{"deploymentId":"../x"}`}, wantStatus: 401, wantReason: ReasonUnauthenticated},
		{name: "order: shape before decision", req: req{body: `{}`}, decider: denyWith(policy.ReasonNotOwner), wantStatus: 400, wantReason: ReasonMissingID},
		{name: "order: decision before issuer", decider: denyWith(policy.ReasonNoRole), issuerErr: ticket.ErrUnavailable, wantStatus: 403, wantReason: "no_role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newRouteEnv(t, Config{Decider: tt.decider})
			env.issuer.err = tt.issuerErr
			w := env.do(tt.req)

			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			if tt.wantBody != "" && w.Body.String() != tt.wantBody {
				t.Errorf("body = %s, want %s", w.Body, tt.wantBody)
			}
			if strings.Contains(w.Body.String(), "db-primary") {
				t.Errorf("body leaks upstream detail: %s", w.Body)
			}
			ev := env.log.onlyAudit(t)
			if ev["reason"] != tt.wantReason {
				t.Errorf("audit reason = %v, want %s", ev["reason"], tt.wantReason)
			}
			if ev["status"] != float64(tt.wantStatus) {
				t.Errorf("audit status = %v, want %d", ev["status"], tt.wantStatus)
			}
			wantOutcome := audit.OutcomeDenied
			switch {
			case tt.wantIssued:
				wantOutcome = audit.OutcomeIssued
			case tt.wantStatus >= 500:
				wantOutcome = audit.OutcomeError
			}
			if ev["outcome"] != wantOutcome {
				t.Errorf("audit outcome = %v, want %s", ev["outcome"], wantOutcome)
			}

			reachedIssuer := tt.wantIssued || tt.issuerErr != nil && tt.wantReason != "no_role"
			if got := env.issuer.callCount(); (got == 1) != reachedIssuer || got > 1 {
				t.Errorf("issuer called %d times, want reached=%v", got, reachedIssuer)
			}
			if !tt.wantIssued {
				if strings.Contains(w.Body.String(), "ticket") {
					t.Errorf("refusal carries a ticket: %s", w.Body)
				}
				return
			}
			var resp ticket.Response
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.Ticket == "" || resp.URL == "" || resp.ExpiresAt == 0 {
				t.Fatalf("success body %s: %v", w.Body, err)
			}
			if ev["ticket_fp"] != ticket.Fingerprint(resp.Ticket) {
				t.Errorf("audit ticket_fp = %v, want the ticket's fingerprint", ev["ticket_fp"])
			}
		})
	}
}

func TestTicketRouteAuditFields(t *testing.T) {
	env := newRouteEnv(t, Config{AppSlug: func(id string) string { return "app-" + id }})
	// The request comes through a trusted proxy (httptest's peer address),
	// which forwards the client's; see TestForwardedForOnlyFromTrustedProxies.
	if err := env.engine.SetTrustedProxies([]string{"192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	w := env.do(req{header: map[string]string{"X-Request-Id": "req-123", "X-Forwarded-For": "203.0.113.9"}})
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	ev := env.log.onlyAudit(t)
	want := map[string]any{
		"event": "ticket.issue", "outcome": "issued", "reason": "allowed", "user": "alice",
		"tenant": "acme", "deployment": "42", "app_slug": "app-42", "request_id": "req-123",
		"client_ip": "203.0.113.9", "origin": testOrigin, "level": "info",
	}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("audit %s = %v, want %v", k, ev[k], v)
		}
	}
	if _, ok := ev["latency"].(float64); !ok {
		t.Errorf("audit latency missing: %v", ev)
	}
	if fp, _ := ev["ticket_fp"].(string); len(fp) != 12 {
		t.Errorf("audit ticket_fp = %q, want 12 hex digits", fp)
	}
	if got := w.Header().Get("X-Request-Id"); got != "req-123" {
		t.Errorf("X-Request-Id = %q", got)
	}

	call := env.issuer.lastCall(t)
	wantCall := ticket.Request{AppSlug: "app-42", Tenant: "acme", Subject: "alice", Resource: "42", Object: "deployment:42", Action: DefaultAction, EmbedderOrigin: testOrigin, TTL: ticket.DefaultTTL}
	if call != wantCall {
		t.Errorf("issuer request = %+v, want %+v", call, wantCall)
	}
}

func TestTicketRouteRandomRequestID(t *testing.T) {
	env := newRouteEnv(t, Config{})
	ids := map[string]bool{}
	for _, hdr := range []string{"", "has space", strings.Repeat("x", 129), "ok\nforged"} {
		w := env.do(req{header: map[string]string{"X-Request-Id": hdr}})
		id := w.Header().Get("X-Request-Id")
		if len(id) != 32 || ids[id] {
			t.Errorf("X-Request-Id for %q = %q, want a fresh 32-hex id", hdr, id)
		}
		ids[id] = true
	}
}

func TestTicketRouteDecisionRequest(t *testing.T) {
	var got policy.Request
	env := newRouteEnv(t, Config{
		Field:  "projectId",
		Path:   "/tickets",
		Object: func(id string) string { return "project:" + id },
		Action: "keys:admin",
		Decider: deciderFunc(func(_ context.Context, r policy.Request) (policy.Decision, error) {
			got = r
			return policy.Decision{Allowed: true, Reason: policy.ReasonAllowed}, nil
		}),
	})
	if w := env.do(req{body: `{"projectId":"p-7"}`, user: "bob@globex"}); w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	want := policy.Request{Subject: "bob", Tenant: "globex", Object: "project:p-7", Action: "keys:admin"}
	if got != want {
		t.Errorf("decider got %+v, want %+v", got, want)
	}
	w := env.do(req{body: `{}`})
	if w.Code != 400 || w.Body.String() != `{"error":"projectId is required"}` {
		t.Errorf("missing custom field: %d %s", w.Code, w.Body)
	}
}

func TestTicketRouteAllowedOrigins(t *testing.T) {
	tests := []struct {
		name       string
		origin     string
		host       string
		fetchSite  string
		wantStatus int
		wantOrigin string
	}{
		{name: "listed origin", origin: "https://app.acme.test", wantStatus: 200, wantOrigin: "https://app.acme.test"},
		{name: "listed origin, explicit default port", origin: "https://app.acme.test:443", wantStatus: 200, wantOrigin: "https://app.acme.test"},
		{name: "listed origin, upper case", origin: "HTTPS://APP.ACME.TEST", wantStatus: 200, wantOrigin: "https://app.acme.test"},
		{name: "second listed origin", origin: "http://localhost:8080", wantStatus: 200, wantOrigin: "http://localhost:8080"},
		{name: "own origin not listed", origin: testOrigin, wantStatus: 403},
		{name: "sibling subdomain", origin: "https://evil.acme.test", wantStatus: 403},
		{name: "listed origin but cross-site fetch", origin: "https://app.acme.test", fetchSite: "cross-site", wantStatus: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newRouteEnv(t, Config{AllowedOrigins: []string{"https://app.acme.test/", "http://localhost:8080"}})
			w := env.do(req{origin: tt.origin, fetchSite: tt.fetchSite})
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if tt.wantStatus == 200 {
				if got := env.issuer.lastCall(t).EmbedderOrigin; got != tt.wantOrigin {
					t.Errorf("EmbedderOrigin = %q, want %q", got, tt.wantOrigin)
				}
			} else if env.issuer.callCount() != 0 {
				t.Error("issuer called for a cross-site request")
			}
		})
	}
}

func TestTicketRouteOwnOriginBehindTLSProxy(t *testing.T) {
	env := newRouteEnv(t, Config{})
	if w := env.do(req{origin: "https://example.com", header: map[string]string{"X-Forwarded-Proto": "https"}}); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if got := env.issuer.lastCall(t).EmbedderOrigin; got != "https://example.com" {
		t.Errorf("EmbedderOrigin = %q", got)
	}
}

func TestTicketRouteCrossSiteNeverIssues(t *testing.T) {
	attacks := []struct {
		name string
		r    req
	}{
		{"foreign Origin", req{origin: "https://evil.example"}},
		{"Sec-Fetch-Site cross-site", req{fetchSite: "cross-site"}},
		{"null Origin", req{origin: "null"}},
		{"foreign Origin with a signed-in admin", req{origin: "https://evil.example", user: "bob@acme"}},
		{"Origin that contains ours", req{origin: "http://example.com.evil.example"}},
		{"Origin list", req{header: map[string]string{"Origin": testOrigin + ", https://evil.example"}}},
		{"two Origin headers", req{add: map[string]string{"Origin": "https://evil.example"}}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			env := newRouteEnv(t, Config{})
			w := env.do(a.r)
			if w.Code != http.StatusForbidden || w.Body.String() != `{"error":"Forbidden"}` {
				t.Errorf("got %d %s, want 403 Forbidden", w.Code, w.Body)
			}
			if ev := env.log.onlyAudit(t); ev["reason"] != ReasonCrossSite || ev["outcome"] != "denied" {
				t.Errorf("audit = %v, want denied cross_site", ev)
			}
			if n := env.issuer.callCount(); n != 0 {
				t.Errorf("issuer called %d times", n)
			}
		})
	}
}

// TestTicketRouteIssuerTimeout: an issuer that honours its context (as
// ticket.Issuer requires) is answered 503 at IssueTimeout.
func TestTicketRouteIssuerTimeout(t *testing.T) {
	issuer := ticket.IssuerFunc(func(ctx context.Context, _ ticket.Request) (ticket.Response, error) {
		<-ctx.Done()
		return ticket.Response{}, fmt.Errorf("%w: %w", ticket.ErrUnavailable, ctx.Err())
	})
	env := newRouteEnv(t, Config{Issuer: issuer, IssueTimeout: 20 * time.Millisecond})
	done := make(chan int, 1)
	go func() { done <- env.do(req{}).Code }()
	select {
	case code := <-done:
		if code != 503 {
			t.Errorf("status = %d, want 503", code)
		}
	case <-time.After(10 * time.Second): // a bound, not a measurement
		t.Fatal("route did not answer after IssueTimeout")
	}
	if ev := env.log.onlyAudit(t); ev["outcome"] != "error" || ev["reason"] != ReasonIssuerTimeout {
		t.Errorf("audit = %v, want error %s", ev, ReasonIssuerTimeout)
	}
}

func TestTicketRouteIssuerBadAnswers(t *testing.T) {
	tests := []struct {
		name string
		fn   func(ticket.Request) (ticket.Response, error)
	}{
		{"empty ticket", func(ticket.Request) (ticket.Response, error) {
			return ticket.Response{URL: "https://p/", ExpiresAt: 1}, nil
		}},
		{"no url", func(ticket.Request) (ticket.Response, error) {
			return ticket.Response{Ticket: "t", ExpiresAt: 1}, nil
		}},
		{"no expiry", func(ticket.Request) (ticket.Response, error) {
			return ticket.Response{Ticket: "t", URL: "https://p/"}, nil
		}},
		{"panics", func(ticket.Request) (ticket.Response, error) { panic(upstreamDetail) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newRouteEnv(t, Config{})
			env.issuer.resp = tt.fn
			w := env.do(req{})
			if w.Code != 502 || w.Body.String() != `{"error":"Ticket issuance failed"}` {
				t.Errorf("got %d %s, want 502", w.Code, w.Body)
			}
			if ev := env.log.onlyAudit(t); ev["reason"] != ReasonIssuerFailed {
				t.Errorf("audit reason = %v", ev["reason"])
			}
		})
	}
}

// TestTicketRouteIssuerContext checks that the issuer runs on the request's
// goroutine (the one the Identify hook ran on) under the IssueTimeout
// deadline.
func TestTicketRouteIssuerContext(t *testing.T) {
	goid := func() string { // the "goroutine N" header of this goroutine's stack
		buf := make([]byte, 64)
		return strings.Fields(string(buf[:runtime.Stack(buf, false)]))[1]
	}
	var identifyG, issueG string
	var deadline time.Duration
	issuer := ticket.IssuerFunc(func(ctx context.Context, _ ticket.Request) (ticket.Response, error) {
		issueG = goid()
		if d, ok := ctx.Deadline(); ok {
			deadline = time.Until(d)
		}
		return ticket.Response{Ticket: "tk", URL: "https://p/?ticket=tk", ExpiresAt: 1}, nil
	})
	env := newRouteEnv(t, Config{
		Issuer:       issuer,
		IssueTimeout: time.Minute,
		Identify: func(*gin.Context) (Principal, error) {
			identifyG = goid()
			return Principal{Subject: "alice", Tenant: "acme"}, nil
		},
	})
	if w := env.do(req{}); w.Code != 200 {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	if identifyG != issueG {
		t.Errorf("issuer on goroutine %s, request on %s; want the same", issueG, identifyG)
	}
	if deadline <= 0 || deadline > time.Minute {
		t.Errorf("issuer's deadline in %v, want within IssueTimeout (1m)", deadline)
	}
}

func TestTicketRouteNoTicketInLog(t *testing.T) {
	env := newRouteEnv(t, Config{})
	var tickets []string
	for i := range 300 {
		w := env.do(req{body: fmt.Sprintf(`{"deploymentId":"%d"}`, i)})
		if w.Code != 200 {
			t.Fatalf("request %d: %d %s", i, w.Code, w.Body)
		}
		var resp ticket.Response
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, resp.Ticket)
	}
	// Failures too: their events must not carry a ticket either.
	env.issuer.err = fmt.Errorf("%w: upstream down", ticket.ErrUnavailable)
	env.do(req{})

	log := env.log.String()
	for _, tk := range tickets {
		if strings.Contains(log, tk) {
			t.Fatalf("ticket %s found in the log", tk)
		}
		// Nor a recognisable part of it.
		if strings.Contains(log, tk[3:19]) {
			t.Fatalf("part of ticket %s found in the log", tk)
		}
	}
	events := env.log.auditEvents(t)
	if len(events) != len(tickets)+1 {
		t.Fatalf("%d audit events for %d attempts", len(events), len(tickets)+1)
	}
	for i, tk := range tickets {
		if events[i]["ticket_fp"] != ticket.Fingerprint(tk) {
			t.Fatalf("event %d: ticket_fp %v is not the ticket's fingerprint", i, events[i]["ticket_fp"])
		}
	}
}

func TestTicketRouteAuditor(t *testing.T) {
	t.Run("receives every identified attempt", func(t *testing.T) {
		var got []audit.Event
		env := newRouteEnv(t, Config{Auditor: audit.AuditorFunc(func(_ context.Context, e audit.Event) error {
			got = append(got, e)
			return nil
		})})
		ok := env.do(req{header: map[string]string{"X-Request-Id": "r1"}})
		env.do(req{user: "-"})                      // anonymous: counted, not audited
		env.do(req{body: `{"deploymentId":"x y"}`}) // signed in: audited
		if len(got) != 2 {
			t.Fatalf("auditor got %d events, want 2", len(got))
		}
		var resp ticket.Response
		_ = json.Unmarshal(ok.Body.Bytes(), &resp)
		e := got[0]
		if e.Action != audit.ActionTicketIssue || e.Outcome != audit.OutcomeIssued || e.Reason != ReasonIssued ||
			e.Actor != "alice" || e.Tenant != "acme" || e.Resource != "42" || e.AppSlug != "aa_42" ||
			e.TicketFingerprint != ticket.Fingerprint(resp.Ticket) || e.RequestID != "r1" || e.Time.IsZero() {
			t.Errorf("issued event = %+v", e)
		}
		if got[1].Outcome != audit.OutcomeDenied || got[1].Reason != ReasonInvalidID || got[1].Actor != "alice" {
			t.Errorf("denied event = %+v", got[1])
		}
	})
	t.Run("its failure fails closed", func(t *testing.T) {
		for _, r := range []req{{}, {body: `{"deploymentId":"x y"}`}} {
			env := newRouteEnv(t, Config{Auditor: audit.AuditorFunc(func(context.Context, audit.Event) error {
				return errors.New("audit store down")
			})})
			w := env.do(r)
			if w.Code != 503 || w.Body.String() != `{"error":"Service unavailable"}` {
				t.Errorf("got %d %s, want 503", w.Code, w.Body)
			}
			ev := env.log.onlyAudit(t)
			if ev["reason"] != ReasonAuditFailed || ev["outcome"] != "error" || ev["audit_error"] != "audit store down" || ev["level"] != "error" {
				t.Errorf("audit event = %v", ev)
			}
			if strings.Contains(w.Body.String(), "ticket") {
				t.Errorf("a ticket was answered although it could not be audited")
			}
		}
	})
}

func TestTicketRouteLoggerNeverDropsAudit(t *testing.T) {
	buf := &syncBuffer{}
	logger := zerolog.New(buf).Level(zerolog.ErrorLevel).Sample(&zerolog.BasicSampler{N: 1000})
	route, err := NewTicketRoute(Config{Identify: identifyByHeader, Decider: allowAll, Issuer: &fakeIssuer{}, Logger: logger, RateLimit: NoRateLimit})
	if err != nil {
		t.Fatal(err)
	}
	env := &routeEnv{route: route, log: buf}
	env.engine = newEngine(route)
	for range 20 {
		env.do(req{})
	}
	if n := len(buf.auditEvents(t)); n != 20 {
		t.Errorf("%d audit events for 20 attempts with a sampled, error-level logger", n)
	}
}

func TestNewTicketRouteErrors(t *testing.T) {
	var nilIssuer *fakeIssuer
	valid := func() Config {
		return Config{Identify: identifyByHeader, Decider: allowAll, Issuer: &fakeIssuer{}}
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"no Identify", func(c *Config) { c.Identify = nil }, "middleware: Config.Identify is required"},
		{"no Decider", func(c *Config) { c.Decider = nil }, "middleware: Config.Decider is required"},
		{"no Issuer", func(c *Config) { c.Issuer = nil }, "middleware: Config.Issuer is required"},
		{"typed nil Issuer", func(c *Config) { c.Issuer = nilIssuer }, "middleware: Config.Issuer is required"},
		{"negative TTL", func(c *Config) { c.TTL = -time.Second }, "middleware: Config.TTL must not be negative"},
		{"negative burst", func(c *Config) { c.RateBurst = -1 }, "middleware: Config.RateBurst must not be negative"},
		{"rate NaN", func(c *Config) { c.RateLimit = math.NaN() }, "middleware: Config.RateLimit must be a number"},
		{"rate +Inf", func(c *Config) { c.RateLimit = math.Inf(1) }, "middleware: Config.RateLimit must be a number"},
		{"negative timeout", func(c *Config) { c.IssueTimeout = -1 }, "middleware: Config.IssueTimeout must not be negative"},
		{"relative path", func(c *Config) { c.Path = "tickets" }, "middleware: Config.Path: ticket path \"tickets\" must be a same-origin path"},
		{"path naming another host", func(c *Config) { c.Path = "//evil.example/t" }, "middleware: Config.Path: ticket path \"//evil.example/t\" must be a same-origin path"},
		{"field with a quote", func(c *Config) { c.Field = `a"b` }, "middleware: Config.Field: ticket field"},
		{"wildcard origin", func(c *Config) { c.AllowedOrigins = []string{"http://*.example"} }, "middleware: Config.AllowedOrigins: not an origin: \"http://*.example\": wildcards are not supported"},
		{"origin without scheme", func(c *Config) { c.AllowedOrigins = []string{"app.acme.test"} }, "middleware: Config.AllowedOrigins"},
		{"origin with a path", func(c *Config) { c.AllowedOrigins = []string{"https://app.acme.test/settings"} }, "middleware: Config.AllowedOrigins"},
		{"origin ftp", func(c *Config) { c.AllowedOrigins = []string{"ftp://app.acme.test"} }, "middleware: Config.AllowedOrigins"},
		{"origin *", func(c *Config) { c.AllowedOrigins = []string{"*"} }, "middleware: Config.AllowedOrigins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.mutate(&cfg)
			_, err := NewTicketRoute(cfg)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want prefix %q", err, tt.wantErr)
			}
		})
	}
	if _, err := NewTicketRoute(valid()); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestTicketRouteTTL(t *testing.T) {
	tests := []struct {
		name string
		ttl  time.Duration
		want time.Duration
	}{
		{"zero is the default", 0, 120 * time.Second},
		{"in range", 200 * time.Second, 200 * time.Second},
		{"too short is clamped up", time.Second, 30 * time.Second},
		{"too long is clamped down", time.Hour, 600 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newRouteEnv(t, Config{TTL: tt.ttl})
			env.do(req{})
			if got := env.issuer.lastCall(t).TTL; got != tt.want {
				t.Errorf("issuer TTL = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTicketRouteClientGone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	env := newRouteEnv(t, Config{Issuer: ticket.IssuerFunc(func(ictx context.Context, _ ticket.Request) (ticket.Response, error) {
		cancel() // the browser tab closes while the issuer works
		<-ictx.Done()
		return ticket.Response{}, fmt.Errorf("%w: %w", ticket.ErrUnavailable, ictx.Err())
	})})
	hr := httptest.NewRequest(http.MethodPost, ticket.DefaultPath, strings.NewReader(`{"deploymentId":"42"}`)).WithContext(ctx)
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Origin", testOrigin)
	hr.Header.Set("X-User", "alice@acme")
	env.engine.ServeHTTP(httptest.NewRecorder(), hr)
	if ev := env.log.onlyAudit(t); ev["reason"] != ReasonCanceled || ev["outcome"] != "error" {
		t.Errorf("audit = %v, want error/canceled", ev)
	}
}
