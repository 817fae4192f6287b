package portal

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
	"github.com/keyportal/keyportal/middleware/ticket"
	"github.com/keyportal/keyportal/policy"
)

// The whole suite shares one directory for its databases and one log
// capture, so that TestMain can search both, at the end, for every ticket,
// session token and secret any test saw.
var (
	suiteDir string
	suiteLog lockedBuffer

	sensitiveMu sync.Mutex
	sensitive   []string
)

// remember notes a value that must never reach a database file or a log.
func remember(values ...string) {
	sensitiveMu.Lock()
	defer sensitiveMu.Unlock()
	for _, v := range values {
		if v != "" {
			sensitive = append(sensitive, v)
		}
	}
}

type lockedBuffer = testenv.LogBuffer

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	dir, err := os.MkdirTemp("", "portal-suite-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	suiteDir = dir
	code := m.Run()
	if code == 0 {
		code = checkNoLeaks()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// checkNoLeaks is the suite-wide proof that no issued ticket, session token
// or secret reached a database file (with its WAL) or a log line.
func checkNoLeaks() int {
	sensitiveMu.Lock()
	values := append([]string(nil), sensitive...)
	sensitiveMu.Unlock()
	if len(values) == 0 {
		// Only when -run selected no test that issues anything.
		fmt.Fprintln(os.Stderr, "leak check: skipped, no ticket or secret was issued")
		return 0
	}
	var files []string
	filepath.Walk(suiteDir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if len(files) == 0 {
		fmt.Fprintln(os.Stderr, "leak check: no database file found under", suiteDir)
		return 1
	}
	haystacks := map[string][]byte{"captured logs": []byte(suiteLog.String())}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "leak check:", err)
			return 1
		}
		haystacks[f] = b
	}
	bad := 0
	for name, h := range haystacks {
		for _, v := range values {
			if bytes.Contains(h, []byte(v)) {
				fmt.Fprintf(os.Stderr, "leak check: %s holds a raw ticket/secret (fingerprint %s)\n", name, ticket.Fingerprint(v))
				bad++
			}
		}
	}
	if bad > 0 {
		return 1
	}
	fmt.Fprintf(os.Stderr, "leak check: %d tickets/tokens/secrets absent from %d files (%d bytes of logs)\n", len(values), len(files), len(suiteLog.String()))
	return 0
}

// env is a portal on a real SQLite store behind a real HTTP server.
type env struct {
	t      testing.TB
	store  *sqlite.SQLite
	portal *Portal
	clock  *testenv.Clock
	srv    *httptest.Server
}

type envOptions struct {
	sessionTTL time.Duration
	realClock  bool
	// listen, if set, is the address the server listens on (for browsers).
	listen string
	// wrap, if set, is installed before the portal's routes.
	wrap gin.HandlerFunc
	// changeRate, changeBurst and maxActiveKeys set the limits (zero:
	// the defaults).
	changeRate    float64
	changeBurst   int
	maxActiveKeys int
	// decider is Config.Decider.
	decider policy.Decider
	// messages is Config.Messages.
	messages Messages
	// access is Config.Access.
	access audit.AccessReader
	// wrapStore, if set, wraps the SQLite store given as Config.Store (to
	// hide or add optional interfaces).
	wrapStore func(keystore.Store) keystore.Store
}

