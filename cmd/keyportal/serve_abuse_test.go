package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/httpserver"
	"github.com/keyportal/keyportal/internal/httpserver/httpservertest"
	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/wacht"
)

const abuseBackendKey = "kpb_abuse_test_key_0123456789"

// served is `keyportal serve` running in the test's process.
type served struct {
	base        string // http://host:port of --addr
	metricsAddr string // host:port of --metrics-addr, when given
	logs        *syncBuffer
}

// abuseEnv is env with the backend API key the tests here use.
func abuseEnv(env map[string]string) map[string]string {
	out := map[string]string{"KEYPORTAL_BACKEND_API_KEY": abuseBackendKey}
	for k, v := range env {
		out[k] = v
	}
	return out
}

// serveWith runs `keyportal serve` on the harness's store and clock, with
// limits on its listeners, the environment env and extra args; it stops
// when the test ends.
func (h *harness) serveWith(limits httpserver.Limits, env map[string]string, args ...string) served {
	h.t.Helper()
	logs := &syncBuffer{}
	c := newCLI(strings.NewReader(""), io.Discard, logs, func(k string) string { return env[k] })
	c.now = h.clock.Now
	c.serverLimits = limits
	listening := make(chan string, 1)
	c.onListen = func(addr string) { listening <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- c.run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", h.db}, args...))
	}()
	h.t.Cleanup(func() {
		cancel()
		if code := <-done; code != exitOK {
			h.t.Errorf("serve exited %d:\n%s", code, logs.String())
		}
	})
	select {
	case addr := <-listening:
		s := served{base: "http://" + addr, logs: logs}
		for _, line := range strings.Split(logs.String(), "\n") {
			var ev struct {
				Event       string
				MetricsAddr string `json:"metrics_addr"`
			}
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Event == "serve.start" {
				s.metricsAddr = ev.MetricsAddr
			}
		}
		return s
	case code := <-done:
		done <- code // for the cleanup, which waits for the exit code
		h.t.Fatalf("serve exited %d:\n%s", code, logs.String())
	case <-time.After(20 * time.Second):
		h.t.Fatal("serve did not listen")
	}
	return served{}
}

func (s served) get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestServeCutsOffSlowClients is issue 14 §3's attack on serve's listeners,
// the public one and --metrics-addr's, with short limits injected.
func TestServeCutsOffSlowClients(t *testing.T) {
	h := newHarness(t)
	s := h.serveWith(httpservertest.Short, abuseEnv(nil), "--metrics-addr", "127.0.0.1:0")
	t.Run("public listener", func(t *testing.T) {
		httpservertest.Attack(t, strings.TrimPrefix(s.base, "http://"), "/healthz", "/vanity/api-auth/exchange")
	})
	t.Run("metrics listener", func(t *testing.T) {
		t.Run("slow headers", func(t *testing.T) {
			t.Parallel()
			httpservertest.SlowHeaders(t, s.metricsAddr, httpservertest.Bound)
		})
		t.Run("idle connection", func(t *testing.T) {
			t.Parallel()
			httpservertest.IdleConnection(t, s.metricsAddr, "/metrics", httpservertest.Bound)
		})
	})
}

// TestServeBoundsHeaders: serve's default header bound (64 KiB) refuses what
// net/http's own (1 MiB) let through, and lets a large browser request in.
func TestServeBoundsHeaders(t *testing.T) {
	s := newHarness(t).serveWith(httpserver.Limits{}, abuseEnv(nil))
	addr := strings.TrimPrefix(s.base, "http://")
	if code := httpservertest.HugeHeader(t, addr, "/healthz", 16<<10); code != http.StatusOK {
		t.Errorf("a 16 KiB header got %d, want 200", code)
	}
	if code := httpservertest.HugeHeader(t, addr, "/healthz", 200<<10); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 200 KiB header got %d, want 431", code)
	}
}

