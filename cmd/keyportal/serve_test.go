package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ratelimit"
	"github.com/keyportal/keyportal/middleware/wacht"
)

// binDir holds the binary the serve tests build; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinary builds the keyportal command once per test run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "keyportal-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "keyportal")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// keyportalBinary returns the command built once for the test run; a test
// that runs it is skipped under -short.
func keyportalBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the keyportal binary; skipped under -short")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

// server is `keyportal serve` running as a separate process.
type server struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	base string
	logs *syncBuffer   // its stderr and stdout
	done chan struct{} // closed once it has exited
	err  error         // how it exited; read after done
}

// startServer starts the binary's serve with args and env on a free
// loopback port and waits until it logs the address it listens on. When the
// test ends it is stopped (SIGTERM, SIGKILL after 15 s), and its log shown
// if the test failed; name tells instances apart in messages.
func startServer(t *testing.T, name string, env []string, args ...string) *server {
	t.Helper()
	s := &server{t: t, name: name, logs: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(keyportalBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout = s.logs
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			s.logs.Write(append(append([]byte(nil), line...), '\n'))
			var ev struct{ Event, Addr string }
			if json.Unmarshal(line, &ev) == nil && ev.Event == "serve.start" && ev.Addr != "" { // not a start warning
				select {
				case addr <- ev.Addr:
				default:
				}
			}
		}
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(15 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.done
			}
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, s.logs.String())
		}
	})
	select {
	case a := <-addr:
		s.base = "http://" + a
	case <-s.done:
		t.Fatalf("%s exited before listening (%v):\n%s", name, s.err, s.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not listen within 30s:\n%s", name, s.logs.String())
	}
	return s
}

