package wacht

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/ticket"
)

// refusedAddr returns a loopback address nothing listens on: dialing it is
// refused at once.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func refusedURL(t *testing.T) string { return "http://" + refusedAddr(t) }

// dialScript makes the client New would build, except that its dials go, in
// turn, to the addresses of script (the last one repeats), through wrap when
// set; it counts the dials.
type dialScript struct {
	script []string
	wrap   func(n int, c net.Conn) net.Conn
	dials  atomic.Int64
}

func (d *dialScript) client() *http.Client {
	var dialer net.Dialer
	hc := defaultHTTPClient()
	hc.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		n := int(d.dials.Add(1)) - 1
		c, err := dialer.DialContext(ctx, network, d.script[min(n, len(d.script)-1)])
		if err != nil || d.wrap == nil {
			return c, err
		}
		return d.wrap(n, c), nil
	}
	return hc
}

// TestRetry covers the one retry: only when the request never left, never
// after the server may have seen it, never after a timeout.
func TestRetry(t *testing.T) {
	f := newFakeWacht(t)
	c0 := newTestClient(t, f.URL(), Config{})
	provision(t, c0)
	good := strings.TrimPrefix(f.URL(), "http://")

	tests := []struct {
		name      string
		script    []string
		wantDials int64
		wantHits  int // requests the server saw (beyond provisioning)
		wantErr   error
	}{
		{name: "first dial refused: one retry succeeds", script: []string{refusedAddr(t), good}, wantDials: 2, wantHits: 1},
		{name: "every dial refused: exactly one retry", script: []string{refusedAddr(t)}, wantDials: 2, wantErr: ticket.ErrUnavailable},
		{name: "no failure: no retry", script: []string{good}, wantDials: 1, wantHits: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := &dialScript{script: tt.script}
			c := newTestClient(t, "http://wacht.test", Config{HTTPClient: ds.client()})
			before := f.hits()
			resp, err := c.Issue(context.Background(), ticket.Request{AppSlug: "aa_42", Subject: "alice"})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "connection refused") {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil || resp.Ticket == "" {
				t.Fatalf("Issue = %+v, %v", resp, err)
			}
			if got := ds.dials.Load(); got != tt.wantDials {
				t.Errorf("dials = %d, want %d", got, tt.wantDials)
			}
			if got := f.hits() - before; got != tt.wantHits {
				t.Errorf("server saw %d requests, want %d", got, tt.wantHits)
			}
		})
	}
}

// TestNoRetryAfterServerSawRequest: the server reads the request and drops
// the connection without answering. The request may have taken effect, so it
// is not sent again.
func TestNoRetryAfterServerSawRequest(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL, Config{})

	for _, call := range allCalls {
		t.Run(call.name, func(t *testing.T) {
			before := hits.Load()
			err := call.run(context.Background(), c)
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if call.name == "Issue" && !errors.Is(err, ticket.ErrUnavailable) {
				t.Errorf("Issue err = %v, want ticket.ErrUnavailable", err)
			}
			if n := hits.Load() - before; n != 1 {
				t.Errorf("server saw the request %d times, want 1", n)
			}
		})
	}
}

// blockingServer answers nothing until the client gives up (or the test
// ends); started is signalled for each request that arrives.
func blockingServer(t *testing.T, headers bool) (*httptest.Server, *atomic.Int64, chan struct{}) {
	t.Helper()
	var hits atomic.Int64
	started := make(chan struct{}, 16)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if headers {
			// Send the status and half a body, then stall.
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"ticket":"`))
			http.NewResponseController(w).Flush()
		}
		started <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv, &hits, started
}

// TestTimeoutAndCancel: a call whose Timeout passes, or whose context is
// cancelled, while it waits for the answer or reads the body returns promptly
// with ErrUnavailable wrapping the context's error, and is not retried.
func TestTimeoutAndCancel(t *testing.T) {
	for _, tt := range []struct {
		name    string
		headers bool // the server sends the head and half a body, then stalls
		cancel  bool // cancel the context instead of letting Timeout pass
		want    error
	}{
		{"timeout waiting for the answer", false, false, context.DeadlineExceeded},
		{"timeout while reading the body", true, false, context.DeadlineExceeded},
		{"cancelled while waiting for the answer", false, true, context.Canceled},
		{"cancelled while reading the body", true, true, context.Canceled},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, hits, started := blockingServer(t, tt.headers)
			timeout := 100 * time.Millisecond
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				timeout = time.Minute
				go func() {
					<-started
					cancel()
				}()
			}
			c := newTestClient(t, srv.URL, Config{Timeout: timeout})
			start := time.Now()
			_, err := c.Issue(ctx, ticket.Request{AppSlug: "aa_42"})
			elapsed := time.Since(start)
			if !errors.Is(err, ticket.ErrUnavailable) || !errors.Is(err, ErrUnavailable) || !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want ErrUnavailable wrapping %v", err, tt.want)
			}
			// Bounded, with generous slack for a loaded machine;
			// DefaultTimeout (5 s) would mean Config.Timeout was ignored.
			if elapsed > 3*time.Second {
				t.Errorf("Issue returned after %s", elapsed)
			}
			if n := hits.Load(); n != 1 {
				t.Errorf("server saw %d requests, want 1 (not retried)", n)
			}
		})
	}
}

// TestContextAlreadyCancelled: nothing is sent for a context that is done.
func TestContextAlreadyCancelled(t *testing.T) {
	f := newFakeWacht(t)
	c := newTestClient(t, f.URL(), Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Issue(ctx, ticket.Request{AppSlug: "aa_42"})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ticket.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if n := f.hits(); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}

// TestDialTimeoutNotRetried: a dial that times out, whether at the call's
// deadline or at the dialer's own shorter timeout, is not retried.
func TestDialTimeoutNotRetried(t *testing.T) {
	tests := []struct {
		name string
		dial func(ctx context.Context) error
	}{
		{"hangs until the call deadline", func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}},
		{"dialer timeout before the call deadline", func(context.Context) error {
			return os.ErrDeadlineExceeded // what net.Dialer.Timeout yields
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dials atomic.Int64
			hc := &http.Client{Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					dials.Add(1)
					return nil, &net.OpError{Op: "dial", Net: "tcp", Err: tt.dial(ctx)}
				},
			}}
			c := newTestClient(t, "http://wacht.test", Config{HTTPClient: hc, Timeout: 100 * time.Millisecond})
			_, err := c.GetApp(context.Background(), "aa_42")
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v", err)
			}
			if n := dials.Load(); n != 1 {
				t.Errorf("dials = %d, want 1", n)
			}
		})
	}
}

// TestNoRedirects: the default client does not follow a redirect (which
// would re-send the request elsewhere); it is an unexpected status.
func TestNoRedirects(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	srv, _ := scripted(t, http.StatusTemporaryRedirect, http.Header{"Location": {other.URL + "/session/tickets"}}, "")
	c := newTestClient(t, srv.URL, Config{})
	_, err := c.Issue(context.Background(), ticket.Request{AppSlug: "aa_42"})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusTemporaryRedirect || !errors.Is(err, ticket.ErrUpstream) {
		t.Fatalf("err = %v", err)
	}
	if elsewhere.Load() != 0 {
		t.Error("the redirect was followed")
	}
}
