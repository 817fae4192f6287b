package shell

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"
)

// bigWasm writes a WebAssembly-looking file large enough that brotli at
// quality 11 takes seconds on it (text-like, so it compresses).
func bigWasm(t *testing.T) string {
	t.Helper()
	words := strings.Fields("keyportal shell ticket portal iframe origin renew session expired ready resize theme event key created rotated revoked wasm go app")
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("\x00asm\x01\x00\x00\x00")
	for b.Len() < 8<<20 {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteString(strconv.Itoa(r.IntN(1000)))
		b.WriteByte(' ')
	}
	path := filepath.Join(t.TempDir(), "app.wasm")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCloseStopsCompression: a first start leaves brotli compression
// running; Close stops it (the shell keeps serving gzip) and no goroutine of
// the shell remains, with the brotli command and with the Go fallback.
func TestCloseStopsCompression(t *testing.T) {
	wasm := bigWasm(t)
	for _, tc := range []struct{ name, path string }{
		{"brotli command", os.Getenv("PATH")},
		{"brotli in Go", t.TempDir()}, // a PATH without the brotli command
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", tc.path)
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			dir := t.TempDir()
			path := filepath.Join(dir, "app.wasm")
			if err := os.Link(wasm, path); err != nil {
				t.Fatal(err)
			}
			s, err := New(context.Background(), Config{WasmPath: path, CacheDir: t.TempDir(), Progress: io.Discard, Logger: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			closed := make(chan error, 1)
			go func() { closed <- s.Close() }()
			select {
			case err := <-closed:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("Close still waiting for the compression after 15 s")
			}
			if _, _, br := s.WasmSizes(); br != 0 {
				t.Fatalf("brotli finished (%d bytes) before Close: the test needs a slower compression", br)
			}
			t.Logf("Close returned after %s", time.Since(start).Round(time.Microsecond))
			s.Close() // twice is fine

			r := gin.New()
			mount(t, s, r)
			if w := serve(t, r, "GET", s.WasmURL(), map[string]string{"Accept-Encoding": "br, gzip"}); w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" {
				t.Fatalf("after Close: %d, Content-Encoding %q; want gzip", w.Code, w.Header().Get("Content-Encoding"))
			}
			if _, err := os.Stat(strings.TrimSuffix(path, ".wasm") + "." + s.wasm.Load().hash + ".wasm.br"); err == nil {
				t.Fatal("a stopped compression left a .br file")
			}
		})
	}
}

// TestBuildStopsWithContext: New returns at once while the build runs in
// the background; cancelling New's context, BuildTimeout or Close stops a
// build in flight within seconds, and Wait returns an error that says so.
// No goroutine of the shell remains.
func TestBuildStopsWithContext(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		stop    string // "cancel", "close" or "" (the timeout)
		want    error
		msg     string
	}{
		{"cancelled", 0, "cancel", context.Canceled, "building the shell from source was stopped"},
		{"closed", 0, "close", context.Canceled, "stopped by Close"},
		{"BuildTimeout", time.Second, "", context.DeadlineExceeded, "took longer than BuildTimeout (1s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := testenv.NewFakeGo(t, "").Started
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			begin := time.Now()
			var progress, logs testenv.LogBuffer
			s, err := New(ctx, Config{CacheDir: t.TempDir(), BuildTimeout: tc.timeout, Progress: &progress, Logger: zerolog.New(&logs)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if d := time.Since(begin); d > 5*time.Second {
				t.Fatalf("New took %s: it waited for the build", d)
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				if _, err := os.Stat(started); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the build did not start")
				}
			}
			switch tc.stop {
			case "cancel":
				cancel()
			case "close":
				go s.Close()
			}
			wctx, wcancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer wcancel()
			err = s.Wait(wctx)
			if !errors.Is(err, ErrWasm) || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v, want %v and %v mentioning %q", err, ErrWasm, tc.want, tc.msg)
			}
			// A build stopped by Close is the program shutting down, not a
			// shell missing while the pages go on: no such line, no error.
			failed := strings.Contains(progress.String(), "not available") || strings.Contains(logs.String(), `"level":"error"`)
			if closed := tc.stop == "close"; failed == closed {
				t.Errorf("stopped by %q: progress %q, logs %q; want the failure reported only when not closed", tc.stop, progress.String(), logs.String())
			}
			t.Log(err)
		})
	}
}
