package testenv

import (
	"io"
	"os"
	"testing"
)

// CaptureStderr points os.Stderr at a pipe while build runs (when a default
// logger binds os.Stderr), then restores it. The returned read closes the
// pipe's write end and returns everything written through it; call it once,
// after whatever build made has finished writing. Tests use it to prove an
// error an operator must see reaches stderr by default.
func CaptureStderr(t testing.TB, build func()) (read func() string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	func() {
		defer func() { os.Stderr = stderr }()
		build()
	}()
	t.Cleanup(func() { w.Close(); r.Close() })
	return func() string {
		w.Close()
		out, _ := io.ReadAll(r)
		return string(out)
	}
}
