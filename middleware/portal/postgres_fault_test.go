package portal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/keyportal/keyportal/internal/testenv/pgtest"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/postgres"
	"github.com/keyportal/keyportal/middleware/ticket"
)

// Postgres "restarted" under load, without touching the machine's real
// server (other tests share it): the store reaches Postgres through a TCP
// proxy in the test, which drops every connection and refuses new ones, then
// accepts again. Requests during the outage get clean 503s; afterwards the
// same portal and store serve again with no restart; and no write that was
// acknowledged is lost.

// pgProxy forwards 127.0.0.1:<port> to the real Postgres and can be cut.
type pgProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	l     net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newPGProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	p := &pgProxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = l.Addr().String()
	p.serve(l)
	t.Cleanup(func() { p.down(); p.wg.Wait() })
	return p
}

func (p *pgProxy) serve(l net.Listener) {
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = struct{}{}, struct{}{}
			p.mu.Unlock()
			pipe := func(dst, src net.Conn) {
				io.Copy(dst, src)
				dst.Close()
				src.Close()
				p.mu.Lock()
				delete(p.conns, dst)
				delete(p.conns, src)
				p.mu.Unlock()
			}
			p.wg.Go(func() { pipe(up, c) })
			p.wg.Go(func() { pipe(c, up) })
		}
	})
}

// down drops every connection and stops listening: new connections are
// refused, as by a server that is restarting.
func (p *pgProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// up listens again on the same address.
func (p *pgProxy) up() {
	p.t.Helper()
	var l net.Listener
	var err error
	for range 50 { // the port can linger briefly after a close
		if l, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(l)
}

func TestPostgresRestartUnderLoad(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newPGProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.addr
	q := viaProxy.Query()
	q.Set("connect_timeout", "2")
	viaProxy.RawQuery = q.Encode()

	schema := pgtest.Schema(t, dsn, "portal_fault_")

	ctx := context.Background()
	secrets := &valueSet{}
	octx, cancel := context.WithTimeout(ctx, 20*time.Second)
	var feedErrors atomic.Int64
	st, err := postgres.Open(octx, viaProxy.String(), keystore.Options{
		Schema: schema, OnFeedError: func(error) { feedErrors.Add(1) }, MaxActiveKeys: keystore.NoKeyLimit,
	})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateApp(ctx, keystore.App{
		Slug: "aa_42", Name: "Acme", KeyPrefix: "kp_aa_42", Tenant: "acme", AllowedOrigins: []string{originA},
	}, keystore.Actor{Name: "test"}); err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Store: st, BaseURL: "http://localhost:8081", Logger: zerolog.Nop(), ChangeRate: NoChangeLimit})
	if err != nil {
		t.Fatal(err)
	}
	engine := gin.New()
	if err := p.Mount(engine); err != nil {
		t.Fatal(err)
	}
	srv := newLoopbackServer(t, engine)

	// A session to create keys with (its token lives in memory, not in
	// Postgres, so it outlives the outage).
	tk, err := p.Issuer().Issue(ctx, ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "alice", EmbedderOrigin: originA})
	if err != nil {
		t.Fatal(err)
	}
	secrets.add(tk.Ticket)
	var sess exchangeResponse
	if code := postJSON(t, srv, PagePath+"/exchange", "", `{"ticket":"`+tk.Ticket+`"}`, &sess); code != 200 {
		t.Fatalf("exchange: %d", code)
	}
	secrets.add(sess.Session)

	// Load: 4 workers create keys, and issue and exchange tickets, until
	// stopped. Every answer is a success or a clean 503.
	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		mu       sync.Mutex
		acked    []string // ids of keys whose creation was answered 201
		statuses = map[int]int{}
		bad      []string
		okAfter  atomic.Int64 // successes since the proxy came back
		restored atomic.Bool
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var code int
				var body string
				if (i+w)%2 == 0 {
					var out struct {
						Key    struct{ ID string }
						Secret string
					}
					code, body = postRaw(srv, PagePath+"/api/keys", sess.Session, `{"name":"load"}`, &out)
					if code == http.StatusCreated {
						secrets.add(out.Secret)
						mu.Lock()
						acked = append(acked, out.Key.ID)
						mu.Unlock()
					}
				} else {
					res, err := p.Issuer().Issue(ctx, ticket.Request{AppSlug: "aa_42", Tenant: "acme", Subject: "bob", EmbedderOrigin: originA})
					switch {
					case err == nil:
						secrets.add(res.Ticket)
						var ex exchangeResponse
						code, body = postRaw(srv, PagePath+"/exchange", "", `{"ticket":"`+res.Ticket+`"}`, &ex)
						secrets.add(ex.Session)
					case errors.Is(err, ticket.ErrUnavailable):
						code = http.StatusServiceUnavailable // the issuer's own clean failure
					default:
						code, body = -1, err.Error()
					}
				}
				mu.Lock()
				statuses[code]++
				if code != http.StatusOK && code != http.StatusCreated && code != http.StatusServiceUnavailable {
					bad = append(bad, body)
				} else if code == http.StatusServiceUnavailable && body != "" && !strings.Contains(body, `"unavailable"`) {
					bad = append(bad, "503 without the unavailable code: "+body)
				}
				mu.Unlock()
				if code == http.StatusOK || code == http.StatusCreated {
					if restored.Load() {
						okAfter.Add(1)
					}
				}
			}
		})
	}

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("timed out waiting for %s; statuses %v", what, statuses)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	count := func(code int) func() int {
		return func() int { mu.Lock(); defer mu.Unlock(); return statuses[code] }
	}
	created, unavailable := count(http.StatusCreated), count(http.StatusServiceUnavailable)

	waitFor("successes before the outage", func() bool { return created() >= 10 })
	proxy.down()
	before := unavailable()
	waitFor("503s during the outage", func() bool { return unavailable() >= before+20 })
	proxy.up()
	restored.Store(true)
	waitFor("successes after the outage", func() bool { return okAfter.Load() >= 20 })
	close(stop)
	wg.Wait()

	if len(bad) > 0 {
		t.Fatalf("%d answers neither a success nor a clean 503, e.g. %q; statuses %v", len(bad), bad[0], statuses)
	}
	t.Logf("statuses %v, %d keys acknowledged, %d feed errors", statuses, len(acked), feedErrors.Load())

	// No acknowledged write is lost: each key answered 201 is in Postgres,
	// read over a connection of our own, not through the proxy.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT id FROM "+schema+".api_keys")
	if err != nil {
		t.Fatal(err)
	}
	inDB := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		inDB[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, id := range acked {
		if !inDB[id] {
			t.Fatalf("key %s was acknowledged (201) but is not in Postgres", id)
		}
	}
	// No raw ticket, session token or secret reached any table.
	tables, err := conn.Query(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		tables.Scan(&n)
		names = append(names, n)
	}
	tables.Close()
	var dump strings.Builder
	for _, n := range names {
		rows, err := conn.Query(ctx, "SELECT row_to_json(t)::text FROM "+schema+"."+n+" t")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			rows.Scan(&line)
			dump.WriteString(line)
		}
		rows.Close()
	}
	if v := secrets.foundIn(dump.String()); v != "" {
		t.Fatalf("Postgres holds a raw ticket/token/secret (fingerprint %s)", ticket.Fingerprint(v))
	}
	t.Logf("%d tickets/tokens/secrets absent from %d tables (%d bytes)", secrets.len(), len(names), dump.Len())

	// The change feed lost its connection and came back by itself.
	if feedErrors.Load() == 0 {
		t.Fatal("the change feed never noticed the outage")
	}
}