var dbSeq struct {
	sync.Mutex
	n int
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	dbSeq.Lock()
	dbSeq.n++
	path := filepath.Join(suiteDir, fmt.Sprintf("%s-%d.db", strings.ReplaceAll(t.Name(), "/", "_"), dbSeq.n))
	dbSeq.Unlock()

	clk := testenv.NewClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	now := clk.Now
	if o.realClock {
		now = time.Now
	}
	st, err := sqlite.Open(t.Context(), path, keystore.Options{Now: now, MaxActiveKeys: o.maxActiveKeys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	e := &env{t: t, store: st, clock: clk}
	engine := gin.New()
	if o.wrap != nil {
		engine.Use(o.wrap)
	}
	if o.listen != "" {
		e.srv = httptest.NewUnstartedServer(engine)
		e.srv.Listener.Close()
		l, err := net.Listen("tcp", o.listen)
		if err != nil {
			t.Fatal(err)
		}
		e.srv.Listener = l
		e.srv.Start()
	} else {
		e.srv = httptest.NewServer(engine)
	}
	t.Cleanup(e.srv.Close)

	base := e.srv.URL
	if o.listen != "" && strings.HasPrefix(o.listen, "127.0.0.1:") {
		// Serve the portal as "localhost": another site than the embedders.
		base = strings.Replace(base, "127.0.0.1", "localhost", 1)
	}
	var store keystore.Store = st
	if o.wrapStore != nil {
		store = o.wrapStore(st)
	}
	p, err := New(Config{
		Store:       store,
		Access:      o.access,
		BaseURL:     base,
		SessionTTL:  o.sessionTTL,
		ChangeRate:  o.changeRate,
		ChangeBurst: o.changeBurst,
		Logger:      zerolog.New(&suiteLog).With().Str("test", t.Name()).Logger(),
		Now:         now,
		Metrics:     prometheus.NewRegistry(),
		Decider:     o.decider,
		Messages:    o.messages,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Mount(engine); err != nil {
		t.Fatal(err)
	}
	e.portal = p
	return e
}

// newAcmeEnv is newEnv with the defaults and the app most tests use: aa_42
// of tenant acme, framed by originA.
func newAcmeEnv(t testing.TB) *env {
	t.Helper()
	e := newEnv(t, envOptions{})
	e.app("aa_42", "acme", originA)
	return e
}

// app creates an active app of tenant with the allowed origins.
func (e *env) app(slug, tenant string, origins ...string) keystore.App {
	e.t.Helper()
	a, err := e.store.CreateApp(context.Background(), keystore.App{
		Slug: slug, Name: "App " + slug, KeyPrefix: "kp_" + strings.ReplaceAll(slug, "-", "_"),
		Tenant: tenant, AllowedOrigins: origins,
	}, keystore.Actor{Name: "test"})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// issue issues a ticket through the local issuer.
func (e *env) issue(req ticket.Request) ticket.Response {
	e.t.Helper()
	res, err := e.portal.Issuer().Issue(context.Background(), req)
	if err != nil {
		e.t.Fatalf("issue %+v: %v", req, err)
	}
	remember(res.Ticket)
	return res
}

// do sends a request to the portal and decodes a JSON answer into out (if
// not nil). It returns the response (body already read).
func (e *env) do(method, path, bearer, contentType, body string, out any) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %d %q is not JSON: %v", method, path, res.StatusCode, raw, err)
		}
	}
	res.Body = io.NopCloser(bytes.NewReader(raw))
	return res
}

// errBody is the error body of the API.
type errBody struct {
	Error apiError `json:"error"`
}

// exchangeTicket posts a ticket to the exchange.
func (e *env) exchangeTicket(tk, previous string) (int, exchangeResponse, errBody) {
	e.t.Helper()
	body, _ := json.Marshal(exchangeRequest{Ticket: tk, PreviousSession: previous})
	var raw json.RawMessage
	res := e.do("POST", PagePath+"/exchange", "", "application/json", string(body), &raw)
	var ok exchangeResponse
	var bad errBody
	if res.StatusCode == http.StatusOK {
		json.Unmarshal(raw, &ok)
		remember(ok.Session)
	} else {
		json.Unmarshal(raw, &bad)
	}
	return res.StatusCode, ok, bad
}

// session issues a ticket for the app and exchanges it.
func (e *env) session(slug, tenant, user, origin string) string {
	e.t.Helper()
	tk := e.issue(ticket.Request{AppSlug: slug, Tenant: tenant, Subject: user, EmbedderOrigin: origin})
	code, ok, bad := e.exchangeTicket(tk.Ticket, "")
	if code != http.StatusOK {
		e.t.Fatalf("exchange: %d %+v", code, bad)
	}
	return ok.Session
}

// claims are the claims of a ticket or session for user of app in tenant,
// framed by originA and valid for a minute from the env's clock.
func (e *env) claims(app, tenant, user string) claims {
	return claims{ID: newRandomID(), App: app, Tenant: tenant, User: user, Origin: originA, Exp: e.clock.Now().Add(time.Minute).Unix()}
}

// seal seals c with s (the portal's tickets or sessions sealer) as only
// the sealing key's holder could, and remembers the result.
func (e *env) seal(t testing.TB, s *sealer, c claims) string {
	t.Helper()
	sealed, err := s.seal(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	remember(sealed)
	return sealed
}

// events returns the store's audit events of an action (newest first).
func (e *env) events(action string) []audit.Event {
	e.t.Helper()
	page, err := e.store.QueryAudit(context.Background(), audit.Query{Action: action, Limit: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return page.Events
}

// refusals reads keyportal_exchange_refusals_total{reason}.
func (e *env) refusals(reason string) float64 {
	return testutil.ToFloat64(e.portal.refusals.counter.WithLabelValues(reason))
}
