// Package wasmui is the browser side of keyportal: a go-app component,
// Shell, that embeds the key portal in the host app's settings page.
//
// The Shell asks the host app's ticket route for a single-use ticket
// (POST {"deploymentId": "42"} with the user's cookies), shows the portal in
// an iframe, and renews the ticket when the portal says its session ended:
// in place with a postMessage when the frame speaks the keyportal protocol,
// by reloading the iframe otherwise (Wacht's hosted page), and at
// expires_at for a frame that never said ready. It shows distinct states for
// 401, 403, 429 (a countdown from Retry-After) and other failures (automatic
// retries at 1, 2, 4 … 30 s and a Retry button). Messages are accepted only
// from the iframe's window and the portal's exact origin; tickets are posted
// to that exact origin.
//
// The logic lives in Machine, a state machine with no browser dependency;
// Shell renders it and carries out its effects with fetch, postMessage and
// timers. The page's eager script (EagerScript, served by middleware/shell)
// starts the first ticket request before the wasm has loaded, and the Shell
// adopts it.
//
// The package imports go-app and middleware/ticket only, and calls the
// browser's fetch rather than net/http. Its wasm main is wasmui/cmd/shell;
// `go run ./wasmui/cmd/build -o web` builds it for production.
package wasmui
