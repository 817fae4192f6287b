package shell_test

import (
	"log"

	"github.com/gin-gonic/gin"
	"github.com/keyportal/keyportal/middleware/shell"
)

// A production server serves the shell built with
// `go run github.com/keyportal/keyportal/cmd/shellbuild -o web`.
func Example() {
	s, err := shell.New(shell.Config{
		Title:    "Acme — API keys",
		WasmPath: "web/app.wasm",
	})
	if err != nil {
		log.Fatal(err)
	}
	r := gin.New()
	s.Mount(r, "/settings/api-keys/:deploymentId")
	log.Fatal(r.Run("127.0.0.1:8080"))
}

// In development, leave WasmPath empty: the first start builds the shell
// from source (about a minute, with progress on stderr) and caches it.
func ExampleNew_fromSource() {
	s, err := shell.New(shell.Config{Title: "Acme — API keys"})
	if err != nil {
		log.Fatal(err)
	}
	s.Mount(gin.New())
}
