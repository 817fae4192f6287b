package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// FakeGo is a go command a test puts first on PATH (see NewFakeGo): it
// answers `go version` and `go list` at once and its `go build` is slow
// until the test says otherwise, like a first build with an empty cache.
type FakeGo struct {
	// Started is a file the build creates once it has started.
	Started string
	// ReleaseFile is the file whose creation (Release) lets the build
	// finish by copying the wasm given to NewFakeGo to its -o path.
	ReleaseFile string
}

// NewFakeGo puts a fake go command first on PATH for the test (t.Setenv).
// Its build names one package on stderr (as go build -v does), creates
// Started, then waits: with wasm "" forever (a child holding the output
// open, as the compiler does, outlives a killed build); otherwise until
// ReleaseFile exists, and then copies wasm to the -o path.
func NewFakeGo(t testing.TB, wasm string) *FakeGo {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake go command is a shell script")
	}
	dir := t.TempDir()
	g := &FakeGo{Started: filepath.Join(dir, "started"), ReleaseFile: filepath.Join(dir, "release")}
	pid := filepath.Join(dir, "pid")
	wait := "sleep 60 & echo $! > '" + pid + "'; : > '" + g.Started + "'; wait"
	if wasm != "" {
		wait = ": > '" + g.Started + "'; while [ ! -e '" + g.ReleaseFile + "' ]; do sleep 0.05; done; cp '" + wasm + "' \"$out\""
	}
	script := "#!/bin/sh\ncase \"$1\" in\n" +
		"version) echo go version fake ;;\n" +
		"build) out=; prev=; for a in \"$@\"; do [ \"$prev\" = -o ] && out=$a; prev=$a; done\n" +
		"  echo example.test/fake >&2; " + wait + " ;;\n" +
		"esac\n"
	if err := os.WriteFile(filepath.Join(dir, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Cleanup(func() { // the sleep outlives the killed script; end it
		if b, err := os.ReadFile(pid); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				if p, err := os.FindProcess(n); err == nil {
					p.Kill()
				}
			}
		}
	})
	return g
}

// Release lets the build finish.
func (g *FakeGo) Release(t testing.TB) {
	t.Helper()
	if err := os.WriteFile(g.ReleaseFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}