// TestServeMetricsAddr (issue 14 §7): with --metrics-addr, /metrics is
// served there only, and that listener serves nothing else.
func TestServeMetricsAddr(t *testing.T) {
	h := newHarness(t)
	s := h.serveWith(httpserver.Limits{}, abuseEnv(map[string]string{"KEYPORTAL_METRICS_ADDR": "127.0.0.1:0"}))
	if s.metricsAddr == "" {
		t.Fatalf("serve.start does not name the metrics address:\n%s", s.logs.String())
	}
	if code, _ := s.get(t, s.base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d", code)
	}
	if code, _ := s.get(t, s.base+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the public listener = %d, want 404", code)
	}
	code, body := s.get(t, "http://"+s.metricsAddr+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, `keyportal_http_requests_total{code="200",method="GET",route="/healthz"} 1`) {
		t.Errorf("/metrics on --metrics-addr = %d, want 200 with the public listener's counts:\n%.400s", code, body)
	}
	for _, path := range []string{"/healthz", "/vanity/api-auth", "/api-auth/apps"} {
		if code, _ := s.get(t, "http://"+s.metricsAddr+path); code != http.StatusNotFound {
			t.Errorf("%s on the metrics listener = %d, want 404", path, code)
		}
	}
}

// forwarding adds X-Forwarded-For to every request, a new address each time
// when rotate is set.
type forwarding struct {
	rotate bool
	n      int
}

func (f *forwarding) RoundTrip(r *http.Request) (*http.Response, error) {
	f.n++
	r = r.Clone(r.Context())
	ip := "198.51.100.1"
	if f.rotate {
		ip = fmt.Sprintf("198.51.100.%d", f.n)
	}
	r.Header.Set("X-Forwarded-For", ip)
	return http.DefaultTransport.RoundTrip(r)
}

// TestServeTrustedProxies is issue 14 §2 on serve: by default a spoofed
// X-Forwarded-For changes neither the audited client_ip of an exchange nor
// the ip rate limit's count; with --trusted-proxies naming the caller, the
// header it forwards is the client.
func TestServeTrustedProxies(t *testing.T) {
	const claimed = "198.51.100.1"
	for _, tt := range []struct {
		name    string
		args    []string
		audited string
		allowed int // of 5 checks, each with a new forwarded address
	}{
		{"no proxy trusted", nil, "127.0.0.1", 3},
		{"another proxy trusted", []string{"--trusted-proxies", "10.0.0.0/8"}, "127.0.0.1", 3},
		{"the caller is a trusted proxy", []string{"--trusted-proxies", "10.0.0.0/8, 127.0.0.1"}, claimed, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			s := h.serveWith(httpserver.Limits{}, abuseEnv(map[string]string{"KEYPORTAL_ALLOWED_ORIGINS": "https://app.acme.test"}),
				append([]string{"--rate-limit", "3/1m:ip"}, tt.args...)...)
			ctx := context.Background()
			fwd := &forwarding{rotate: true}
			cl, err := wacht.New(wacht.Config{APIKey: abuseBackendKey, BaseURL: s.base, HTTPClient: &http.Client{Transport: fwd}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cl.CreateApp(ctx, wacht.CreateAppRequest{AppSlug: "aa_42", Name: "Acme", KeyPrefix: "acme_live", OrganizationID: "acme"}); err != nil {
				t.Fatal(err)
			}
			_, secret, err := cl.CreateKey(ctx, "aa_42", wacht.CreateKeyRequest{Name: "ci"})
			if err != nil {
				t.Fatal(err)
			}
			allowed := 0
			for range 5 {
				r, err := cl.Check(ctx, wacht.CheckRequest{Principal: wacht.Principal{Value: secret}, Resource: "/v1/things", Method: "GET"})
				if err != nil {
					t.Fatal(err)
				}
				if r.Allowed {
					allowed++
				} else if r.Reason != wacht.ReasonRateLimited {
					t.Fatalf("check refused: %s", r.Reason)
				}
			}
			if allowed != tt.allowed {
				t.Errorf("%d of 5 checks with rotating X-Forwarded-For allowed under 3/1m:ip, want %d", allowed, tt.allowed)
			}

			tk, err := cl.CreateTicket(ctx, wacht.TicketRequest{AppSlug: "aa_42", UserID: "alice", ExpiresIn: 2 * time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			fwd.rotate = false
			res, err := (&http.Client{Transport: fwd}).Post(s.base+"/vanity/api-auth/exchange", "application/json",
				strings.NewReader(`{"ticket":"`+tk.Ticket+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("exchange: %d", res.StatusCode)
			}
			st := h.openStore()
			defer st.Close()
			page, err := st.QueryAudit(ctx, audit.Query{Action: audit.ActionTicketExchanged})
			if err != nil || len(page.Events) != 1 {
				t.Fatalf("ticket.exchanged events: %+v, %v", page.Events, err)
			}
			if got := page.Events[0].ClientIP; got != tt.audited {
				t.Errorf("exchange audited with client_ip %q, want %q", got, tt.audited)
			}
		})
	}
}
