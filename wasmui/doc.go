// Package wasmui is the browser side of keyportal: a go-app component,
// Shell, that embeds the key portal in the host app's settings page.
//
// The Shell asks the host app's ticket route for a single-use ticket
// (POST {"deploymentId": "42"} with the user's cookies), shows the portal in
// an iframe, and renews the ticket when the portal says its session ended:
// in place with a postMessage when the frame speaks the keyportal protocol,
// by reloading the iframe otherwise (Wacht's hosted page), and at
// expires_at for a frame that never said ready. It shows distinct states for
// 401, 403, 429 (a countdown from Retry-After) and other failures (a Retry
// button, and automatic retries at 1, 2, 4 … 30 s but for another 4xx).
// Messages are accepted only from the iframe's window and the portal's exact
// origin; tickets are posted to that exact origin.
//
// The logic lives in an unexported state machine with no browser dependency;
// Shell renders it and carries out its effects with fetch, postMessage and
// timers. The page's eager script (EagerScript, served by middleware/shell)
// asks for the first ticket while the page loads and, on a 200, shows the
// portal at once in a slot beside the shell's element (go-app replaces that
// element when the wasm mounts, and a moved iframe would reload). It queues
// the frame's messages, checked like the Shell checks them; the Shell adopts
// the request and the iframe (no second fetch, no reload), replays the
// queue and owns renewal, resizing and cleanup from then on. Other answers
// (401, 403, 429, failures) are left to the Shell, which renders them.
//
// A page opened from another site asks for nothing until the user clicks:
// the server writes the page's start mode (StartAtOnce or StartOnClick) in
// its data-keyportal-start attribute (middleware/shell decides it from
// Sec-Fetch-Site), and the eager script and the Shell both show an Open
// button instead of asking, so that a link cannot spend the user's tickets.
//
// Every text the Shell shows comes from its Messages, English where empty
// (English); middleware/shell hands the host's table to the wasm and renders
// the page's first state, which the eager script shows, with it.
//
// The Shell posts keyportal:theme to the portal (Theme, or the page's
// prefers-color-scheme) and forwards the portal's key events to the page as
// a DOM CustomEvent "keyportal:event" whose detail.name is
// ticket.EventKeyCreated, EventKeyRotated or EventKeyRevoked. It is
// dispatched on the shell's element and bubbles to document and window, so
// a host page refreshes its own UI with:
//
//	window.addEventListener("keyportal:event", (e) => refresh(e.detail.name))
//
// The package imports go-app, middleware/ticket and internal/msgtable only,
// and calls the
// browser's fetch rather than net/http. Its wasm main is cmd/shellwasm;
// `go run ./cmd/shellbuild -o web` builds it for production.
package wasmui
