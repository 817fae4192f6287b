package wasmui

import _ "embed"

// EagerScript is the page script that starts the first ticket request before
// the wasm has loaded (see EagerGlobal). Serve it as a same-origin file with
// defer (the server helper middleware/shell does), never inline.
//
//go:embed eager.js
var EagerScript []byte
