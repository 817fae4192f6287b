package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeWasm writes the smallest file the shell takes for a prebuilt wasm, so
// that run starts without building one.
func fakeWasm(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.wasm")
	if err := os.WriteFile(path, []byte("\x00asm\x01\x00\x00\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l := listen(t)
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestAnAddressInUseIsReportedAlone runs the demo as main does with its app
// port taken: it must fail naming the address and the flag, without saying
// that Acme is running and without starting anything (the data directory
// stays empty).
func TestAnAddressInUseIsReportedAlone(t *testing.T) {
	t.Setenv("WACHT_BACKEND_API_KEY", "")
	for _, tc := range []struct{ flag, other string }{{"-addr", "-portal-addr"}, {"-portal-addr", "-addr"}} {
		t.Run(tc.flag, func(t *testing.T) {
			busy := listen(t)
			dir := filepath.Join(t.TempDir(), "data")
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{tc.flag, busy.Addr().String(), tc.other, freeAddr(t),
				"-data", dir, "-shell-wasm", fakeWasm(t)}, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), busy.Addr().String()) || !strings.Contains(err.Error(), tc.flag+" ") {
				t.Fatalf("run with %s in use: %v, want an error naming the address and %s", tc.flag, err, tc.flag)
			}
			if strings.Contains(stdout.String(), "Acme is running") {
				t.Errorf("run with %s in use printed the welcome:\n%s", tc.flag, stdout.String())
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("run with %s in use made the data directory (%v): it started Acme before listening", tc.flag, err)
			}
		})
	}
}

// TestRunServesUntilCancelled starts the demo as main does and stops it as
// Ctrl-C does: it answers /login on the address it printed, then returns nil.
func TestRunServesUntilCancelled(t *testing.T) {
	t.Setenv("WACHT_BACKEND_API_KEY", "")
	app := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", app, "-portal-addr", freeAddr(t), "-data", t.TempDir(), "-shell-wasm", fakeWasm(t)}, &stdout, &stderr)
	}()
	var status int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && status == 0; time.Sleep(20 * time.Millisecond) {
		if res, err := http.Get("http://" + app + "/login"); err == nil {
			status = res.StatusCode
			res.Body.Close()
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after cancel: %v", err)
	}
	if status != http.StatusOK || !strings.Contains(stdout.String(), "http://"+app+"/login") {
		t.Fatalf("/login answered %d; welcome:\n%s", status, stdout.String())
	}
}

// TestArgumentsItWouldIgnoreAreRefused: flag parsing stops at the first
// argument that is not a flag, so everything from there on would be
// dropped; run refuses it as a usage error instead.
func TestArgumentsItWouldIgnoreAreRefused(t *testing.T) {
	for _, args := range [][]string{
		{"9090"},
		{"serve", "-addr", "127.0.0.1:9090"},
		{"-trusted-proxies", "10.0.0.1", "10.0.0.2"},
	} {
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		prefix := []string{"-data", t.TempDir(), "-addr", freeAddr(t), "-portal-addr", freeAddr(t), "-shell-wasm", fakeWasm(t)}
		err := run(ctx, append(prefix, args...), &stdout, &stderr)
		cancel()
		if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), "unexpected argument") {
			t.Errorf("run %q: %v, stderr %q; want errUsage naming the unexpected argument", args, err, stderr.String())
		}
	}
}

// TestFlagValuesItWouldMisreadAreRefused: values a flag's type accepts but
// the demo would silently turn into something else are usage errors.
func TestFlagValuesItWouldMisreadAreRefused(t *testing.T) {
	for _, args := range [][]string{
		{"-audit-max-age", "0"},  // would be the default, 400 days
		{"-ticket-rate", "NaN"},  // would lift the limit
		{"-ticket-rate", "+Inf"}, // likewise
	} {
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		prefix := []string{"-data", t.TempDir(), "-addr", freeAddr(t), "-portal-addr", freeAddr(t), "-shell-wasm", fakeWasm(t)}
		err := run(ctx, append(prefix, args...), &stdout, &stderr)
		cancel()
		if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), args[0]) {
			t.Errorf("run %q: %v, stderr %q; want errUsage naming %s", args, err, stderr.String(), args[0])
		}
	}
}

// TestASecondAcmeOnTheSameDataIsRefused: two demos on one data directory
// would each provision the apps for their own origin, so the second would
// silently take the portal away from the first (its tickets refused with
// 403). The second is refused, naming the directory, and the first keeps
// working. (TestRestartKeepsKeys opens the directory again after Close.)
func TestASecondAcmeOnTheSameDataIsRefused(t *testing.T) {
	dir := t.TempDir()
	first := runDemo(t, options{BackendAPIKey: "kp_backend_test_0123456789", Logger: zerolog.Nop(), SkipShell: true, DataDir: dir}, nil)
	second, err := newAcme(context.Background(), options{AppAddr: "127.0.0.1:1", PortalAddr: "127.0.0.1:2", DataDir: dir,
		Logger: zerolog.Nop(), SkipShell: true})
	if err == nil {
		second.Close()
		t.Error("a second Acme on the same data directory started")
	} else if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "-data") {
		t.Errorf("second Acme: %v, want an error naming %s and -data", err, dir)
	}
	if status, body := first.signIn("alice").ticket("42"); status != http.StatusOK {
		t.Fatalf("first Acme's ticket after the second tried to start: %d %v", status, body)
	}
}

// TestAShortBackendKeyNamesItsVariable: the one backend key the demo takes
// comes from KEYPORTAL_BACKEND_API_KEY, and a refusal of it says so.
func TestAShortBackendKeyNamesItsVariable(t *testing.T) {
	t.Setenv("KEYPORTAL_BACKEND_API_KEY", "short")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := run(ctx, []string{"-data", t.TempDir(), "-addr", freeAddr(t), "-portal-addr", freeAddr(t), "-shell-wasm", fakeWasm(t)}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "KEYPORTAL_BACKEND_API_KEY") {
		t.Fatalf("run with a short backend key: %v, want an error naming KEYPORTAL_BACKEND_API_KEY", err)
	}
}