// loopbackServer is the portal behind a real HTTP server on loopback.
type loopbackServer struct {
	url    string
	client *http.Client
}

func newLoopbackServer(t *testing.T, h http.Handler) *loopbackServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return &loopbackServer{url: "http://" + l.Addr().String(), client: &http.Client{Timeout: 30 * time.Second}}
}

// postRaw posts a JSON body and decodes a 2xx answer into out; it returns
// the status and, for other answers, the body.
func postRaw(s *loopbackServer, path, bearer, body string, out any) (int, string) {
	req, err := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(body))
	if err != nil {
		return -1, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return -1, err.Error()
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return -1, "2xx that is not JSON: " + string(raw)
		}
		return res.StatusCode, ""
	}
	return res.StatusCode, string(raw)
}

func postJSON(t *testing.T, s *loopbackServer, path, bearer, body string, out any) int {
	t.Helper()
	code, msg := postRaw(s, path, bearer, body, out)
	if code < 0 {
		t.Fatal(msg)
	}
	return code
}

// valueSet collects sensitive values seen by a test.
type valueSet struct {
	mu sync.Mutex
	v  []string
}

func (s *valueSet) add(v string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	s.v = append(s.v, v)
	s.mu.Unlock()
}

func (s *valueSet) len() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.v) }

// foundIn returns a value that occurs in text, or "".
func (s *valueSet) foundIn(text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.v {
		if strings.Contains(text, v) {
			return v
		}
	}
	return ""
}
