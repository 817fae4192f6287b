// Package wasmbuild builds the keyportal shell's WebAssembly binary from
// source and precompresses it (gzip and brotli) for serving. The shell
// middleware uses it on first start; `go run ./cmd/shellbuild -o web` uses
// it for production.
//
// It depends on the standard library and andybalholm/brotli only.
package wasmbuild

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/keyportal/keyportal/internal/httpenc"
)

// DefaultPackage is the wasm main of the keyportal shell.
const DefaultPackage = "github.com/keyportal/keyportal/cmd/shellwasm"

// Options says what to build and where.
type Options struct {
	// Package is the import path (or ./relative path) of the wasm main
	// (DefaultPackage if empty).
	Package string
	// Dir is the directory the go command runs in: a module that requires
	// (or is) github.com/keyportal/keyportal. Empty means the current one.
	Dir string
	// Go is the go command (found on PATH, then in GOROOT, if empty).
	Go string
	// Progress receives one-line progress messages; nil discards them.
	Progress io.Writer
}

func (o Options) pkg() string {
	if o.Package == "" {
		return DefaultPackage
	}
	return o.Package
}

func (o Options) progress() io.Writer {
	if o.Progress == nil {
		return io.Discard
	}
	return o.Progress
}

func (o Options) gocmd() (string, error) {
	if o.Go != "" {
		return o.Go, nil
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("wasmbuild: the go command is not on PATH (install Go, or use a prebuilt wasm)")
}

func (o Options) command(ctx context.Context, args ...string) (*exec.Cmd, error) {
	gocmd, err := o.gocmd()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, gocmd, args...)
	cmd.Dir = o.Dir
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	// When ctx ends the go command is killed, but the compiler and linker
	// it started may still hold its output open; stop waiting for them.
	cmd.WaitDelay = waitDelay
	return cmd, nil
}

// waitDelay bounds how long a killed go command's output is waited for.
const waitDelay = time.Second

// stopped returns ctx's error, naming what it stopped, if ctx has ended.
func stopped(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("wasmbuild: %s: %w", what, err)
	}
	return nil
}

// BuildFlags are the flags the wasm is built with: no paths, no symbol table
// or DWARF (together about a fifth of the raw size).
var BuildFlags = []string{"-trimpath", "-ldflags=-s -w"}

// Build compiles the wasm main to out, writing to o.Progress a line every
// ProgressEvery with the packages compiled so far, and a last line with the
// size and the time taken.
func Build(ctx context.Context, o Options, out string) error {
	return build(ctx, o, out, 0)
}

// ProgressEvery is how often Build reports the packages compiled so far.
var ProgressEvery = 5 * time.Second

// build is Build; total, when known (the dependencies go list counted), is
// printed beside the packages compiled so far.
func build(ctx context.Context, o Options, out string, total int) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	tmp := out + ".tmp"
	// -v names each package as it is compiled: the progress count.
	args := append(append([]string{"build", "-v"}, BuildFlags...), "-o", tmp, o.pkg())
	cmd, err := o.command(ctx, args...)
	if err != nil {
		return err
	}
	counter := &packageCounter{}
	cmd.Stderr = counter
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("wasmbuild: go build %s: %w", o.pkg(), err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(ProgressEvery)
	defer tick.Stop()
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-tick.C:
			of := ""
			if total > 0 {
				of = fmt.Sprintf("/%d", total)
			}
			fmt.Fprintf(o.progress(), "keyportal: building the shell wasm: %d%s packages compiled, %s\n", counter.count(), of, time.Since(start).Round(time.Second))
		}
	}
	if err != nil {
		os.Remove(tmp)
		if err := stopped(ctx, "go build "+o.pkg()); err != nil {
			return err
		}
		return fmt.Errorf("wasmbuild: GOOS=js GOARCH=wasm go build %s: %v\n%s", o.pkg(), err, counter.errors())
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	size := int64(0)
	if st, err := os.Stat(out); err == nil {
		size = st.Size()
	}
	fmt.Fprintf(o.progress(), "keyportal: built the shell wasm in %s: %.1f MB, %d packages compiled\n", time.Since(start).Round(100*time.Millisecond), float64(size)/1e6, counter.count())
	return nil
}

// packageCounter reads go build -v's stderr: a line that is an import path
// alone is a package compiled; anything else is kept for the error message.
type packageCounter struct {
	mu      sync.Mutex
	partial []byte
	n       int
	other   bytes.Buffer
}

