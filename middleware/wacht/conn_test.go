package wacht

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// goodTicket is a valid POST /session/tickets answer.
const goodTicket = `{"ticket":"tk_1","expires_at":1800000000,"url":"https://x.example/p?ticket=tk_1"}`

// response200 is a keep-alive 200 with body and extra header lines (each
// ending in CRLF).
func response200(extra, body string) string {
	return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n" + extra + "\r\n" + body
}

// rawServer is a TCP server speaking whatever its serve function writes, for
// responses net/http's server would not send. It counts connections and
// requests, and closes every connection when the test ends.
type rawServer struct {
	ln    net.Listener
	conns atomic.Int64
	reqs  atomic.Int64
	wg    sync.WaitGroup

	mu     sync.Mutex
	open   []net.Conn
	closed bool
}

func newRawServer(t *testing.T, serve func(s *rawServer, c net.Conn, br *bufio.Reader)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				_ = c.Close()
				continue
			}
			s.open = append(s.open, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				serve(s, c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		s.closed = true
		for _, c := range s.open {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *rawServer) URL() string { return "http://" + s.ln.Addr().String() }

// readRequest reads and counts one request with its body; false once the
// client has closed the connection.
func (s *rawServer) readRequest(br *bufio.Reader) (*http.Request, bool) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, false
	}
	_, _ = io.Copy(io.Discard, req.Body)
	s.reqs.Add(1)
	return req, true
}

// answerEach writes resp to every request on the connection, closing it
// after the first answer when closeAfter is set.
func answerEach(resp string, closeAfter bool) func(*rawServer, net.Conn, *bufio.Reader) {
	return func(s *rawServer, c net.Conn, br *bufio.Reader) {
		for {
			if _, ok := s.readRequest(br); !ok {
				return
			}
			if _, err := io.WriteString(c, resp); err != nil || closeAfter {
				return
			}
		}
	}
}

// countingServer is an httptest server running h that counts the
// connections it accepted and the requests it served.
func countingServer(t *testing.T, h http.HandlerFunc, configure func(*httptest.Server)) (srv *httptest.Server, conns, reqs *atomic.Int64) {
	t.Helper()
	conns, reqs = new(atomic.Int64), new(atomic.Int64)
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs.Add(1)
		h(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	if configure != nil {
		configure(srv)
	}
	t.Cleanup(srv.Close)
	return srv, conns, reqs
}

func ticketHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, goodTicket)
}

// poolClient is a test client that must be using the pool.
func poolClient(t *testing.T, baseURL string, cfg Config) *Client {
	t.Helper()
	c := newTestClient(t, baseURL, cfg)
	if c.pool == nil {
		t.Fatalf("client for %s does not use the pool (proxy in the environment?)", baseURL)
	}
	return c
}

func issue(ctx context.Context, c *Client) error {
	_, err := c.Issue(ctx, ticket.Request{AppSlug: "aa_42", Subject: "alice"})
	return err
}

