package shell

import (
	"errors"
	"fmt"
	"strings"

	"github.com/keyportal/keyportal/wasmui"
)

// errAppJS says go-app's app.js is not what rewriteAppJS was written for.
var errAppJS = errors.New("go-app's app.js changed (this keyportal version is written for go-app v10.1.11)")

// rewriteAppJS changes go-app's app.js in four ways, each of which must
// apply exactly, or it returns an error (Mount fails loudly rather than
// serve a shell that registers a service worker):
//
//   - No service worker: the call to goappInitServiceWorker and its
//     definition, the only navigator.serviceWorker.register in app.js, are
//     removed. The shell needs no worker, and one would be installed for
//     the whole host app's origin.
//   - The wasm is fetched by keyportalFetchWasm rather than go-app's
//     progress wrapper, which re-streams the body through JavaScript and
//     delays the browser's streaming compile; keyportalFetchWasm waits out
//     a 503 with Retry-After, the answer while the wasm is being built.
//   - The wasm is fetched once the eager script is done with the first
//     ticket: loading, compiling and starting it hold the main thread, and
//     the portal comes first (see eagerTag).
//   - The shell sits where the page put it (Page.Body), but go-app mounts
//     its root in place of the body's first element: when that is not the
//     prerendered shell (a host layout's header comes first), the wasm
//     mounts on a placeholder there and the component moves to the
//     shell's place (placeShell).
func rewriteAppJS(js, wasmURL string) (string, error) {
	for _, ed := range []struct{ from, to string }{
		{"\ngoappInitServiceWorker();\n", "\n"},
		{`fetchWithProgress("` + wasmURL + `", showProgress)`, `keyportalFetchWasm("` + wasmURL + `")`},
		{"const wasm = await instantiateStreaming(", "const eager = window." + wasmui.EagerGlobal + ";\n    if (eager && eager.settled) await eager.settled;\n    const wasm = await instantiateStreaming("},
		{"go.run(wasm.instance);", placeShell},
	} {
		if n := strings.Count(js, ed.from); n != 1 {
			return "", fmt.Errorf("%w: %q found %d times, want once", errAppJS, ed.from, n)
		}
		js = strings.Replace(js, ed.from, ed.to, 1)
	}
	const def = "async function goappInitServiceWorker() {"
	start := strings.Index(js, def)
	end := strings.Index(js[max(start, 0):], "\n}\n")
	if start < 0 || end < 0 {
		return "", fmt.Errorf("%w: no %q … \"}\" block", errAppJS, def)
	}
	js = js[:start] + js[start+end+len("\n}\n"):]
	for _, gone := range []string{"serviceWorker.register", "goappInitServiceWorker"} {
		if strings.Contains(js, gone) {
			return "", fmt.Errorf("%w: %q is still there after the rewrite", errAppJS, gone)
		}
	}
	return js + fetchWasmJS, nil
}

// placeShell replaces go-app's go.run call in app.js (see rewriteAppJS).
const placeShell = `const kpBody = document.body;
    const kpPre = document.querySelector("[data-keyportal-prerendered]");
    const kpMark = kpPre && kpPre !== kpBody.firstElementChild ? kpBody.insertBefore(document.createElement("div"), kpBody.firstElementChild) : null;
    go.run(wasm.instance);
    if (kpMark) {
      const kpRoot = kpBody.firstElementChild;
      if (kpRoot !== kpMark && kpPre.isConnected) kpPre.replaceWith(kpRoot);
      else kpMark.remove();
    }`

// fetchWasmJS fetches the wasm, waiting out 503 answers that carry
// Retry-After (the wasm is still being built, see serveWasm).
const fetchWasmJS = `
// keyportal: wait while the server is still building the wasm.
async function keyportalFetchWasm(url) {
  for (;;) {
    const resp = await fetch(url);
    const wait = resp.status === 503 && Number(resp.headers.get("Retry-After"));
    if (!wait) {
      return resp;
    }
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
}
`
