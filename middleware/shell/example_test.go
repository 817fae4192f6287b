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
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	r := gin.New()
	s.Mount(r, "/settings/api-keys/:deploymentId")
	if err := r.Run("127.0.0.1:8080"); err != nil {
		log.Print(err)
	}
}

// In development, leave WasmPath empty: the first start builds the shell
// from source (about a minute, with progress on stderr) and caches it.
// Ctrl-C stops the build.
func ExampleNew_fromSource() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s, err := shell.New(ctx, shell.Config{Title: "Acme — API keys"})
	if err != nil {
		log.Print(err) // e.g. shell: no wasm: building the shell from source was stopped: …: context canceled
		return
	}
	defer s.Close()
	s.Mount(gin.New())
}
