package wacht

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// goodTicket is a valid POST /session/tickets answer.
const goodTicket = `{"ticket":"tk_1","expires_at":1800000000,"url":"https://x.example/p?ticket=tk_1"}`

func ticketHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, goodTicket)
}

// countingServer is an httptest server running h that counts the
// connections it accepted, the requests it served and the connections it
// saw closed.
type countingServer struct {
	*httptest.Server
	conns, reqs, closed atomic.Int64
}

// newCountingServer returns an unstarted countingServer; configure may change
// the server before the caller starts it.
func newCountingServer(t *testing.T, h http.HandlerFunc, configure func(*httptest.Server)) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.reqs.Add(1)
		h(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.conns.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed.Add(1)
		}
	}
	if configure != nil {
		configure(s.Server)
	}
	t.Cleanup(s.Close)
	return s
}

func issue(ctx context.Context, c *Client) error {
	_, err := c.Issue(ctx, ticket.Request{AppSlug: "aa_42", Subject: "alice"})
	return err
}

// TestKeepAlive: the client's own transport keeps connections for the next
// call, whatever the answer was, and keeps enough of them for a gateway's
// bursts of parallel calls (net/http's default transport keeps 2 per host).
func TestKeepAlive(t *testing.T) {
	t.Run("sequential calls share one connection", func(t *testing.T) {
		justOver := strings.Repeat("a", maxBodyBytes+10)
		var n atomic.Int64
		srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
			switch n.Add(1) % 4 {
			case 1:
				ticketHandler(w, r)
			case 2:
				w.WriteHeader(http.StatusNotFound)
				_, _ = io.WriteString(w, `{"error":"no app aa_42"}`)
			case 3: // too big: read to its end anyway
				_, _ = io.WriteString(w, justOver)
			default:
				w.WriteHeader(http.StatusNoContent)
			}
		}, nil)
		srv.Start()
		c := newTestClient(t, srv.URL, Config{})
		for i := range 20 {
			err := issue(context.Background(), c)
			switch i % 4 {
			case 0:
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			case 1:
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("call %d: err = %v, want ErrNotFound", i, err)
				}
			case 2:
				if !errors.Is(err, ErrInvalidResponse) || !strings.Contains(err.Error(), "over 1 MiB") {
					t.Fatalf("call %d: err = %v, want a body over 1 MiB", i, err)
				}
			default:
				if !errors.Is(err, ErrInvalidResponse) {
					t.Fatalf("call %d: err = %v, want ErrInvalidResponse (204 has no ticket)", i, err)
				}
			}
		}
		if got := srv.conns.Load(); got != 1 {
			t.Errorf("server accepted %d connections for 20 calls, want 1", got)
		}
	})
	t.Run("bursts of parallel calls reuse the connections of the last", func(t *testing.T) {
		srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(5 * time.Millisecond) // the calls of a burst overlap
			ticketHandler(w, r)
		}, nil)
		srv.Start()
		c := newTestClient(t, srv.URL, Config{})
		const callers, bursts = 8, 5
		for range bursts {
			var wg sync.WaitGroup
			for range callers {
				wg.Go(func() {
					if err := issue(context.Background(), c); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
		}
		// One connection per caller, give or take a dial that raced a
		// connection coming back idle; keeping only 2 would redial 6 per
		// burst.
		if n := srv.conns.Load(); n > 2*callers {
			t.Errorf("server accepted %d connections for %d bursts of %d calls, want at most %d", n, bursts, callers, 2*callers)
		}
	})
}

// failingWrites is a connection whose writes fail once armed, after writing
// at most max bytes.
type failingWrites struct {
	net.Conn
	armed atomic.Bool
	max   int
}

func (c *failingWrites) Write(p []byte) (int, error) {
	if !c.armed.Load() {
		return c.Conn.Write(p)
	}
	n, _ := c.Conn.Write(p[:min(c.max, len(p))])
	_ = c.Conn.Close()
	return n, &net.OpError{Op: "write", Net: "tcp", Err: errors.New("connection reset by peer")}
}