// wachtClient returns a middleware/wacht client of the backend API at base.
func wachtClient(t *testing.T, key, base string) *wacht.Client {
	t.Helper()
	cl, err := wacht.New(wacht.Config{APIKey: key, BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// get fetches path and returns the status and body.
func (s *server) get(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.base + path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// stop sends sig and checks the process exits 0 and says so.
func (s *server) stop(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
	select {
	case <-s.done:
		if s.err != nil {
			s.t.Errorf("%s exited with %v after %v, want 0:\n%s", s.name, s.err, sig, s.logs.String())
		}
	case <-time.After(20 * time.Second):
		s.t.Fatalf("%s did not exit within 20s of %v:\n%s", s.name, sig, s.logs.String())
	}
	if !strings.Contains(s.logs.String(), `"message":"stopped"`) {
		s.t.Errorf("no clean-stop log line:\n%s", s.logs.String())
	}
}

// kill stops the process with SIGKILL: no shutdown, no flush.
func (s *server) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
}

func TestServeOperationalEndpointsAndGracefulStop(t *testing.T) {
	db := filepath.Join(t.TempDir(), "kp.db")
	s := startServer(t, "serve", []string{"KEYPORTAL_BACKEND_API_KEY=kpb_test_key_0123456789abcdef", "KEYPORTAL_DB=" + db, "KEYPORTAL_LOG_LEVEL=debug"})

	if code, body := s.get("/healthz"); code != http.StatusOK || !strings.Contains(body, "ok") {
		t.Errorf("/healthz = %d %s", code, body)
	}
	if code, body := s.get("/readyz"); code != http.StatusOK || !strings.Contains(body, "ready") {
		t.Errorf("/readyz = %d %s", code, body)
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("KEYPORTAL_DB not used: %v", err)
	}
	code, body := s.get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{`keyportal_http_requests_total{code="200",method="GET",route="/healthz"} 1`, "go_goroutines", "keyportal_http_request_duration_seconds_bucket"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, _ := s.get("/no/such/page"); code != http.StatusNotFound {
		t.Errorf("unknown path = %d, want 404", code)
	}
	s.stop(syscall.SIGINT)
	if strings.Contains(s.logs.String(), "kpb_test_key") {
		t.Error("the backend API key reached the log")
	}
}

// TestServeGeneratesABackendKeyWhenNoneIsSet runs serve in-process: with no
// KEYPORTAL_BACKEND_API_KEY it prints a generated key once, listens, and
// stops cleanly when its context ends (what SIGINT/SIGTERM do in main).
func TestServeGeneratesABackendKeyWhenNoneIsSet(t *testing.T) {
	dir := t.TempDir()
	var out, errOut syncBuffer
	c := newCLI(strings.NewReader(""), &out, &errOut, func(k string) string {
		return map[string]string{"KEYPORTAL_DB": filepath.Join(dir, "kp.db")}[k]
	})
	listening := make(chan string, 1)
	c.onListen = func(addr string) { listening <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- c.run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}) }()
	var addr string
	select {
	case addr = <-listening:
	case code := <-done:
		t.Fatalf("serve exited %d:\n%s", code, errOut.String())
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not listen")
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("exit %d, want 0:\n%s", code, errOut.String())
	}
	logs := errOut.String()
	if n := strings.Count(logs, "generated backend API key"); n != 1 {
		t.Errorf("generated key announced %d times, want once:\n%s", n, logs)
	}
	line := logs[strings.Index(logs, "generated backend API key"):]
	line = line[:strings.Index(line, "\n")]
	if key := line[strings.LastIndex(line, " ")+1:]; !strings.HasPrefix(key, "kpb_") || len(key) < 40 {
		t.Errorf("generated key %q looks weak", key)
	}
}

func TestServeRefusesBadConfiguration(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad log level", map[string]string{"KEYPORTAL_LOG_LEVEL": "loud"}, nil, "--log-level"},
		{"bad log format", nil, []string{"--log-format", "xml"}, "--log-format"},
		{"bad origin", map[string]string{"KEYPORTAL_ALLOWED_ORIGINS": "app.acme.test"}, nil, "not an origin"},
		{"wildcard origin", map[string]string{"KEYPORTAL_ALLOWED_ORIGINS": "http://*.acme.test"}, nil, "wildcards are not supported"},
		{"short backend key", map[string]string{"KEYPORTAL_BACKEND_API_KEY": "short"}, nil, "at least 16"},
		{"bad base url", nil, []string{"--base-url", "ftp://x"}, "BaseURL"},
		{"bad session ttl env", map[string]string{"KEYPORTAL_SESSION_TTL": "soon"}, nil, "KEYPORTAL_SESSION_TTL"},
		{"unusable address", nil, []string{"--addr", "256.0.0.1:1"}, "cannot listen"},
		{"host name as proxy", map[string]string{"KEYPORTAL_TRUSTED_PROXIES": "10.0.0.1,lb.internal"}, nil, `--trusted-proxies (KEYPORTAL_TRUSTED_PROXIES): "lb.internal" is not an IP address`},
		{"bad proxy range", nil, []string{"--trusted-proxies", "10.0.0.0/40"}, `"10.0.0.0/40" is not an IP address or a CIDR range`},
		{"unusable metrics address", nil, []string{"--metrics-addr", "256.0.0.1:1"}, "cannot listen on 256.0.0.1:1 for metrics"},
		{"zero key cap", nil, []string{"--max-active-keys", "0"}, "--max-active-keys"},
		{"bad key cap env", map[string]string{"KEYPORTAL_MAX_ACTIVE_KEYS": "many"}, nil, "KEYPORTAL_MAX_ACTIVE_KEYS"},
		{"negative key change rate", nil, []string{"--key-change-rate", "-5"}, "--key-change-rate"},
		{"redis prefix without redis", map[string]string{"KEYPORTAL_REDIS_PREFIX": "kp:"}, nil, "give --redis"},
		{"bad shutdown timeout env", map[string]string{"KEYPORTAL_SHUTDOWN_TIMEOUT": "bogus"}, nil, "KEYPORTAL_SHUTDOWN_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			for k, v := range tt.env {
				h.env[k] = v
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", h.db}, tt.args...)
			r := h.runContext(ctx, args...)
			expect(t, r, exitUsage)
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, r.stderr)
			}
		})
	}
}

// downStore is a store whose database stopped answering.
type downStore struct{ keystore.Store }

