package policy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestWatchBrokenEditLogsToStderrByDefault: with the zero Logger, a broken
// edit under Watch must reach the operator (a JSON error line on stderr),
// not vanish; before the shared default it was silently dropped.
func TestWatchBrokenEditLogsToStderrByDefault(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	restored := false
	restore := func() {
		if !restored {
			os.Stderr = stderr
			restored = true
		}
	}
	defer restore()

	dir := t.TempDir()
	path := writeFile(t, dir, "policy.csv", policyA)
	e, err := New(Config{PolicyPath: path, Watch: true}) // zero Logger
	restore()                                            // the engine's logger holds the pipe now
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	tmp := writeFile(t, dir, ".policy.csv.new", policyBroken)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.LastError() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the broken edit was not noticed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var fe *FileError
	if !errors.As(e.LastError(), &fe) {
		t.Fatalf("LastError = %v", e.LastError())
	}
	e.Close()
	w.Close()
	out, _ := io.ReadAll(r)
	var line string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, `"level":"error"`) {
			line = l
		}
	}
	if line == "" || !strings.Contains(line, fmt.Sprintf(`"line":%d`, brokenLine)) || !strings.Contains(line, `"event":"policy.reload"`) {
		t.Fatalf("no error line for the broken edit on stderr; stderr was:\n%s", out)
	}
}
