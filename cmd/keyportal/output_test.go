package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keyportal/keyportal/internal/safetext"
	"github.com/keyportal/keyportal/internal/testenv"
)

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"CI deploys":              "CI deploys",
		`C:\keys`:                 `C:\keys`,
		"café 中文 🙂 a\u00a0b":      "café 中文 🙂 a\u00a0b",
		"red\x1b[31m":             `red\x1b[31m`,
		"ring\a\r\n\t\x00\x7f":    `ring\a\r\n\t\x00\x7f`,
		"\u009b2J\u0085":          `\u009b2J\u0085`,
		"cod.\u202eexe\u2066":     `cod.\u202eexe\u2066`,
		"\ufeffa\u200bb\u2028":    `\ufeffa\u200bb\u2028`,
		"flag\U000E0041":          `flag\U000e0041`,
		"bad \xff\xfe utf-8 \x9b": `bad \xff\xfe utf-8 \x9b`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
		if again := printable(printable(in)); again != printable(in) {
			t.Errorf("printable is not idempotent on %q: %q", in, again)
		}
	}
}

func TestJSONLineEscapesAndKeepsText(t *testing.T) {
	text := "a\x7f\u0085\u202e\ufeff\U000E0041\n\x1b é"
	var buf bytes.Buffer
	if err := jsonLine(&buf, map[string]string{"name": text}); err != nil {
		t.Fatal(err)
	}
	want := `{"name":"a\u007f\u0085\u202e\ufeff\udb40\udc41\n\u001b é"}` + "\n"
	if buf.String() != want {
		t.Errorf("jsonLine = %q, want %q", buf.String(), want)
	}
	var back map[string]string
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || back["name"] != text {
		t.Errorf("decoded %q (%v), want %q", back["name"], err, text)
	}
}

// FuzzPrintable: whatever a database holds, what the command prints of it
// is valid UTF-8 without a control, bidi or invisible format character, and
// a JSON line of it holds none either and decodes to the text (invalid
// bytes aside, which encoding/json replaces).
func FuzzPrintable(f *testing.F) {
	for _, h := range testenv.HostileText {
		f.Add(h.Text)
	}
	f.Add("bad \xff\xfe utf-8 \x9b")
	f.Fuzz(func(t *testing.T, s string) {
		p := printable(s)
		if !utf8.ValidString(p) || safetext.Contains(p) {
			t.Fatalf("printable(%q) = %q", s, p)
		}
		var buf bytes.Buffer
		if err := jsonLine(&buf, s); err != nil {
			t.Fatal(err)
		}
		line := strings.TrimSuffix(buf.String(), "\n")
		if safetext.Contains(line) {
			t.Fatalf("jsonLine(%q) = %q", s, line)
		}
		var back string
		if err := json.Unmarshal([]byte(line), &back); err != nil {
			t.Fatalf("jsonLine(%q) = %q is not JSON: %v", s, line, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("jsonLine(%q) = %q decodes to %q", s, line, back)
		}
	})
}
