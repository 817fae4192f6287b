package sqlstore

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

func TestReporterDefaultsToStderr(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	report := Reporter(nil, "keystore.feed")
	os.Stderr = stderr
	report(errors.New("listen connection lost"))
	w.Close()
	out, _ := io.ReadAll(r)
	if s := string(out); !strings.Contains(s, `"level":"error"`) || !strings.Contains(s, `"event":"keystore.feed"`) || !strings.Contains(s, "listen connection lost") {
		t.Fatalf("nil OnFeedError wrote %q", s)
	}

	var got error
	Reporter(func(err error) { got = err }, "keystore.feed")(io.EOF)
	if got != io.EOF {
		t.Fatal("a caller's function must be used as given")
	}
}
