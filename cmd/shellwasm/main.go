// Command shellwasm is the WebAssembly main of the keyportal shell. It
// serves every page the server routes to it; the server hands the shell's
// settings over through go-app's Env (see wasmui.FromEnv).
//
// It only runs in a browser: build it with GOOS=js GOARCH=wasm, let
// middleware/shell build it on first start (its default
// Config.BuildFromSource), or run the production build command,
// `go run ./cmd/shellbuild -o web`.
package main

import (
	"github.com/keyportal/keyportal/wasmui"
	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

func main() {
	app.RouteWithRegexp("^/.*", func() app.Composer { return wasmui.FromEnv(app.Getenv) })
	app.RunWhenOnBrowser()
}
