//go:build !(js && wasm)

package wasmui

import (
	"testing"

	"github.com/keyportal/keyportal/internal/jstest"
)

// TestLifecycleInJSDOM runs lifecycle_wasm_test.go in jsdom: fetch → iframe,
// foreign messages ignored, renewal in place and by reload, one fetch in
// flight, backoff, eager-request adoption and cleanup on dismount.
func TestLifecycleInJSDOM(t *testing.T) {
	jstest.RunWasmTests(t, ".", "http://app.test/settings/api-keys/42")
}
