// Package testenv tells tests whether the real services they need (Postgres,
// Redis, Chromium) are here. A test that needs one skips with a clear message
// when it is absent, unless KEYPORTAL_REQUIRE_SERVICES=1 (set by CI), in which
// case it fails: in CI a missing service is a broken machine, not a pass.
package testenv

import (
	"context"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns skips into failures.
const RequireEnv = "KEYPORTAL_REQUIRE_SERVICES"

// Required reports whether missing services fail tests instead of skipping them.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// PostgresDSN returns the DSN of the test Postgres (KEYPORTAL_TEST_POSTGRES,
// default postgres://postgres@127.0.0.1:5432/test), or skips t when it does
// not answer.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("KEYPORTAL_TEST_POSTGRES")
	if dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	need(t, "Postgres", "127.0.0.1:5432", "KEYPORTAL_TEST_POSTGRES")
	return dsn
}

// RedisAddr returns the address of the test Redis (KEYPORTAL_TEST_REDIS,
// default 127.0.0.1:6379), or skips t when it does not answer.
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("KEYPORTAL_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	need(t, "Redis", addr, "KEYPORTAL_TEST_REDIS")
	return addr
}

// ChromiumPath returns the path of a Chromium binary (KEYPORTAL_CHROMIUM, or
// chromium / chromium-browser / google-chrome on PATH), or skips t.
func ChromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("KEYPORTAL_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "Chromium is not installed (apt-get install -y --no-install-recommends chromium, or set KEYPORTAL_CHROMIUM)")
	return ""
}

// NodePath returns the path of node, or skips t.
func NodePath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not installed")
	}
	return p
}

func need(t testing.TB, what, addr, env string) {
	t.Helper()
	if host, port, err := net.SplitHostPort(trimScheme(addr)); err == nil {
		addr = net.JoinHostPort(host, port)
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		missing(t, what+" does not answer on "+addr+" (start it, or point "+env+" at one): "+err.Error())
		return
	}
	conn.Close()
}

func missing(t testing.TB, msg string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s; %s=1 makes this mandatory", msg, RequireEnv)
	}
	t.Skip("skipped: " + msg)
}

func trimScheme(addr string) string {
	for i := 0; i+2 < len(addr); i++ {
		if addr[i:i+3] == "://" {
			return addr[i+3:]
		}
	}
	return addr
}
