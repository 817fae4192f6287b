package wasmbuild

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
)

// tinyModule writes a module with a trivial wasm main and returns its dir.
func tinyModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "go.mod"), "module example.test/tiny\n\ngo 1.21\n")
	write(t, filepath.Join(dir, "main.go"), "package main\n\nfunc main() { println(\"tiny\") }\n")
	return dir
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSourceKeyFollowsSources(t *testing.T) {
	dir := tinyModule(t)
	o := Options{Package: ".", Dir: dir}
	ctx := context.Background()
	k1, err := SourceKey(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if k2, _ := SourceKey(ctx, o); k2 != k1 {
		t.Fatalf("key not stable: %s then %s", k1, k2)
	}
	write(t, filepath.Join(dir, "main.go"), "package main\n\nfunc main() { println(\"changed\") }\n")
	if k3, _ := SourceKey(ctx, o); k3 == k1 {
		t.Fatal("key unchanged after a source edit")
	}
}

func TestCachedBuildsOnceThenHits(t *testing.T) {
	dir := tinyModule(t)
	cache := t.TempDir()
	var progress bytes.Buffer
	o := Options{Package: ".", Dir: dir, Progress: &progress}
	p1, err := Cached(context.Background(), o, cache)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p1)
	if err != nil || !bytes.HasPrefix(b, []byte("\x00asm")) {
		t.Fatalf("built file is not wasm (err %v)", err)
	}
	if !strings.Contains(progress.String(), "building the shell wasm from source (first start only") {
		t.Errorf("no progress line: %q", progress.String())
	}
	progress.Reset()
	p2, err := Cached(context.Background(), o, cache)
	if err != nil || p2 != p1 {
		t.Fatalf("second call: %s, %v; want the cached %s", p2, err, p1)
	}
	if progress.Len() != 0 {
		t.Fatalf("second call built again: %q", progress.String())
	}
}

func TestBuildErrorIsClear(t *testing.T) {
	dir := tinyModule(t)
	write(t, filepath.Join(dir, "main.go"), "package main\n\nfunc main() { nope() }\n")
	_, err := Cached(context.Background(), Options{Package: ".", Dir: dir}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "undefined: nope") || !strings.HasPrefix(err.Error(), "wasmbuild: ") {
		t.Fatalf("err %v, want the compiler's message", err)
	}
}

func TestCompressRoundTrip(t *testing.T) {
	in := bytes.Repeat([]byte("\x00asm keyportal "), 5000)
	gz, err := gzip.NewReader(bytes.NewReader(Gzip(in)))
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := io.ReadAll(gz); !bytes.Equal(out, in) {
		t.Fatal("gzip round trip differs")
	}
	br, err := Brotli(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if out, _ := io.ReadAll(brotli.NewReader(bytes.NewReader(br))); !bytes.Equal(out, in) {
		t.Fatal("brotli round trip differs")
	}
	gzPath, brPath := CompressedPaths("/srv/web/app.wasm", "0123456789abcdef")
	if gzPath != "/srv/web/app.0123456789abcdef.wasm.gz" || brPath != "/srv/web/app.0123456789abcdef.wasm.br" {
		t.Fatalf("paths %s %s", gzPath, brPath)
	}
}

// TestBuildShowsProgress: a build reports, while it runs, the packages
// compiled so far out of those the wasm main depends on, then its size and
// time.
func TestBuildShowsProgress(t *testing.T) {
	dir := tinyModule(t)
	// A source no earlier run built, so the compiler runs.
	write(t, filepath.Join(dir, "main.go"), "package main\n\nfunc main() { println(\""+t.Name()+time.Now().String()+"\") }\n")
	defer func(d time.Duration) { ProgressEvery = d }(ProgressEvery)
	ProgressEvery = time.Millisecond
	var progress bytes.Buffer
	if _, err := Cached(context.Background(), Options{Package: ".", Dir: dir, Progress: &progress}, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	out := progress.String()
	t.Log(out)
	if !regexp.MustCompile(`building the shell wasm: \d+/\d+ packages compiled, \d+s`).MatchString(out) {
		t.Errorf("no periodic progress line with a package count:\n%s", out)
	}
	if !regexp.MustCompile(`built the shell wasm in [0-9.]+m?s: [0-9.]+ MB, [1-9]\d* packages compiled`).MatchString(out) {
		t.Errorf("no final line with size and time:\n%s", out)
	}
}
