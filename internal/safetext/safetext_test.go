package safetext

import (
	"strings"
	"testing"
	"unicode"

	"github.com/keyportal/keyportal/internal/testenv"
)

func TestUnsafe(t *testing.T) {
	unsafe := []rune{0x00, '\a', '\t', '\n', '\r', 0x1b, 0x1f, 0x7f, 0x80, 0x85, 0x9b, 0x9f, 0xad, 0x061c,
		0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202e, 0x2060, 0x2066, 0x2069,
		0xfeff, 0xe0001, 0xe0041, 0xe007f}
	safe := []rune{' ', '~', '\\', 0xa0, 'é', 'ß', 'ا', '中', 0x200a, 0x2010, 0x2027, 0x202f, 0x3000,
		0xe000, 0xfe0f, 0xfffd, 0x1f600, unicode.MaxRune}
	for _, r := range unsafe {
		if !Unsafe(r) {
			t.Errorf("Unsafe(%U) = false, want true", r)
		}
	}
	for _, r := range safe {
		if Unsafe(r) {
			t.Errorf("Unsafe(%U) = true, want false", r)
		}
	}
}

// TestUnsafeCoversTheAttackSamples: every sample the tests attack with
// holds a character of the set, and on the Basic Multilingual Plane the set
// holds every character of the tests' own oracle (testenv.Hostile) and,
// beyond it, only other format characters (Cf).
func TestUnsafeCoversTheAttackSamples(t *testing.T) {
	for _, h := range testenv.HostileText {
		found := false
		for _, r := range h.Text {
			found = found || Unsafe(r)
		}
		if !found {
			t.Errorf("sample %s %q holds no unsafe character", h.Name, h.Text)
		}
	}
	for r := rune(0); r <= 0xffff; r++ {
		if testenv.Hostile(r) && !Unsafe(r) {
			t.Errorf("Unsafe(%U) = false; the tests' oracle says it is hostile", r)
		}
		if Unsafe(r) && !testenv.Hostile(r) && !unicode.Is(unicode.Cf, r) {
			t.Errorf("Unsafe(%U) = true for a character neither hostile to the tests nor a format character", r)
		}
	}
}

func TestContains(t *testing.T) {
	cases := []string{"", "CI deploys", "café", "ascii then \u202e", "ascii then é then \x1b", "tab\there", "\x7f", "中文 🙂"}
	for _, h := range testenv.HostileText {
		cases = append(cases, h.Text, "prefix "+h.Text, "é "+h.Text)
	}
	for _, s := range cases {
		if got, want := Contains(s), strings.ContainsFunc(s, Unsafe); got != want {
			t.Errorf("Contains(%q) = %v, want %v", s, got, want)
		}
	}
}
