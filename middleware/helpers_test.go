package middleware

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

func init() { gin.SetMode(gin.TestMode) }

// testOrigin is the origin of httptest requests (their Host is example.com).
const testOrigin = "http://example.com"

// syncBuffer is a log sink safe for concurrent requests, with a parser.
type syncBuffer struct{ testenv.LogBuffer }

// lines parses the captured log, one JSON object a line.
func (b *syncBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// auditEvents returns the ticket.issue events of the captured log.
func (b *syncBuffer) auditEvents(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range b.lines(t) {
		if m["event"] == "ticket.issue" {
			out = append(out, m)
		}
	}
	return out
}

// lastAudit returns the only ticket.issue event, failing unless there is
// exactly one.
func (b *syncBuffer) onlyAudit(t testing.TB) map[string]any {
	t.Helper()
	ev := b.auditEvents(t)
	if len(ev) != 1 {
		t.Fatalf("want exactly 1 audit event, got %d:\n%s", len(ev), b.String())
	}
	return ev[0]
}

// identifyByHeader is the tests' session: X-User "subject@tenant".
func identifyByHeader(c *gin.Context) (Principal, error) {
	v := c.GetHeader("X-User")
	if v == "" {
		return Principal{}, errors.New("no session")
	}
	sub, tenant, _ := strings.Cut(v, "@")
	return Principal{Subject: sub, Tenant: tenant}, nil
}

// deciderFunc adapts a function to policy.Decider.
type deciderFunc func(ctx context.Context, r policy.Request) (policy.Decision, error)

func (f deciderFunc) Decide(ctx context.Context, r policy.Request) (policy.Decision, error) {
	return f(ctx, r)
}

// allowAll allows every request.
var allowAll = deciderFunc(func(context.Context, policy.Request) (policy.Decision, error) {
	return policy.Decision{Allowed: true, Reason: policy.ReasonAllowed}, nil
})

// denyWith refuses every request with reason.
func denyWith(reason policy.Reason) policy.Decider {
	return deciderFunc(func(context.Context, policy.Request) (policy.Decision, error) {
		return policy.Decision{Reason: reason}, nil
	})
}

// fakeIssuer issues random tickets, or answers err, and remembers its calls.
type fakeIssuer struct {
	mu    sync.Mutex
	calls []ticket.Request
	err   error
	n     atomic.Int64
	resp  func(req ticket.Request) (ticket.Response, error) // overrides when set
}

func (f *fakeIssuer) Issue(ctx context.Context, req ticket.Request) (ticket.Response, error) {
	f.mu.Lock()
	f.calls = append(f.calls, req)
	f.mu.Unlock()
	if f.resp != nil {
		return f.resp(req)
	}
	if f.err != nil {
		return ticket.Response{}, f.err
	}
	tk := randomTicket(f.n.Add(1))
	return ticket.Response{Ticket: tk, ExpiresAt: 1_900_000_000, URL: "https://portal.test/vanity/api-auth?ticket=" + tk}, nil
}

func (f *fakeIssuer) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeIssuer) lastCall(t testing.TB) ticket.Request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("issuer was never called")
	}
	return f.calls[len(f.calls)-1]
}

// randomTicket returns a distinctive, random ticket: a leaked one would be
// easy to find in a log.
func randomTicket(int64) string {
	return "tk_" + rand.Text()
}

// routeEnv is a mounted ticket route with its log and fakes.
type routeEnv struct {
	engine *gin.Engine
	route  *TicketRoute
	log    *syncBuffer
	issuer *fakeIssuer
}

// newRouteEnv mounts a route whose zero fields in cfg are filled with the
// test fakes: X-User identity, allow-all decider, a succeeding issuer, the
// log captured, and the rate limit lifted unless cfg sets one.
func newRouteEnv(t testing.TB, cfg Config) *routeEnv {
	t.Helper()
	env := &routeEnv{log: &syncBuffer{}, issuer: &fakeIssuer{}}
	if cfg.Identify == nil {
		cfg.Identify = identifyByHeader
	}
	if cfg.Decider == nil {
		cfg.Decider = allowAll
	}
	if cfg.Issuer == nil {
		cfg.Issuer = env.issuer
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = NoRateLimit
	}
	cfg.Logger = zerolog.New(env.log)
	route, err := NewTicketRoute(cfg)
	if err != nil {
		t.Fatal(err)
	}
	env.route = route
	env.engine = gin.New()
	if err := route.Mount(env.engine); err != nil {
		t.Fatal(err)
	}
	return env
}

// newEngine returns a gin engine with route mounted.
func newEngine(route *TicketRoute) *gin.Engine {
	e := gin.New()
	if err := route.Mount(e); err != nil {
		panic(err) // a fresh engine has no route to conflict with
	}
	return e
}

// req describes one request to the route; zero fields are a valid browser
// request from alice@acme for deployment 42.
type req struct {
	body        string
	contentType string // "-" for none
	user        string // "-" for none
	origin      string // "-" for none
	fetchSite   string
	header      map[string]string // set, replacing
	add         map[string]string // added beside what is there
	chunked     bool              // no Content-Length
}

func (e *routeEnv) do(r req) *httptest.ResponseRecorder {
	if r.body == "" {
		r.body = `{"deploymentId":"42"}`
	}
	hr := httptest.NewRequest(http.MethodPost, e.route.Path(), strings.NewReader(r.body))
	if r.chunked {
		hr.ContentLength = -1
		hr.Body = readerOnly{strings.NewReader(r.body)}
	}
	set := func(k, v, def string) {
		switch v {
		case "-":
		case "":
			if def != "" {
				hr.Header.Set(k, def)
			}
		default:
			hr.Header.Set(k, v)
		}
	}
	set("Content-Type", r.contentType, "application/json")
	set("X-User", r.user, "alice@acme")
	set("Origin", r.origin, testOrigin)
	set("Sec-Fetch-Site", r.fetchSite, "")
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	for k, v := range r.add {
		hr.Header.Add(k, v)
	}
	w := httptest.NewRecorder()
	e.engine.ServeHTTP(w, hr)
	return w
}

// readerOnly hides everything but Read, as a chunked body would.
type readerOnly struct{ r *strings.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }
func (r readerOnly) Close() error               { return nil }

// newFakeClock returns an injected clock.
func newFakeClock() *testenv.Clock {
	return testenv.NewClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
}