// TestPoolReuse: keep-alive connections are reused, and parallel callers
// open no more connections than there are of them.
func TestPoolReuse(t *testing.T) {
	tests := []struct {
		name      string
		callers   int
		calls     int // per caller
		wantConns int64
	}{
		{name: "sequential calls share one connection", callers: 1, calls: 20, wantConns: 1},
		{name: "parallel callers open at most one connection each", callers: 8, calls: 25, wantConns: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, conns, reqs := countingServer(t, ticketHandler, nil)
			srv.Start()
			c := poolClient(t, srv.URL, Config{})
			var wg sync.WaitGroup
			for range tt.callers {
				wg.Go(func() {
					for range tt.calls {
						if err := issue(context.Background(), c); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if n := conns.Load(); n < 1 || n > tt.wantConns {
				t.Errorf("server accepted %d connections, want 1..%d", n, tt.wantConns)
			}
			if n := reqs.Load(); n != int64(tt.callers*tt.calls) {
				t.Errorf("server saw %d requests, want %d", n, tt.callers*tt.calls)
			}
			if idle := c.pool.idleCount(); int64(idle) != conns.Load() {
				t.Errorf("%d idle connections, want all %d back in the pool", idle, conns.Load())
			}
		})
	}
}

// TestPoolResponses: what the server answers decides both the result and
// whether the connection may carry the next request.
func TestPoolResponses(t *testing.T) {
	big := strings.Repeat("a", maxBodyBytes+100<<10)
	justOver := strings.Repeat("a", maxBodyBytes+10)
	tests := []struct {
		name       string
		resp       string
		closeAfter bool // the server closes the connection after answering
		call       func(context.Context, *Client) error
		wantErr    error  // nil: success
		wantMsg    string // in the error
		wantStatus int    // of an *APIError
		wantIdle   int    // connections pooled after the call
	}{
		{name: "content length", resp: response200("", goodTicket), wantIdle: 1},
		{name: "connection close", resp: response200("Connection: close\r\n", goodTicket), closeAfter: true},
		{name: "connection close, server keeps it open", resp: response200("Connection: close\r\n", goodTicket)},
		{name: "chunked", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", 10, goodTicket[:10], len(goodTicket)-10, goodTicket[10:]), wantIdle: 1},
		{name: "chunked with trailer", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\nX-Sum: 1\r\n\r\n", len(goodTicket), goodTicket), wantIdle: 1},
		{name: "no length: read until close", resp: "HTTP/1.1 200 OK\r\n\r\n" + goodTicket, closeAfter: true},
		{name: "HTTP/1.0 is not reused", resp: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: " +
			strconv.Itoa(len(goodTicket)) + "\r\n\r\n" + goodTicket},
		{name: "100 then 200", resp: "HTTP/1.1 100 Continue\r\n\r\n" + response200("", goodTicket), wantIdle: 1},
		{name: "103 early hints then 200", resp: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + response200("", goodTicket), wantIdle: 1},
		{name: "too many 1xx", resp: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 6) + response200("", goodTicket),
			wantErr: ErrUnavailable, wantMsg: "too many 1xx"},
		{name: "101 is final and ends reuse", resp: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n",
			wantErr: ticket.ErrUpstream, wantStatus: http.StatusSwitchingProtocols},
		{name: "error status keeps the connection", resp: "HTTP/1.1 404 Not Found\r\nContent-Length: 20\r\n\r\n" + `{"error":"no app x"}`,
			wantErr: ErrNotFound, wantStatus: http.StatusNotFound, wantIdle: 1},
		{name: "204 for a call ignoring the body", resp: "HTTP/1.1 204 No Content\r\n\r\n",
			call: func(ctx context.Context, c *Client) error { return c.DeleteApp(ctx, "aa_42") }, wantIdle: 1},
		{name: "body over 1 MiB", resp: response200("", big), wantErr: ErrInvalidResponse, wantMsg: "over 1 MiB"},
		{name: "body just over 1 MiB is drained", resp: response200("", justOver), wantErr: ErrInvalidResponse, wantMsg: "over 1 MiB", wantIdle: 1},
		{name: "truncated body", resp: "HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n" + goodTicket[:20], closeAfter: true,
			wantErr: ErrInvalidResponse, wantMsg: "cut short"},
		{name: "truncated chunk", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\n" + goodTicket[:20], closeAfter: true,
			wantErr: ErrInvalidResponse, wantMsg: "cut short"},
		{name: "not HTTP", resp: "SSH-2.0-OpenSSH_9.6\r\n\r\n", closeAfter: true, wantErr: ErrUnavailable, wantMsg: "malformed HTTP"},
		{name: "closed without an answer", resp: "", closeAfter: true, wantErr: ErrUnavailable, wantMsg: "EOF"},
		{name: "unsolicited bytes after the response", resp: response200("", goodTicket) + "HTTP/1.1 200 OK\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRawServer(t, answerEach(tt.resp, tt.closeAfter))
			c := poolClient(t, srv.URL(), Config{})
			call := tt.call
			if call == nil {
				call = issue
			}
			err := call(context.Background(), c)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			} else if !errors.Is(err, tt.wantErr) || !strings.Contains(fmt.Sprint(err), tt.wantMsg) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.wantErr, tt.wantMsg)
			}
			var ae *APIError
			if got := errors.As(err, &ae); got != (tt.wantStatus != 0) || (got && ae.Status != tt.wantStatus) {
				t.Errorf("err = %v, want an *APIError with status %d: %v", err, tt.wantStatus, got)
			}
			if n := srv.reqs.Load(); n != 1 {
				t.Errorf("server saw %d requests, want 1", n)
			}
			if idle := c.pool.idleCount(); idle != tt.wantIdle {
				t.Errorf("%d idle connections, want %d", idle, tt.wantIdle)
			}
			// Whatever happened, the next call works.
			if err := call(context.Background(), c); (err == nil) != (tt.wantErr == nil) {
				t.Errorf("second call: err = %v", err)
			}
		})
	}
}

