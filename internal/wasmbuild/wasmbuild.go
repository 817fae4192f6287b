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

// Build compiles the wasm main to out.
func Build(ctx context.Context, o Options, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	tmp := out + ".tmp"
	args := append(append([]string{"build"}, BuildFlags...), "-o", tmp, o.pkg())
	cmd, err := o.command(ctx, args...)
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		if err := stopped(ctx, "go build "+o.pkg()); err != nil {
			return err
		}
		return fmt.Errorf("wasmbuild: GOOS=js GOARCH=wasm go build %s: %v\n%s", o.pkg(), err, strings.TrimSpace(stderr.String()))
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	fmt.Fprintf(o.progress(), "keyportal: built the shell in %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// SourceKey identifies what a build would produce: a hash of the go
// version, the build flags, and every non-standard source file the wasm
// main depends on (module-cache files by path, since those are immutable;
// others by content). Equal keys mean the cached build can be reused.
func SourceKey(ctx context.Context, o Options) (string, error) {
	h := sha256.New()
	cmd, err := o.command(ctx, "version")
	if err != nil {
		return "", err
	}
	v, err := cmd.Output()
	if err != nil {
		if err := stopped(ctx, "go version"); err != nil {
			return "", err
		}
		return "", fmt.Errorf("wasmbuild: go version: %w", err)
	}
	fmt.Fprintf(h, "%s\n%q\n%s\n", v, BuildFlags, o.pkg())

	cmd, err = o.command(ctx, "list", "-deps", "-f",
		`{{if not .Standard}}{{.Dir}}{{"\t"}}{{if .Module}}{{.Module.Path}}@{{.Module.Version}}{{end}}{{range .GoFiles}}{{"\t"}}{{.}}{{end}}{{range .EmbedFiles}}{{"\t"}}{{.}}{{end}}{{end}}`,
		o.pkg())
	if err != nil {
		return "", err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if err := stopped(ctx, "go list "+o.pkg()); err != nil {
			return "", err
		}
		return "", fmt.Errorf("wasmbuild: go list %s: %v\n%s", o.pkg(), err, strings.TrimSpace(stderr.String()))
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
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
				return "", fmt.Errorf("wasmbuild: %w", err)
			}
			fmt.Fprintf(h, "file %s %d\n", filepath.Join(dir, name), len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// Cached returns the path of the wasm built from the current sources under
// cacheDir, building it first if needed. The second call with unchanged
// sources only costs the go version and go list calls.
func Cached(ctx context.Context, o Options, cacheDir string) (string, error) {
	if cacheDir == "" {
		return "", errors.New("wasmbuild: no cache directory")
	}
	key, err := SourceKey(ctx, o)
	if err != nil {
		return "", err
	}
	out := filepath.Join(cacheDir, "shell-"+key+".wasm")
	if st, err := os.Stat(out); err == nil && st.Size() > 0 {
		return out, nil
	}
	fmt.Fprintf(o.progress(), "keyportal: building the shell (first start only, ~1 min)…\n")
	if err := Build(ctx, o, out); err != nil {
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
