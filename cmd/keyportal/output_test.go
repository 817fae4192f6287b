package main

import (
	"bytes"
	"encoding/json"
	"testing"
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