// TestPoolStaleConnections: a connection the server closed (or wrote to)
// while it sat idle is noticed before reuse; the request goes on a new
// connection and reaches the server once.
func TestPoolStaleConnections(t *testing.T) {
	tests := []struct {
		name  string
		serve func(*rawServer, net.Conn, *bufio.Reader)
	}{
		{name: "server closes after one response", serve: func(s *rawServer, c net.Conn, br *bufio.Reader) {
			if _, ok := s.readRequest(br); ok {
				_, _ = io.WriteString(c, response200("", goodTicket))
			}
		}},
		{name: "server writes to the idle connection", serve: func(s *rawServer, c net.Conn, br *bufio.Reader) {
			if _, ok := s.readRequest(br); ok {
				_, _ = io.WriteString(c, response200("", goodTicket))
				time.Sleep(10 * time.Millisecond)
				_, _ = io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\n\r\n")
			}
			_, _ = io.Copy(io.Discard, c)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRawServer(t, tt.serve)
			c := poolClient(t, srv.URL(), Config{})
			c.pool.staleAfter = 50 * time.Millisecond
			for i := range 3 {
				if i > 0 {
					time.Sleep(100 * time.Millisecond)
				}
				if err := issue(context.Background(), c); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			if n := srv.reqs.Load(); n != 3 {
				t.Errorf("server saw %d requests, want 3", n)
			}
			if n := srv.conns.Load(); n != 3 {
				t.Errorf("server accepted %d connections, want 3", n)
			}
		})
	}

	t.Run("httptest server with a short IdleTimeout", func(t *testing.T) {
		srv, conns, reqs := countingServer(t, ticketHandler, func(s *httptest.Server) { s.Config.IdleTimeout = 30 * time.Millisecond })
		srv.Start()
		c := poolClient(t, srv.URL, Config{})
		c.pool.staleAfter = 10 * time.Millisecond
		if err := issue(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
		if err := issue(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		if reqs.Load() != 2 || conns.Load() != 2 {
			t.Errorf("server saw %d requests on %d connections, want 2 on 2", reqs.Load(), conns.Load())
		}
	})

	t.Run("fresh idle connections are reused without a check", func(t *testing.T) {
		srv, conns, _ := countingServer(t, ticketHandler, nil)
		srv.Start()
		c := poolClient(t, srv.URL, Config{})
		c.pool.staleAfter = time.Hour
		for range 3 {
			if err := issue(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n := conns.Load(); n != 1 {
			t.Errorf("server accepted %d connections, want 1", n)
		}
	})
}

// TestPoolIdleLimits: at most maxIdle connections wait, and none longer
// than idleTimeout.
func TestPoolIdleLimits(t *testing.T) {
	t.Run("max idle", func(t *testing.T) {
		var inFlight sync.WaitGroup
		inFlight.Add(5)
		srv, conns, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
			inFlight.Done()
			inFlight.Wait() // five connections open at once
			ticketHandler(w, r)
		}, nil)
		srv.Start()
		c := poolClient(t, srv.URL, Config{})
		c.pool.maxIdle = 2
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				if err := issue(context.Background(), c); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if conns.Load() != 5 || c.pool.idleCount() != 2 {
			t.Errorf("%d connections, %d idle; want 5, 2", conns.Load(), c.pool.idleCount())
		}
	})
	t.Run("idle timeout", func(t *testing.T) {
		srv, conns, _ := countingServer(t, ticketHandler, nil)
		srv.Start()
		c := poolClient(t, srv.URL, Config{})
		c.pool.idleTimeout = 20 * time.Millisecond
		c.pool.staleAfter = time.Hour
		for range 2 {
			if err := issue(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if n := conns.Load(); n != 2 {
			t.Errorf("server accepted %d connections, want 2 (the expired one not reused)", n)
		}
	})
	t.Run("expired connections are dropped when others return", func(t *testing.T) {
		srv, _, _ := countingServer(t, ticketHandler, nil)
		srv.Start()
		c := poolClient(t, srv.URL, Config{})
		old, err := c.pool.dialConn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		old.idleAt = time.Now().Add(-time.Hour)
		c.pool.idle = []*poolConn{old} // at the bottom of the stack: never popped
		fresh, err := c.pool.dialConn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		c.pool.put(fresh)
		if c.pool.idleCount() != 1 || c.pool.idle[0] != fresh {
			t.Errorf("idle = %v, want only the fresh connection", c.pool.idle)
		}
		if _, err := old.nc.Write([]byte("x")); err == nil {
			t.Error("the expired connection was not closed")
		}
	})
}

// TestCloseIdleConnections: the pool's idle connections are closed (the
// server sees them go) and the client still works afterwards.
func TestCloseIdleConnections(t *testing.T) {
	var closed atomic.Int64
	srv, conns, _ := countingServer(t, ticketHandler, func(s *httptest.Server) {
		counting := s.Config.ConnState
		s.Config.ConnState = func(c net.Conn, st http.ConnState) {
			counting(c, st)
			if st == http.StateClosed {
				closed.Add(1)
			}
		}
	})
	srv.Start()
	c := poolClient(t, srv.URL, Config{})
	if err := issue(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	c.CloseIdleConnections()
	if n := c.pool.idleCount(); n != 0 {
		t.Fatalf("%d idle connections after CloseIdleConnections", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for closed.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if closed.Load() != 1 {
		t.Error("the server did not see the connection closed")
	}
	if err := issue(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (a new one after the close)", n)
	}
}

// TestPoolCancel: a call that times out or is cancelled returns promptly,
// and its connection is never reused.
func TestPoolCancel(t *testing.T) {
	hang := func(headers bool) func(*rawServer, net.Conn, *bufio.Reader) {
		return func(s *rawServer, c net.Conn, br *bufio.Reader) {
			if _, ok := s.readRequest(br); !ok {
				return
			}
			if headers {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n"+goodTicket[:20])
			}
			_, _ = io.Copy(io.Discard, c) // until the client (or the test) closes it
		}
	}
	tests := []struct {
		name    string
		headers bool
		cancel  bool // cancel the context instead of letting Timeout expire
		want    error
	}{
		{name: "timeout waiting for headers", want: context.DeadlineExceeded},
		{name: "timeout mid-body", headers: true, want: context.DeadlineExceeded},
		{name: "cancelled waiting for headers", cancel: true, want: context.Canceled},
		{name: "cancelled mid-body", headers: true, cancel: true, want: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRawServer(t, hang(tt.headers))
			timeout := 100 * time.Millisecond
			if tt.cancel {
				timeout = time.Minute
			}
			c := poolClient(t, srv.URL(), Config{Timeout: timeout})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				go func() {
					for srv.reqs.Load() == 0 && ctx.Err() == nil {
						time.Sleep(time.Millisecond)
					}
					time.Sleep(20 * time.Millisecond)
					cancel()
				}()
			}
			start := time.Now()
			err := issue(ctx, c)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrUnavailable) || !errors.Is(err, ticket.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable wrapping %v", err, tt.want)
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("returned after %s", elapsed)
			}
			if n := c.pool.idleCount(); n != 0 {
				t.Errorf("%d idle connections, want 0 (a timed-out connection is not reused)", n)
			}
			if n := srv.reqs.Load(); n != 1 {
				t.Errorf("server saw %d requests, want 1", n)
			}
		})
	}
}

// TestPoolHeaderTimeout: with a Config.Timeout longer than the response
// header timeout (net/http's default client had one), a server that never
// answers is given up on at the header timeout, while a slow body still has
// the whole call's time.
func TestPoolHeaderTimeout(t *testing.T) {
	tests := []struct {
		name    string
		serve   func(*rawServer, net.Conn, *bufio.Reader)
		wantErr string // "" for success
	}{
		{name: "no response head", serve: func(s *rawServer, c net.Conn, br *bufio.Reader) {
			s.readRequest(br)
			_, _ = io.Copy(io.Discard, c)
		}, wantErr: "i/o timeout"},
		{name: "slow body after the head", serve: func(s *rawServer, c net.Conn, br *bufio.Reader) {
			if _, ok := s.readRequest(br); !ok {
				return
			}
			resp := response200("", goodTicket)
			cut := strings.Index(resp, "\r\n\r\n") + 4
			_, _ = io.WriteString(c, resp[:cut])
			time.Sleep(150 * time.Millisecond)
			_, _ = io.WriteString(c, resp[cut:])
			_, _ = io.Copy(io.Discard, c)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRawServer(t, tt.serve)
			c := poolClient(t, srv.URL(), Config{Timeout: time.Minute})
			c.pool.headerTimeout = 50 * time.Millisecond
			start := time.Now()
			err := issue(context.Background(), c)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.pool.idleCount() != 1 {
					t.Error("the connection was not pooled")
				}
				return
			}
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want ErrUnavailable saying %q", err, tt.wantErr)
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("returned after %s", elapsed)
			}
			if srv.reqs.Load() != 1 {
				t.Errorf("server saw %d requests, want 1 (a timeout is not retried)", srv.reqs.Load())
			}
		})
	}
}

// scriptedDial replaces the pool's dialer: dial n goes to script[n] (the
// last repeats), through wrap when set; it counts the dials.
type scriptedDial struct {
	script []string
	wrap   func(n int, c net.Conn) net.Conn
	dials  atomic.Int64
}

func (d *scriptedDial) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	n := int(d.dials.Add(1)) - 1
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, network, d.script[min(n, len(d.script)-1)])
	if err != nil || d.wrap == nil {
		return c, err
	}
	return d.wrap(n, c), nil
}

// failingWrites is a connection whose writes fail once armed, after
// writing at most max bytes (under TLS: of the encrypted record).
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

// TestPoolRetry: one retry, only when nothing of the request reached the
// connection.
func TestPoolRetry(t *testing.T) {
	srv, _, reqs := countingServer(t, ticketHandler, nil)
	srv.Start()
	tlsSrv, _, tlsReqs := countingServer(t, ticketHandler, nil)
	tlsSrv.StartTLS()
	trusted := tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig

	const refused = "refused"
	tests := []struct {
		name   string
		tls    bool
		script []string // dial targets, the last repeating; "" (or none) is the server
		// failAfter >= 0 breaks the first connection's writes on the
		// second call, after that many bytes.
		failAfter int
		wantDials int64
		wantReqs  int64
		wantErr   string // in the last call's error; "" for success
	}{
		{name: "first dial refused: one retry succeeds", script: []string{refused, ""}, failAfter: -1, wantDials: 2, wantReqs: 1},
		{name: "every dial refused: exactly one retry", script: []string{refused}, failAfter: -1, wantDials: 2, wantErr: "connection refused"},
		{name: "reused connection fails before writing: retried on a new one", failAfter: 0, wantDials: 2, wantReqs: 2},
		{name: "connection fails mid-request: not retried", failAfter: 10, wantDials: 1, wantReqs: 1, wantErr: "connection reset"},
		{name: "TLS: first dial refused: one retry succeeds", tls: true, script: []string{refused, ""}, failAfter: -1, wantDials: 2, wantReqs: 1},
		{name: "TLS: reused connection fails before writing: retried", tls: true, failAfter: 0, wantDials: 2, wantReqs: 2},
		{name: "TLS: record cut short: not retried", tls: true, failAfter: 10, wantDials: 1, wantReqs: 1, wantErr: "connection reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server, count := srv, reqs
			if tt.tls {
				server, count = tlsSrv, tlsReqs
			}
			d := &scriptedDial{}
			script := tt.script
			if len(script) == 0 {
				script = []string{""}
			}
			for _, target := range script {
				if target == refused {
					target = refusedAddr(t)
				} else {
					target = server.Listener.Addr().String()
				}
				d.script = append(d.script, target)
			}
			var first *failingWrites
			if tt.failAfter >= 0 {
				d.wrap = func(n int, c net.Conn) net.Conn {
					if n > 0 {
						return c
					}
					first = &failingWrites{Conn: c, max: tt.failAfter}
					return first
				}
			}
			before := count.Load()
			c := poolClient(t, "http://wacht.test", Config{})
			if tt.tls {
				c = poolClient(t, "https://wacht.test", Config{})
				c.pool.tlsConfig = clientTLSConfig(trusted, "127.0.0.1")
			}
			c.pool.dial = d.dial
			err := issue(context.Background(), c)
			if first != nil {
				if err != nil {
					t.Fatalf("first call: %v", err)
				}
				first.armed.Store(true)
				err = issue(context.Background(), c)
			}
			if tt.wantErr == "" && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr != "" && (!errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want ErrUnavailable saying %q", err, tt.wantErr)
			}
			if n := d.dials.Load(); n != tt.wantDials {
				t.Errorf("dials = %d, want %d", n, tt.wantDials)
			}
			if n := count.Load() - before; n != tt.wantReqs {
				t.Errorf("server saw %d requests, want %d", n, tt.wantReqs)
			}
		})
	}

	t.Run("reused connection breaks after the request was written: not retried", func(t *testing.T) {
		srv := newRawServer(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
			if _, ok := s.readRequest(br); ok {
				_, _ = io.WriteString(c, response200("", goodTicket))
			}
			s.readRequest(br) // the second request is read, never answered
		})
		c := poolClient(t, srv.URL(), Config{})
		if err := issue(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		err := issue(context.Background(), c)
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), `Post "`+srv.URL()+`/session/tickets": EOF`) {
			t.Fatalf("err = %v", err)
		}
		if srv.reqs.Load() != 2 || srv.conns.Load() != 1 {
			t.Errorf("server saw %d requests on %d connections, want 2 on 1", srv.reqs.Load(), srv.conns.Load())
		}
	})
}

