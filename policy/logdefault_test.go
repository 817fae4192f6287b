package policy

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
)

// TestWatchBrokenEditLogsToStderrByDefault: with the zero Logger, a broken
// edit under Watch must reach the operator (a JSON error line on stderr),
// not vanish; before the shared default it was silently dropped.
func TestWatchBrokenEditLogsToStderrByDefault(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "policy.csv", policyA)
	var e *Engine
	var err error
	read := testenv.CaptureStderr(t, func() {
		e, err = New(Config{PolicyPath: path, Watch: true}) // zero Logger: its logger holds the pipe
	})
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
	out := read()
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, `"level":"error"`) {
			line = l
		}
	}
	if line == "" || !strings.Contains(line, fmt.Sprintf(`"line":%d`, brokenLine)) || !strings.Contains(line, `"event":"policy.reload"`) {
		t.Fatalf("no error line for the broken edit on stderr; stderr was:\n%s", out)
	}
}