func (c *packageCounter) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, b...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		line := string(c.partial[:i])
		c.partial = c.partial[i+1:]
		if line != "" && !strings.ContainsAny(line, " \t:#") {
			c.n++
		} else {
			c.other.WriteString(line + "\n")
		}
	}
	return len(b), nil
}

func (c *packageCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *packageCounter) errors() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.TrimSpace(c.other.String() + string(c.partial))
}

// SourceKey identifies what a build would produce: a hash of the go
// version, the build flags, and every non-standard source file the wasm
// main depends on (module-cache files by path, since those are immutable;
// others by content). Equal keys mean the cached build can be reused.
func SourceKey(ctx context.Context, o Options) (string, error) {
	key, _, err := sourceKey(ctx, o)
	return key, err
}

// sourceKey is SourceKey; it also counts the packages the wasm main
// depends on, standard ones included, for Build's progress.
func sourceKey(ctx context.Context, o Options) (key string, deps int, err error) {
	h := sha256.New()
	cmd, err := o.command(ctx, "version")
	if err != nil {
		return "", 0, err
	}
	v, err := cmd.Output()
	if err != nil {
		if err := stopped(ctx, "go version"); err != nil {
			return "", 0, err
		}
		return "", 0, fmt.Errorf("wasmbuild: go version: %w", err)
	}
	fmt.Fprintf(h, "%s\n%q\n%s\n", v, BuildFlags, o.pkg())

	cmd, err = o.command(ctx, "list", "-deps", "-f",
		`{{if .Standard}}std{{else}}{{.Dir}}{{"\t"}}{{if .Module}}{{.Module.Path}}@{{.Module.Version}}{{end}}{{range .GoFiles}}{{"\t"}}{{.}}{{end}}{{range .EmbedFiles}}{{"\t"}}{{.}}{{end}}{{end}}`,
		o.pkg())
	if err != nil {
		return "", 0, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if err := stopped(ctx, "go list "+o.pkg()); err != nil {
			return "", 0, err
		}
		return "", 0, fmt.Errorf("wasmbuild: go list %s: %v\n%s", o.pkg(), err, strings.TrimSpace(stderr.String()))
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		deps++
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) < 2 {
			continue
		}
		dir, mod := fields[0], fields[1]
		if strings.Contains(mod, "@v") {
			fmt.Fprintf(h, "module %s\n", mod) // immutable in the module cache
			continue
		}
		for _, name := range fields[2:] {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return "", 0, fmt.Errorf("wasmbuild: %w", err)
			}
			fmt.Fprintf(h, "file %s %d\n", filepath.Join(dir, name), len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:24], deps, nil
}

// Cached returns the path of the wasm built from the current sources under
// cacheDir, building it first if needed. The second call with unchanged
// sources only costs the go version and go list calls.
func Cached(ctx context.Context, o Options, cacheDir string) (string, error) {
	if cacheDir == "" {
		return "", errors.New("wasmbuild: no cache directory")
	}
	key, deps, err := sourceKey(ctx, o)
	if err != nil {
		return "", err
	}
	out := filepath.Join(cacheDir, "shell-"+key+".wasm")
	if st, err := os.Stat(out); err == nil && st.Size() > 0 {
		return out, nil
	}
	fmt.Fprintf(o.progress(), "keyportal: building the shell wasm from source (first start only; %d packages to check, progress every %s)\n", deps, ProgressEvery)
	if err := build(ctx, o, out, deps); err != nil {
		return "", err
	}
	return out, nil
}

// Hash returns the content hash used in the wasm's URL: the first 16 hex
// digits of its SHA-256.
func Hash(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return hex.EncodeToString(sum[:8])
}

// Gzip compresses b at the best level.
func Gzip(b []byte) []byte { return httpenc.Gzip(b) }

// Brotli compresses b at quality 11, with the brotli command when it is
// installed (much faster) and in Go otherwise.
func Brotli(ctx context.Context, b []byte) ([]byte, error) { return httpenc.Brotli(ctx, b) }

// CompressedPaths returns where the gzip and brotli forms of the wasm with
// the given hash live next to wasmPath: app.<hash>.wasm.gz and .br.
func CompressedPaths(wasmPath, hash string) (gz, br string) {
	base := filepath.Join(filepath.Dir(wasmPath), strings.TrimSuffix(filepath.Base(wasmPath), ".wasm")+"."+hash+".wasm")
	return base + ".gz", base + ".br"
}

// WriteFile writes b to path atomically (a temporary file, then rename).
func WriteFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
