package shell

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/testenv"
	"github.com/rs/zerolog"
)

// TestPagesWorkWhileTheWasmBuilds: with the build still running, New has
// returned, the settings page answers with the eager script (which shows
// the portal without the wasm), and a request for the wasm neither hangs
// nor fails: it waits a bounded time, then gets 503 with Retry-After, which
// app.js waits out. When the build ends the waiting request gets the wasm,
// and new pages load it from its content-hashed URL.
func TestPagesWorkWhileTheWasmBuilds(t *testing.T) {
	wasmPath, raw := fakeWasm(t)
	fake := testenv.NewFakeGo(t, wasmPath)
	defer func(d time.Duration) { pendingWait = d }(pendingWait)
	pendingWait = 200 * time.Millisecond

	progress := &testenv.LogBuffer{}
	begin := time.Now()
	s, err := New(context.Background(), Config{CacheDir: t.TempDir(), Progress: progress, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("New took %s: it waited for the build", d)
	}
	r := gin.New()
	mount(t, s, r)
	waitFile(t, fake.Started)

	w := serve(t, r, "GET", "/settings/api-keys/42", nil)
	page := w.Body.String()
	if w.Code != 200 || !strings.Contains(page, `<script src="`+s.eagerURL()+`"`) || !strings.Contains(page, `data-keyportal-resource="42"`) {
		t.Fatalf("page while building: %d, eager script %v", w.Code, strings.Contains(page, s.eagerURL()))
	}
	if w := serve(t, r, "GET", s.eagerURL(), nil); w.Code != 200 {
		t.Fatalf("eager script while building: %d", w.Code)
	}
	pending := at("web/app.wasm")
	if s.WasmURL() != pending {
		t.Fatalf("WasmURL while building %q, want %q", s.WasmURL(), pending)
	}
	js := serve(t, r, "GET", at("app.js"), nil).Body.String()
	if !strings.Contains(js, `keyportalFetchWasm("`+pending+`")`) || !strings.Contains(js, `resp.status === 503 && Number(resp.headers.get("Retry-After"))`) {
		t.Fatal("app.js while building does not wait out 503 on the pending wasm URL")
	}

	start := time.Now()
	w = serve(t, r, "GET", pending, nil)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("wasm while building: %d, Retry-After %q, Cache-Control %q; want 503 with Retry-After, not stored", w.Code, w.Header().Get("Retry-After"), w.Header().Get("Cache-Control"))
	}
	if d := time.Since(start); d < pendingWait || d > pendingWait+5*time.Second {
		t.Fatalf("the 503 came after %s, want after the bounded wait of %s", d, pendingWait)
	}

	// A request in flight when the build ends gets the wasm.
	pendingWait = time.Minute
	got := make(chan int, 1)
	go func() { got <- serve(t, r, "GET", pending, nil).Code }()
	time.Sleep(100 * time.Millisecond)
	fake.Release(t)
	select {
	case code := <-got:
		if code != 200 {
			t.Fatalf("the waiting wasm request got %d, want 200", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting wasm request did not end when the build did")
	}
	if err := s.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.WasmURL() == pending {
		t.Fatal("WasmURL still the pending one")
	}
	js = serve(t, r, "GET", at("app.js"), nil).Body.String()
	if !strings.Contains(js, `keyportalFetchWasm("`+s.WasmURL()+`")`) {
		t.Fatal("app.js does not load the built wasm from its hashed URL")
	}
	if w := serve(t, r, "GET", s.WasmURL(), nil); w.Code != 200 || !bytes.Equal(w.Body.Bytes(), raw) || w.Header().Get("Cache-Control") != immutable {
		t.Fatalf("built wasm: %d, %q", w.Code, w.Header().Get("Cache-Control"))
	}
	if w := serve(t, r, "GET", "/settings/api-keys/42", nil); w.Code != 200 {
		t.Fatalf("page once built: %d", w.Code)
	}
	out := progress.String()
	for _, want := range []string{"building the shell wasm from source", "built the shell wasm in", "packages compiled"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
	t.Logf("progress:\n%s", out)
}

// TestWasmBuildFailureAnswers503: when the build fails the pages keep
// working and the wasm URL answers 503 without Retry-After (app.js stops
// asking), with the reason on the terminal.
func TestWasmBuildFailureAnswers503(t *testing.T) {
	notWasm := filepath.Join(t.TempDir(), "x.wasm")
	os.WriteFile(notWasm, []byte("not wasm"), 0o644)
	fake := testenv.NewFakeGo(t, notWasm)
	fake.Release(t)
	progress := &testenv.LogBuffer{}
	s, err := New(context.Background(), Config{CacheDir: t.TempDir(), Progress: progress, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := gin.New()
	mount(t, s, r)
	if err := s.Wait(context.Background()); !errors.Is(err, ErrWasm) {
		t.Fatalf("Wait: %v, want ErrWasm", err)
	}
	w := serve(t, r, "GET", at("web/app.wasm"), nil)
	if w.Code != 503 || w.Header().Get("Retry-After") != "" {
		t.Fatalf("wasm after a failed build: %d, Retry-After %q; want 503 without", w.Code, w.Header().Get("Retry-After"))
	}
	if w := serve(t, r, "GET", "/settings/api-keys/42", nil); w.Code != 200 {
		t.Fatalf("page after a failed build: %d", w.Code)
	}
	if !strings.Contains(progress.String(), "not a WebAssembly binary") {
		t.Errorf("the terminal does not say why: %q", progress.String())
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
	}
}
