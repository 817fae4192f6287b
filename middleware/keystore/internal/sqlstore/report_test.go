package sqlstore

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/internal/testenv"
)

func TestReporterDefaultsToStderr(t *testing.T) {
	var report func(error)
	read := testenv.CaptureStderr(t, func() { report = Reporter(nil, "keystore.feed") })
	report(errors.New("listen connection lost"))
	if s := read(); !strings.Contains(s, `"level":"error"`) || !strings.Contains(s, `"event":"keystore.feed"`) || !strings.Contains(s, "listen connection lost") {
		t.Fatalf("nil OnFeedError wrote %q", s)
	}

	var got error
	Reporter(func(err error) { got = err }, "keystore.feed")(io.EOF)
	if got != io.EOF {
		t.Fatal("a caller's function must be used as given")
	}
}
