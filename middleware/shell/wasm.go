package shell

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/internal/httpenc"
	"github.com/keyportal/keyportal/internal/wasmbuild"
)

// wasmFile is the wasm the shell serves, with its gzip form (brotli comes
// later, in Shell.br).
type wasmFile struct {
	raw, gz []byte
	hash    string
}

// pendingWait bounds how long a request for the wasm waits for a build in
// progress before it is answered 503 with Retry-After.
var pendingWait = 10 * time.Second

// retryAfter is the Retry-After, in seconds, of that 503.
const retryAfter = "3"

// useWasm reads the wasm at path, with its gzip form, and starts the brotli
// compression if its brotli form is not cached.
func (s *Shell) useWasm(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWasm, err)
	}
	if len(raw) < 8 || string(raw[:4]) != "\x00asm" {
		return fmt.Errorf("%w: %s is not a WebAssembly binary", ErrWasm, path)
	}
	w := &wasmFile{raw: raw, hash: wasmbuild.Hash(raw)}
	gzPath, brPath := wasmbuild.CompressedPaths(path, w.hash)
	w.gz = s.readOrMake(gzPath, func() ([]byte, error) { return wasmbuild.Gzip(raw), nil })
	s.wasm.Store(w)
	if br, err := os.ReadFile(brPath); err == nil && len(br) > 0 {
		s.br.Store(&br)
		return nil
	}
	// Brotli at quality 11 takes minutes in pure Go; serve gzip meanwhile.
	fmt.Fprintf(s.cfg.Progress, "keyportal: compressing the shell with brotli in the background (first start only); serving gzip meanwhile\n")
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		br := s.readOrMake(brPath, func() ([]byte, error) { return wasmbuild.Brotli(s.bg, raw) })
		if br != nil {
			s.br.Store(&br)
			fmt.Fprintf(s.cfg.Progress, "keyportal: shell wasm %d bytes, gzip %d, brotli %d\n", len(raw), len(w.gz), len(br))
		}
	}()
	return nil
}

// buildInBackground builds the wasm from source (or finds it in the cache)
// under ctx, BuildTimeout and Close, then serves it.
func (s *Shell) buildInBackground(ctx context.Context) {
	defer s.running.Done()
	defer close(s.ready)
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.BuildTimeout)
	defer cancel()
	stop := context.AfterFunc(s.bg, cancel) // Close
	defer stop()
	built, err := wasmbuild.Cached(ctx, wasmbuild.Options{
		Package:  s.cfg.BuildFromSource,
		Dir:      s.cfg.ModuleDir,
		Progress: s.cfg.Progress,
	}, s.cfg.CacheDir)
	switch {
	case err == nil:
		err = s.useWasm(built)
	case s.bg.Err() != nil:
		err = fmt.Errorf("%w: building the shell from source was stopped by Close: %w", ErrWasm, err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && time.Since(start) >= s.cfg.BuildTimeout:
		err = fmt.Errorf("%w: building the shell from source took longer than BuildTimeout (%s): %w", ErrWasm, s.cfg.BuildTimeout, err)
	case ctx.Err() != nil:
		err = fmt.Errorf("%w: building the shell from source was stopped: %w", ErrWasm, err)
	default:
		err = fmt.Errorf("%w: %w (or build it once with `go run github.com/keyportal/keyportal/cmd/shellbuild -o web` and set WasmPath)", ErrWasm, err)
	}
	switch {
	case err != nil && s.bg.Err() != nil: // the program is shutting down: nothing to warn of
		s.buildErr = err
		s.log.Info().Err(err).Msg("shell: build stopped by Close")
		return
	case err != nil:
		s.buildErr = err
		fmt.Fprintf(s.cfg.Progress, "keyportal: the shell wasm is not available; the settings pages keep working without it: %v\n", err)
		s.log.Error().Err(err).Msg("shell: no wasm")
		return
	}
	s.refresh()
}