// TestRetryReusedConnection: a kept-alive connection that breaks before any
// of the request was written is replaced and the request sent on a new one;
// once any of it was written, it is never sent again.
func TestRetryReusedConnection(t *testing.T) {
	tests := []struct {
		name      string
		failAfter int // bytes of the second request the first connection lets through
		wantDials int64
		wantReqs  int64 // requests the server saw, the first call's included
	}{
		{name: "breaks before writing: sent on a new connection", failAfter: 0, wantDials: 2, wantReqs: 2},
		{name: "breaks mid-request: not sent again", failAfter: 10, wantDials: 1, wantReqs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newCountingServer(t, ticketHandler, nil)
			srv.Start()
			var first *failingWrites
			ds := &dialScript{script: []string{srv.Listener.Addr().String()}, wrap: func(n int, c net.Conn) net.Conn {
				if n > 0 {
					return c
				}
				first = &failingWrites{Conn: c, max: tt.failAfter}
				return first
			}}
			c := newTestClient(t, "http://wacht.test", Config{HTTPClient: ds.client()})
			if err := issue(context.Background(), c); err != nil {
				t.Fatalf("first call: %v", err)
			}
			first.armed.Store(true)
			err := issue(context.Background(), c)
			if tt.wantReqs == 2 && err != nil {
				t.Fatalf("second call: %v", err)
			}
			if tt.wantReqs == 1 && !errors.Is(err, ErrUnavailable) {
				t.Fatalf("second call: err = %v, want ErrUnavailable", err)
			}
			if n := ds.dials.Load(); n != tt.wantDials {
				t.Errorf("dials = %d, want %d", n, tt.wantDials)
			}
			if n := srv.reqs.Load(); n != tt.wantReqs {
				t.Errorf("server saw %d requests, want %d", n, tt.wantReqs)
			}
		})
	}

	t.Run("server drops it after reading the request: not sent again", func(t *testing.T) {
		var n atomic.Int64
		srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				ticketHandler(w, r)
				return
			}
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
		}, nil)
		srv.Start()
		c := newTestClient(t, srv.URL, Config{})
		if err := issue(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		err := issue(context.Background(), c)
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "EOF") {
			t.Fatalf("err = %v, want ErrUnavailable saying EOF", err)
		}
		if srv.reqs.Load() != 2 || srv.conns.Load() != 1 {
			t.Errorf("server saw %d requests on %d connections, want 2 on 1", srv.reqs.Load(), srv.conns.Load())
		}
	})
}

// TestHTTPS: over TLS the client's own transport speaks HTTP/2 when the
// server offers it, on one connection; it sends nothing to a server whose
// certificate it does not trust.
func TestHTTPS(t *testing.T) {
	var protos sync.Map
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		protos.Store(r.Proto, true)
		ticketHandler(w, r)
	}, func(s *httptest.Server) {
		s.EnableHTTP2 = true
		s.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted case's handshake errors
	})
	srv.StartTLS()

	t.Run("trusted", func(t *testing.T) {
		hc := defaultHTTPClient()
		hc.Transport.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		c := newTestClient(t, srv.URL, Config{HTTPClient: hc})
		before := srv.conns.Load()
		if err := issue(context.Background(), c); err != nil { // the connection
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 5 {
					if err := issue(context.Background(), c); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if n := srv.conns.Load() - before; n != 1 {
			t.Errorf("%d connections for 1 call then 20 from 4 callers, want 1 (HTTP/2)", n)
		}
		protos.Range(func(k, _ any) bool {
			if k != "HTTP/2.0" {
				t.Errorf("request over %s, want HTTP/2.0", k)
			}
			return true
		})
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		before := srv.reqs.Load()
		c := newTestClient(t, srv.URL, Config{})
		err := issue(context.Background(), c)
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err = %v", err)
		}
		if srv.reqs.Load() != before {
			t.Error("a request was sent over an unverified connection")
		}
	})
}

// TestProxyFromEnvironment: the client's own transport sends through the
// proxy that HTTP_PROXY names. net/http reads the environment once per
// process, so the client runs in a child process
// (TestProxyFromEnvironmentChild).
func TestProxyFromEnvironment(t *testing.T) {
	var hosts sync.Map
	proxy := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		hosts.Store(r.URL.Host, true) // absolute-form request: the origin's host
		ticketHandler(w, r)
	}, nil)
	proxy.Start()

	cmd := exec.Command(os.Args[0], "-test.run=^TestProxyFromEnvironmentChild$", "-test.v")
	cmd.Env = append(cleanProxyEnv(), "HTTP_PROXY="+proxy.URL, "WACHT_PROXY_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ticket=tk_1\n") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if _, ok := hosts.Load("wacht.test"); !ok || proxy.reqs.Load() != 1 {
		t.Errorf("proxy saw %d requests, for %v; want 1 for wacht.test", proxy.reqs.Load(), keys(&hosts))
	}
}

