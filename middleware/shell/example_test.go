package shell_test

import (
	"context"
	"log"
	"os"
	"os/signal"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/middleware/shell"
)

// A production server serves the shell built with
// `go run github.com/keyportal/keyportal/cmd/shellbuild -o web`.
func Example() {
	s, err := shell.New(context.Background(), shell.Config{
		Title:    "Acme — API keys",
		WasmPath: "web/app.wasm",
		Pages:    []string{"/settings/api-keys/:deploymentId"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	r := gin.New()
	if err := s.Mount(r); err != nil { // the pages, and the assets under /_keyportal/
		log.Fatal(err)
	}
	if err := r.Run("127.0.0.1:8080"); err != nil {
		log.Print(err)
	}
}

// In development, leave WasmPath empty: New returns at once and the shell is
// built from source in the background (progress on stderr) and cached; the
// pages work through the eager script until it is ready. Ctrl-C stops the
// build.
func ExampleNew_fromSource() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := shell.New(ctx, shell.Config{Title: "Acme — API keys"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	r := gin.New()
	if err := s.Mount(r); err != nil {
		log.Fatal(err)
	}
	go func() {
		// Optional: a readiness probe could wait for the wasm.
		if err := s.Wait(ctx); err != nil {
			log.Print(err) // e.g. shell: no wasm: building the shell from source was stopped: …: context canceled
		}
	}()
	if err := r.Run("127.0.0.1:8080"); err != nil {
		log.Print(err)
	}
}