func (downStore) Ping(context.Context) error { return errors.New("connection refused") }

// TestReadyzFollowsTheStore: /readyz answers 503 while the store does not
// answer, and /healthz still 200 (the process is alive; restarting it would
// not help).
func TestReadyzFollowsTheStore(t *testing.T) {
	h := newHarness(t)
	s := h.openStore()
	defer s.Close()
	c := newCLI(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
	cfg := serveConfig{baseURL: "http://localhost:8081", sessionTTL: time.Minute}
	for _, tt := range []struct {
		name          string
		store         keystore.Store
		ready, health int
	}{
		{"store up", s, http.StatusOK, http.StatusOK},
		{"store down", downStore{s}, http.StatusServiceUnavailable, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			engine, _, closeAll, err := c.serveHandler(cfg, tt.store, []string{"kpb_readyz_test_key_00000"}, nil, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			defer closeAll()
			for path, want := range map[string]int{"/readyz": tt.ready, "/healthz": tt.health} {
				w := httptest.NewRecorder()
				engine.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
				if w.Code != want {
					t.Errorf("%s = %d %s, want %d", path, w.Code, w.Body, want)
				}
				if w.Header().Get("Cache-Control") != "no-store" {
					t.Errorf("%s may be cached", path)
				}
			}
		})
	}
}

func TestParseRateLimits(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		want    []ratelimit.Rule
		wantErr string // a part of the message; "" for none
	}{
		{name: "one rule, key scope by default", values: []string{"100/1m"},
			want: []ratelimit.Rule{{Max: 100, Per: time.Minute, Scope: ratelimit.ScopeKey}}},
		{name: "several in one value, as the environment gives them", values: []string{"100/1m:key, 1000/1h:app,50/1s:ip"},
			want: []ratelimit.Rule{
				{Max: 100, Per: time.Minute, Scope: ratelimit.ScopeKey},
				{Max: 1000, Per: time.Hour, Scope: ratelimit.ScopeApp},
				{Max: 50, Per: time.Second, Scope: ratelimit.ScopeIP},
			}},
		{name: "repeated flags add up", values: []string{"10/1s", "20/1m:ip"},
			want: []ratelimit.Rule{
				{Max: 10, Per: time.Second, Scope: ratelimit.ScopeKey},
				{Max: 20, Per: time.Minute, Scope: ratelimit.ScopeIP},
			}},
		{name: "none", values: nil, want: nil},
		{name: "no slash", values: []string{"100"}, wantErr: `"100": no /`},
		{name: "zero", values: []string{"0/1m"}, wantErr: "MAX must be a positive whole number"},
		{name: "negative", values: []string{"-5/1m"}, wantErr: "MAX must be a positive whole number"},
		{name: "not a number", values: []string{"lots/1m"}, wantErr: "MAX must be"},
		{name: "duration without unit", values: []string{"5/60"}, wantErr: "DURATION must be a Go duration"},
		{name: "duration under 1ms", values: []string{"5/10us"}, wantErr: "at least 1ms"},
		{name: "unknown scope", values: []string{"5/1s:tenant"}, wantErr: "SCOPE must be key, app or ip"},
		{name: "a bad rule among good ones names itself", values: []string{"10/1s,oops"}, wantErr: `"oops"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRateLimits(tt.values)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "e.g. 100/1m:key") {
					t.Errorf("err = %v, want an example of the format", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("rule %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestEveryServeFlagHasAnEnvironmentVariable: serve --help promises that
// every flag can be set by an environment variable; each is in serveEnv,
// or (the store's) names its variable in its help.
func TestEveryServeFlagHasAnEnvironmentVariable(t *testing.T) {
	inEnv := map[string]bool{}
	for _, m := range serveEnv {
		inEnv[m.flag] = true
	}
	cmd := newCLI(strings.NewReader(""), io.Discard, io.Discard, func(string) string { return "" }).serveCommand()
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && !inEnv[f.Name] && !strings.Contains(f.Usage, "(env KEYPORTAL_") {
			t.Errorf("--%s has no environment variable", f.Name)
		}
	})
}