// TestProxyFromEnvironmentChild issues one ticket from http://wacht.test (a
// name that never resolves) in the environment it was started with; see
// TestProxyFromEnvironment.
func TestProxyFromEnvironmentChild(t *testing.T) {
	if os.Getenv("WACHT_PROXY_CHILD") != "1" {
		t.Skip("run by TestProxyFromEnvironment")
	}
	c := newTestClient(t, "http://wacht.test", Config{})
	resp, err := c.Issue(context.Background(), ticket.Request{AppSlug: "aa_42"})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ticket=%s\n", resp.Ticket)
}

// cleanProxyEnv is the environment without proxy settings.
func cleanProxyEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "REQUEST_METHOD":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func keys(m *sync.Map) []any {
	var ks []any
	m.Range(func(k, _ any) bool { ks = append(ks, k); return true })
	return ks
}

// TestCloseIdleConnections: the client's own idle connections are closed
// (the server sees them go) and the client still works afterwards; a
// caller's HTTPClient is left alone.
func TestCloseIdleConnections(t *testing.T) {
	waitClosed := func(srv *countingServer, want int64) int64 {
		for deadline := time.Now().Add(5 * time.Second); srv.closed.Load() != want && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		return srv.closed.Load()
	}
	t.Run("own transport", func(t *testing.T) {
		srv := newCountingServer(t, ticketHandler, nil)
		srv.Start()
		c := newTestClient(t, srv.URL, Config{})
		if err := issue(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		c.CloseIdleConnections()
		if n := waitClosed(srv, 1); n != 1 {
			t.Errorf("server saw %d connections closed, want 1", n)
		}
		if err := issue(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		if n := srv.conns.Load(); n != 2 {
			t.Errorf("%d connections, want 2 (a new one after the close)", n)
		}
	})
	t.Run("caller's client", func(t *testing.T) {
		srv := newCountingServer(t, ticketHandler, nil)
		srv.Start()
		c := newTestClient(t, srv.URL, Config{HTTPClient: defaultHTTPClient()})
		if err := issue(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		c.CloseIdleConnections()
		time.Sleep(50 * time.Millisecond)
		if err := issue(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		if n, closed := srv.conns.Load(), srv.closed.Load(); n != 1 || closed != 0 {
			t.Errorf("%d connections, %d closed; want 1, 0", n, closed)
		}
	})
}

// TestNotHTTPRedacted: a server that answers with something other than HTTP,
// echoing the API key, gets ErrUnavailable without the key in the error.
func TestNotHTTPRedacted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // cleanups run last first: after the Close below
	t.Cleanup(func() { _ = ln.Close() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			req, err := http.ReadRequest(bufio.NewReader(conn))
			if err == nil {
				_, _ = io.WriteString(conn, req.Header.Get("Authorization")+"\r\n\r\n")
			}
			_ = conn.Close()
		}
	})
	c := newTestClient(t, "http://"+ln.Addr().String(), Config{})
	err = issue(context.Background(), c)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "malformed HTTP") ||
		strings.Contains(err.Error(), testAPIKey) || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("err = %v", err)
	}
}

// TestConcurrentChaos mixes successes, timeouts, cancellations and dropped
// connections from many goroutines (run it with -race): every result is a
// success or ErrUnavailable, and the client ends usable.
func TestConcurrentChaos(t *testing.T) {
	var n atomic.Int64
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 5 {
		case 0: // drop the connection
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		case 1: // slower than the client's Timeout
			select {
			case <-time.After(30 * time.Millisecond):
			case <-r.Context().Done():
			}
		}
		ticketHandler(w, r)
	}, nil)
	srv.Start()
	c := newTestClient(t, srv.URL, Config{Timeout: 20 * time.Millisecond})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 30 {
				ctx, cancel := context.WithCancel(context.Background())
				if (g+i)%7 == 0 {
					time.AfterFunc(time.Duration(i%3)*time.Millisecond, cancel)
				}
				err := issue(ctx, c)
				cancel()
				if err != nil && !errors.Is(err, ErrUnavailable) {
					t.Errorf("err = %v", err)
				}
			}
		})
	}
	wg.Wait()
	c.timeout = 5 * time.Second
	for range 3 {
		if err := issue(context.Background(), c); err != nil && !strings.Contains(err.Error(), "EOF") {
			t.Fatalf("after the chaos: %v", err)
		}
	}
}