// TestPoolTLS: https through the pool, with the test server's certificate
// trusted through the injected TLS config.
func TestPoolTLS(t *testing.T) {
	var protos sync.Map
	srv, conns, reqs := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			t.Error("request without TLS")
		}
		protos.Store(r.Proto, true)
		ticketHandler(w, r)
	}, func(s *httptest.Server) {
		s.EnableHTTP2 = true // the pool must still get HTTP/1.1
		s.Config.IdleTimeout = 50 * time.Millisecond
		s.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted case's handshake errors
	})
	srv.StartTLS()
	trusted := srv.Client().Transport.(*http.Transport).TLSClientConfig

	t.Run("trusted", func(t *testing.T) {
		c := poolClient(t, srv.URL, Config{})
		c.pool.tlsConfig = clientTLSConfig(trusted, "127.0.0.1")
		c.pool.staleAfter = 20 * time.Millisecond
		before := conns.Load()
		for range 5 {
			if err := issue(context.Background(), c); err != nil {
				t.Fatal(err)
			}
		}
		if n := conns.Load() - before; n != 1 {
			t.Errorf("%d connections for 5 calls, want 1", n)
		}
		// The server closes the idle connection: noticed under TLS too.
		time.Sleep(200 * time.Millisecond)
		if err := issue(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		if n := conns.Load() - before; n != 2 {
			t.Errorf("%d connections, want 2", n)
		}
		protos.Range(func(k, _ any) bool {
			if k != "HTTP/1.1" {
				t.Errorf("request over %s", k)
			}
			return true
		})
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		before := reqs.Load()
		c := poolClient(t, srv.URL, Config{})
		err := issue(context.Background(), c)
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err = %v", err)
		}
		if reqs.Load() != before {
			t.Error("a request was sent over an unverified connection")
		}
	})
}

