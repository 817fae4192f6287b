package httpserver_test

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/httpserver"
	"github.com/keyportal/keyportal/internal/testenv"
)

// short are limits a test can wait out; bound is how long an attack may
// last before the test fails, many times longer so that load cannot fail it.
var short = httpserver.Limits{
	ReadHeaderTimeout: 300 * time.Millisecond,
	ReadTimeout:       500 * time.Millisecond,
	WriteTimeout:      time.Second,
	IdleTimeout:       300 * time.Millisecond,
	MaxHeaderBytes:    8 << 10,
}

const bound = 8 * time.Second

// serve runs srv on a loopback port until the test ends and returns its
// address.
func serve(t *testing.T, srv *http.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// echo reads the whole body, as the portal's and the route's handlers do,
// and answers 400 when it cannot.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if _, err := io.ReadAll(r.Body); err != nil {
		http.Error(w, "the body could not be read", http.StatusBadRequest)
		return
	}
	_, _ = io.WriteString(w, "ok")
})

func TestSlowClientsAreCutOff(t *testing.T) {
	addr := serve(t, short.New("", echo))
	t.Run("slow headers", func(t *testing.T) { t.Parallel(); testenv.SlowHeaders(t, addr, bound) })
	t.Run("slow body", func(t *testing.T) { t.Parallel(); testenv.SlowBody(t, addr, "/", bound) })
	t.Run("idle connection", func(t *testing.T) { t.Parallel(); testenv.IdleConnection(t, addr, "/", bound) })
	t.Run("huge header", func(t *testing.T) {
		t.Parallel()
		if code := testenv.HugeHeader(t, addr, "/", 16<<10); code != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("a 16 KiB header over an 8 KiB limit got %d, want 431", code)
		}
	})
}

func TestNewAppliesTheDefaults(t *testing.T) {
	srv := httpserver.New("127.0.0.1:1", echo)
	if srv.Addr != "127.0.0.1:1" || srv.Handler == nil {
		t.Errorf("Addr %q, Handler %v", srv.Addr, srv.Handler)
	}
	for name, got := range map[string][2]time.Duration{
		"ReadHeaderTimeout": {srv.ReadHeaderTimeout, httpserver.DefaultReadHeaderTimeout},
		"ReadTimeout":       {srv.ReadTimeout, httpserver.DefaultReadTimeout},
		"WriteTimeout":      {srv.WriteTimeout, httpserver.DefaultWriteTimeout},
		"IdleTimeout":       {srv.IdleTimeout, httpserver.DefaultIdleTimeout},
	} {
		if got[0] != got[1] || got[0] <= 0 {
			t.Errorf("%s = %v, want %v", name, got[0], got[1])
		}
	}
	if srv.MaxHeaderBytes != httpserver.DefaultMaxHeaderBytes {
		t.Errorf("MaxHeaderBytes = %d, want %d", srv.MaxHeaderBytes, httpserver.DefaultMaxHeaderBytes)
	}
	// A browser's request with a few cookies is far below the bound.
	addr := serve(t, srv) // Serve uses its own listener, not Addr
	if code := testenv.HugeHeader(t, addr, "/", 8<<10); code != http.StatusOK {
		t.Errorf("an 8 KiB header got %d, want 200", code)
	}
	if code := testenv.HugeHeader(t, addr, "/", 80<<10); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("an 80 KiB header got %d, want 431", code)
	}
}
