package wasmui_test

import (
	"fmt"

	"github.com/keyportal/keyportal/wasmui"
	"github.com/maxence-charriere/go-app/v10/pkg/app"
)

// The wasm main routes every page to a Shell configured by the server
// through go-app's Env (middleware/shell sets it).
func ExampleFromEnv() {
	app.RouteWithRegexp("^/.*", func() app.Composer { return wasmui.FromEnv(app.Getenv) })
	app.RunWhenOnBrowser()
}

// A Shell can also be placed in a go-app page of your own.
func ExampleShell() {
	page := app.Div().Body(
		app.H1().Text("API keys"),
		&wasmui.Shell{
			TicketPath: "/api/settings/api-keys/embed-ticket",
			Field:      "deploymentId",
			ResourceID: "42",
			// The texts in German; the fields left empty stay English.
			Messages: wasmui.Messages{
				Lang:       "de",
				FrameTitle: "API-Schlüsselverwaltung",
				Loading:    "API-Schlüsselverwaltung wird geladen …",
			},
		},
	)
	_ = page
}

func ExampleResourceFromPath() {
	routes := []string{"/settings/api-keys/:deploymentId"}
	fmt.Println(wasmui.ResourceFromPath(routes, "/settings/api-keys/42"))
	fmt.Printf("%q\n", wasmui.ResourceFromPath(routes, "/settings/profile"))
	// Output:
	// 42
	// ""
}
