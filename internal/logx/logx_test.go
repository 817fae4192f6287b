package logx

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/testenv"
)

func TestOr(t *testing.T) {
	var l zerolog.Logger
	read := testenv.CaptureStderr(t, func() { l = Or(zerolog.Logger{}, "policy") })
	l.Debug().Msg("not at info level")
	l.Error().Msg("seen")
	if s := read(); !strings.Contains(s, `"level":"error"`) || !strings.Contains(s, `"component":"policy"`) ||
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