// TestPoolSelection: the pool is used unless a proxy applies, a client is
// supplied, or a value needs net/http's own checks.
func TestPoolSelection(t *testing.T) {
	noProxy := func(*http.Request) (*url.URL, error) { return nil, nil }
	viaProxy := http.ProxyURL(&url.URL{Scheme: "http", Host: "proxy.example:3128"})
	badProxy := func(*http.Request) (*url.URL, error) { return nil, errors.New("invalid proxy address") }
	tests := []struct {
		name    string
		base    string
		proxy   func(*http.Request) (*url.URL, error)
		headers []string
		want    bool
	}{
		{name: "no proxy", base: "https://api.wacht.dev", proxy: noProxy, want: true},
		{name: "proxy applies", base: "https://api.wacht.dev", proxy: viaProxy},
		{name: "proxy setting is invalid", base: "https://api.wacht.dev", proxy: badProxy},
		{name: "ipv6 literal", base: "http://[::1]:8080", proxy: noProxy, want: true},
		{name: "internationalized host", base: "https://bücher.example", proxy: noProxy},
		{name: "control byte in a header value", base: "https://api.wacht.dev", proxy: noProxy, headers: []string{"agent\x00"}},
		{name: "tab in a header value is fine", base: "https://api.wacht.dev", proxy: noProxy, headers: []string{"agent\t1"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.base)
			if err != nil {
				t.Fatal(err)
			}
			if got := poolUsable(u, tt.proxy, tt.headers...); got != tt.want {
				t.Errorf("poolUsable = %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("caller-supplied client", func(t *testing.T) {
		c := newTestClient(t, "http://127.0.0.1:1", Config{HTTPClient: &http.Client{}})
		if c.pool != nil {
			t.Error("the pool is used despite Config.HTTPClient")
		}
	})
	t.Run("invalid user agent keeps net/http's error", func(t *testing.T) {
		c := newTestClient(t, "http://127.0.0.1:1", Config{UserAgent: "a\x01b"})
		if c.pool != nil || !c.ownHTTP {
			t.Fatal("the pool is used for an invalid header value")
		}
		if err := issue(context.Background(), c); err == nil || !strings.Contains(err.Error(), "invalid header field value") {
			t.Errorf("err = %v", err)
		}
	})

	// http.ProxyFromEnvironment reads the environment once per process, so
	// the environment cases run in a child process each.
	for _, tt := range []struct {
		name string
		env  []string
		want string
	}{
		{name: "HTTPS_PROXY applies", env: []string{"HTTPS_PROXY=http://proxy.example:3128"}, want: "nethttp"},
		{name: "NO_PROXY exempts the host", env: []string{"HTTPS_PROXY=http://proxy.example:3128", "NO_PROXY=api.wacht.dev"}, want: "pool"},
		{name: "HTTP_PROXY does not apply to https", env: []string{"HTTP_PROXY=http://proxy.example:3128"}, want: "pool"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestPoolSelectionChild$", "-test.v")
			cmd.Env = append(cleanProxyEnv(), append(tt.env, "WACHT_POOL_SELECTION_CHILD=1")...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "sender="+tt.want+"\n") {
				t.Errorf("child output:\n%s\nwant sender=%s", out, tt.want)
			}
		})
	}
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

// TestPoolSelectionChild reports which sender New picks for the hosted API
// in the environment it was started with (see TestPoolSelection).
func TestPoolSelectionChild(t *testing.T) {
	if os.Getenv("WACHT_POOL_SELECTION_CHILD") != "1" {
		t.Skip("run by TestPoolSelection")
	}
	c := newTestClient(t, DefaultBaseURL, Config{})
	sender := "pool"
	if c.pool == nil {
		sender = "nethttp"
	}
	fmt.Printf("sender=%s\n", sender)
}

// TestPoolRequestBytes: what goes on the wire, byte for byte where it
// matters.
func TestPoolRequestBytes(t *testing.T) {
	var mu sync.Mutex
	var heads []string
	var bodies []string
	srv := newRawServer(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		for {
			var head strings.Builder
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				head.WriteString(line)
				if line == "\r\n" {
					break
				}
			}
			req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head.String())))
			if err != nil {
				return
			}
			body := make([]byte, max(req.ContentLength, 0))
			if _, err := io.ReadFull(br, body); err != nil {
				return
			}
			s.reqs.Add(1)
			mu.Lock()
			heads = append(heads, head.String())
			bodies = append(bodies, string(body))
			mu.Unlock()
			if _, err := io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n"); err != nil {
				return
			}
		}
	})
	host := strings.TrimPrefix(srv.URL(), "http://")
	c := poolClient(t, srv.URL()+"/wacht/", Config{UserAgent: "acme/2"})
	common := "Host: " + host + "\r\nAuthorization: Bearer " + testAPIKey + "\r\nUser-Agent: acme/2\r\nAccept: application/json\r\n"
	ctx := context.Background()
	tests := []struct {
		name     string
		call     func() error
		wantHead string
		wantBody string
	}{
		{
			name:     "POST with a body",
			call:     func() error { return c.RevokeKey(ctx, "aa_42", "7", "leak") },
			wantHead: "POST /wacht/api-auth/apps/aa_42/keys/7/revoke HTTP/1.1\r\n" + common + "Content-Type: application/json\r\nContent-Length: 17\r\n\r\n",
			wantBody: `{"reason":"leak"}`,
		},
		{
			name:     "POST without a body says so",
			call:     func() error { _, _, err := c.RotateKey(ctx, "aa_42", "7"); return err },
			wantHead: "POST /wacht/api-auth/apps/aa_42/keys/7/rotate HTTP/1.1\r\n" + common + "Content-Length: 0\r\n\r\n",
		},
		{
			name:     "GET with an escaped path and a query",
			call:     func() error { _, err := c.ListKeys(ctx, "a/b c", true); return err },
			wantHead: "GET /wacht/api-auth/apps/a%2Fb%20c/keys?include_inactive=true HTTP/1.1\r\n" + common + "\r\n",
		},
		{
			name:     "DELETE without a body",
			call:     func() error { return c.DeleteApp(ctx, "aa_42") },
			wantHead: "DELETE /wacht/api-auth/apps/aa_42 HTTP/1.1\r\n" + common + "\r\n",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = tt.call() // 204 is not every call's contract; the bytes are what matters
			mu.Lock()
			defer mu.Unlock()
			if len(heads) != i+1 {
				t.Fatalf("server saw %d requests, want %d", len(heads), i+1)
			}
			if heads[i] != tt.wantHead || bodies[i] != tt.wantBody {
				t.Errorf("request =\n%q %q\nwant\n%q %q", heads[i], bodies[i], tt.wantHead, tt.wantBody)
			}
		})
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestPoolErrorsRedacted: a server echoing the API key in what it sends
// instead of HTTP does not get the key into an error.
func TestPoolErrorsRedacted(t *testing.T) {
	srv := newRawServer(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		if req, ok := s.readRequest(br); ok {
			_, _ = io.WriteString(c, req.Header.Get("Authorization")+"\r\n\r\n")
		}
	})
	c := poolClient(t, srv.URL(), Config{})
	err := issue(context.Background(), c)
	if !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), testAPIKey) || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("err = %v", err)
	}
}

