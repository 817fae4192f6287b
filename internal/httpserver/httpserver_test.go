package httpserver_test

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/httpserver"
	"github.com/keyportal/keyportal/internal/httpserver/httpservertest"
)

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
	httpservertest.Attack(t, serve(t, httpservertest.Short.New("", echo)), "/", "/")
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
	if code := httpservertest.HugeHeader(t, addr, "/", 8<<10); code != http.StatusOK {
		t.Errorf("an 8 KiB header got %d, want 200", code)
	}
	if code := httpservertest.HugeHeader(t, addr, "/", 80<<10); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("an 80 KiB header got %d, want 431", code)
	}
}
