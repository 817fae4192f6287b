package logx

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestOr(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	l := Or(zerolog.Logger{}, "policy")
	os.Stderr = stderr
	l.Debug().Msg("not at info level")
	l.Error().Msg("seen")
	w.Close()
	out, _ := io.ReadAll(r)
	if s := string(out); !strings.Contains(s, `"level":"error"`) || !strings.Contains(s, `"component":"policy"`) ||
		!strings.Contains(s, `"time":`) || strings.Contains(s, "not at info level") {
		t.Fatalf("default logger wrote %q", s)
	}

	var buf bytes.Buffer
	mine := zerolog.New(&buf)
	got := Or(mine, "policy")
	got.Debug().Msg("kept")
	if !strings.Contains(buf.String(), "kept") {
		t.Fatal("a caller's Logger must be used as given")
	}
	if IsZero(zerolog.Nop()) {
		t.Fatal("zerolog.Nop() is an explicit choice, not the zero Logger")
	}
}