// TestPeekAlive checks the liveness peek on real sockets.
func TestPeekAlive(t *testing.T) {
	pipeA, pipeB := net.Pipe()
	defer pipeA.Close()
	defer pipeB.Close()
	tests := []struct {
		name string
		peer func(net.Conn) // what the server side does first
		want bool
	}{
		{name: "quiet", peer: func(net.Conn) {}, want: true},
		{name: "peer closed", peer: func(c net.Conn) { _ = c.Close() }},
		{name: "peer sent a byte", peer: func(c net.Conn) { _, _ = c.Write([]byte("x")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			server, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer server.Close()
			tt.peer(server)
			time.Sleep(20 * time.Millisecond) // let it arrive
			if got := peekAlive(client); got != tt.want {
				t.Errorf("peekAlive = %v, want %v", got, tt.want)
			}
			if tt.want {
				// The peek consumed nothing and left the connection usable.
				_, _ = server.Write([]byte("y"))
				buf := make([]byte, 1)
				_ = client.SetReadDeadline(time.Now().Add(time.Second))
				if _, err := io.ReadFull(client, buf); err != nil || buf[0] != 'y' {
					t.Errorf("read after peek = %q, %v", buf, err)
				}
			}
		})
	}
	t.Run("not a socket", func(t *testing.T) {
		if peekAlive(pipeA) {
			t.Error("peekAlive trusted a connection it cannot look at")
		}
	})
}

// TestPoolConcurrentChaos mixes successes, timeouts, cancellations and
// dropped connections from many goroutines (run it with -race): every
// result is a success or ErrUnavailable, and the pool ends usable.
func TestPoolConcurrentChaos(t *testing.T) {
	var n atomic.Int64
	srv := newRawServer(t, func(s *rawServer, c net.Conn, br *bufio.Reader) {
		for {
			if _, ok := s.readRequest(br); !ok {
				return
			}
			switch n.Add(1) % 5 {
			case 0: // drop the connection
				return
			case 1: // slow
				time.Sleep(30 * time.Millisecond)
			}
			if _, err := io.WriteString(c, response200("", goodTicket)); err != nil {
				return
			}
		}
	})
	c := poolClient(t, srv.URL(), Config{Timeout: 20 * time.Millisecond})
	c.pool.staleAfter = 5 * time.Millisecond
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

// TestClientTLSConfig: the pool's TLS settings whatever the base config.
func TestClientTLSConfig(t *testing.T) {
	for _, tt := range []struct {
		name       string
		base       *tls.Config
		wantServer string
		wantMin    uint16
	}{
		{name: "defaults", wantServer: "api.wacht.dev", wantMin: tls.VersionTLS12},
		{name: "old minimum raised", base: &tls.Config{MinVersion: tls.VersionTLS10, NextProtos: []string{"h2"}}, wantServer: "api.wacht.dev", wantMin: tls.VersionTLS12},
		{name: "set values kept", base: &tls.Config{ServerName: "other.example", MinVersion: tls.VersionTLS13}, wantServer: "other.example", wantMin: tls.VersionTLS13},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := clientTLSConfig(tt.base, "api.wacht.dev")
			if cfg.ServerName != tt.wantServer || cfg.MinVersion != tt.wantMin || len(cfg.NextProtos) != 1 || cfg.NextProtos[0] != "http/1.1" {
				t.Errorf("config = server %q min %x protos %q", cfg.ServerName, cfg.MinVersion, cfg.NextProtos)
			}
			if tt.base != nil && len(tt.base.NextProtos) == 1 && tt.base.NextProtos[0] != "h2" {
				t.Error("the base config was modified")
			}
		})
	}
}
