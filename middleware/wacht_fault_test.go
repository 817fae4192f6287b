package middleware

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/keyportal/keyportal/middleware/wacht"
)

// The ticket route in Wacht mode, with Wacht down, slow or answering
// garbage: the route answers 503 or 502 within its IssueTimeout (plus a
// generous margin for a loaded machine), audits the failure, and leaves no
// goroutine behind once the client's idle connections are closed.

// faultIssueTimeout is the route's deadline for Wacht in these tests.
const faultIssueTimeout = 300 * time.Millisecond

// faultBound is how long any answer may take: the deadline plus a margin
// that only a wedged route would exceed, even on a busy machine.
const faultBound = faultIssueTimeout + 5*time.Second

// wachtRoute mounts a route whose Issuer is a real Wacht client for baseURL.
func wachtRoute(t *testing.T, baseURL string) (*routeEnv, *wacht.Client) {
	t.Helper()
	client, err := wacht.New(wacht.Config{APIKey: "wk_test_fault", BaseURL: baseURL, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	env := newRouteEnv(t, Config{Issuer: client, IssueTimeout: faultIssueTimeout})
	return env, client
}

// timedDo sends the default request and returns the answer and its time.
func timedDo(env *routeEnv) (*httptest.ResponseRecorder, time.Duration) {
	start := time.Now()
	w := env.do(req{})
	return w, time.Since(start)
}

func TestWachtFaults(t *testing.T) {
	// Goroutines of other tests (and of gin, zerolog) are not ours.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	// Garbage answers, each from its own upstream.
	garbage := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		reason  string
	}{
		{"200 with HTML", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>hello</html>")
		}, http.StatusBadGateway, ReasonIssuerFailed},
		{"200 with JSON but no ticket", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"expires_at":1900000000,"url":"https://portal.test/x"}`)
		}, http.StatusBadGateway, ReasonIssuerFailed},
		{"200 with a javascript: URL", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ticket":"t","expires_at":1900000000,"url":"javascript:alert(1)"}`)
		}, http.StatusBadGateway, ReasonIssuerFailed},
		{"200 with a truncated JSON body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ticket":"tk_abc","expi`)
		}, http.StatusBadGateway, ReasonIssuerFailed},
		{"500 with HTML", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "<h1>Internal Server Error</h1>")
		}, http.StatusBadGateway, ReasonIssuerFailed},
		{"503", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}, http.StatusServiceUnavailable, ReasonIssuerUnavailable},
		{"connection cut after the headers", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "500")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"ticket":`)
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, http.StatusBadGateway, ReasonIssuerFailed},
		{"connection closed without an answer", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, http.StatusServiceUnavailable, ReasonIssuerUnavailable},
	}
	for _, tc := range garbage {
		t.Run("garbage: "+tc.name, func(t *testing.T) {
			up := httptest.NewServer(tc.handler)
			defer up.Close()
			env, client := wachtRoute(t, up.URL)
			defer client.CloseIdleConnections()
			w, took := timedDo(env)
			if w.Code != tc.status || took > faultBound {
				t.Fatalf("%d in %v, want %d within %v: %s", w.Code, took, tc.status, faultBound, w.Body)
			}
			ev := env.log.onlyAudit(t)
			if ev["reason"] != tc.reason || ev["outcome"] != "error" {
				t.Fatalf("audit %v, want reason %s", ev, tc.reason)
			}
			if fp, _ := ev["ticket_fp"].(string); fp != "" {
				t.Fatalf("a failed attempt has a ticket fingerprint: %v", ev)
			}
		})
	}

	t.Run("down: connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there now
		env, client := wachtRoute(t, "http://"+addr)
		defer client.CloseIdleConnections()
		w, took := timedDo(env)
		if w.Code != http.StatusServiceUnavailable || took > faultBound {
			t.Fatalf("%d in %v, want 503 within %v", w.Code, took, faultBound)
		}
		if ev := env.log.onlyAudit(t); ev["reason"] != ReasonIssuerUnavailable {
			t.Fatalf("audit %v", ev)
		}
	})

	t.Run("slow: accepts and never answers", func(t *testing.T) {
		release := make(chan struct{})
		var wg sync.WaitGroup
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			wg.Add(1)
			defer wg.Done()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		env, client := wachtRoute(t, up.URL)
		// Several at once: none waits for another.
		var answers sync.WaitGroup
		codes := make(chan int, 8)
		start := time.Now()
		for range 8 {
			answers.Go(func() { codes <- env.do(req{}).Code })
		}
		answers.Wait()
		took := time.Since(start)
		close(codes)
		for code := range codes {
			if code != http.StatusServiceUnavailable {
				t.Fatalf("answer %d, want 503", code)
			}
		}
		if took > faultBound {
			t.Fatalf("8 parallel requests took %v, want within %v", took, faultBound)
		}
		for _, ev := range env.log.auditEvents(t) {
			if ev["reason"] != ReasonIssuerTimeout {
				t.Fatalf("audit %v, want %s", ev, ReasonIssuerTimeout)
			}
		}
		// The route gave up on the calls: their contexts ended, so the
		// upstream handlers return and the client's connections close.
		close(release)
		client.CloseIdleConnections()
		up.Close()
		wg.Wait()
	})

	t.Run("slow: headers then a body that trickles", func(t *testing.T) {
		stop := make(chan struct{})
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					io.WriteString(w, " ")
					w.(http.Flusher).Flush()
				case <-r.Context().Done():
					return
				case <-stop:
					return
				}
			}
		}))
		env, client := wachtRoute(t, up.URL)
		w, took := timedDo(env)
		close(stop)
		client.CloseIdleConnections()
		up.Close()
		if w.Code != http.StatusServiceUnavailable || took > faultBound {
			t.Fatalf("%d in %v, want 503 within %v", w.Code, took, faultBound)
		}
	})
}
