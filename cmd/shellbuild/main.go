// Command shellbuild builds the keyportal shell's WebAssembly binary (the
// wasm main cmd/shellwasm) for production and precompresses it, so servers
// start without the go command. In this repository:
//
//	go run ./cmd/shellbuild -o web
//
// and from a module that requires keyportal:
//
//	go run github.com/keyportal/keyportal/cmd/shellbuild -o web
//
// writes web/app.wasm, web/app.<hash>.wasm.gz and web/app.<hash>.wasm.br
// (brotli quality 11) and prints their sizes. Point middleware/shell's
// Config.WasmPath at web/app.wasm; it serves the compressed forms as they are.
// -pkg builds another wasm main instead; Ctrl-C stops the build.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/keyportal/keyportal/internal/wasmbuild"
)

func main() {
	out := flag.String("o", "web", "output directory")
	pkg := flag.String("pkg", wasmbuild.DefaultPackage, "package path of the wasm main")
	flag.Parse()
	if err := run(*out, *pkg); err != nil {
		fmt.Fprintln(os.Stderr, "shellbuild:", err)
		os.Exit(1)
	}
}

func run(dir, pkg string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	wasmPath := filepath.Join(dir, "app.wasm")
	fmt.Fprintf(os.Stderr, "building %s for js/wasm…\n", pkg)
	if err := wasmbuild.Build(ctx, wasmbuild.Options{Package: pkg, Progress: os.Stderr}, wasmPath); err != nil {
		return err
	}
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		return err
	}
	hash := wasmbuild.Hash(wasm)
	gzPath, brPath := wasmbuild.CompressedPaths(wasmPath, hash)
	gz := wasmbuild.Gzip(wasm)
	fmt.Fprintln(os.Stderr, "compressing with brotli (quality 11)…")
	br, err := wasmbuild.Brotli(ctx, wasm)
	if err != nil {
		return err
	}
	if err := wasmbuild.WriteFile(gzPath, gz); err != nil {
		return err
	}
	if err := wasmbuild.WriteFile(brPath, br); err != nil {
		return err
	}
	fmt.Printf("%s\t%d bytes raw\n%s\t%d bytes gzip -9\n%s\t%d bytes brotli q11\n", wasmPath, len(wasm), gzPath, len(gz), brPath, len(br))
	return nil
}