// Wait waits until the wasm is served or its build has failed, or ctx
// ends. It returns nil when the wasm is served, the build's error (wrapping
// ErrWasm) when it failed, or ctx's error.
func (s *Shell) Wait(ctx context.Context) error {
	select {
	case <-s.ready:
		return s.buildErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readOrMake returns the file at path, or makes it and caches it there (or,
// if that directory is read-only, in CacheDir).
func (s *Shell) readOrMake(path string, compute func() ([]byte, error)) []byte {
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return b
	}
	b, err := compute()
	if errors.Is(err, context.Canceled) {
		return nil // Close stopped it
	}
	if err != nil {
		s.log.Error().Err(err).Str("path", path).Msg("shell: compressing the wasm failed; serving it uncompressed")
		return nil
	}
	if err := wasmbuild.WriteFile(path, b); err != nil {
		alt := filepath.Join(s.cfg.CacheDir, filepath.Base(path))
		if cached, err := os.ReadFile(alt); err == nil && len(cached) > 0 {
			return cached
		}
		if err2 := os.MkdirAll(s.cfg.CacheDir, 0o755); err2 != nil || wasmbuild.WriteFile(alt, b) != nil {
			s.log.Warn().Err(err).Str("path", path).Msg("shell: cannot cache the compressed wasm; it will be recomputed at next start")
		}
	}
	return b
}

// wasmURL is where the page loads w from: content-hashed, or app.wasm
// while it is being built (nil).
func (s *Shell) wasmURL(w *wasmFile) string {
	if w == nil {
		return s.prefix + "web/app.wasm"
	}
	return s.prefix + "web/app." + w.hash + ".wasm"
}

// serveWasm serves the wasm named name under the prefix's web/: its
// content-hashed name, cached for good, or app.wasm, the URL pages served
// while it was being built load, never cached. While the wasm is being
// built a request for app.wasm waits up to pendingWait, then gets 503 with
// Retry-After, which app.js waits out (rewriteAppJS); if the build failed,
// 503 without it. It reports false when name is not the wasm's.
func (s *Shell) serveWasm(c *gin.Context, name string) bool {
	w := s.wasm.Load()
	cache := immutable
	switch {
	case name == "app.wasm":
		cache = "no-cache"
	case w == nil || name != "app."+w.hash+".wasm":
		return false
	}
	if w == nil {
		t := time.NewTimer(pendingWait)
		defer t.Stop()
		select {
		case <-s.ready:
		case <-t.C:
		case <-c.Request.Context().Done():
		}
		if w = s.wasm.Load(); w == nil {
			c.Header("Cache-Control", "no-store")
			select {
			case <-s.ready:
				c.String(503, "the API key manager's script could not be built; the page works without it (see the server's log)\n")
			default:
				c.Header("Retry-After", retryAfter)
				c.String(503, "the API key manager's script is still being built; retry in "+retryAfter+" s\n")
			}
			return true
		}
	}
	forms := httpenc.Body{Identity: w.raw, Gzip: w.gz}
	if br := s.br.Load(); br != nil {
		forms.Brotli = *br
	}
	body, enc := forms.Pick(c.GetHeader("Accept-Encoding"))
	h := c.Writer.Header()
	h.Set("Vary", "Accept-Encoding")
	h.Set("Cache-Control", cache)
	h.Set("X-Content-Type-Options", "nosniff")
	etag := `"` + w.hash + "-" + cmp.Or(enc, "identity") + `"`
	h.Set("ETag", etag)
	if httpenc.MatchETag(c.GetHeader("If-None-Match"), etag) {
		c.Status(304)
		return true
	}
	if enc != "" {
		h.Set("Content-Encoding", enc)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.Data(200, "application/wasm", body)
	return true
}

// WasmURL returns the URL the page loads the wasm from: content-hashed
// once the wasm is ready, <prefix>web/app.wasm while it is being built.
func (s *Shell) WasmURL() string { return s.wasmURL(s.wasm.Load()) }

// WasmSizes returns the raw, gzip and brotli sizes of the served wasm
// (all 0 while it is being built, brotli 0 while it is being compressed).
func (s *Shell) WasmSizes() (raw, gzip, brotli int) {
	w := s.wasm.Load()
	if w == nil {
		return 0, 0, 0
	}
	if br := s.br.Load(); br != nil {
		brotli = len(*br)
	}
	return len(w.raw), len(w.gz), brotli
}
