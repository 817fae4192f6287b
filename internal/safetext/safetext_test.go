package safetext

import (
	"testing"
	"unicode"

	"github.com/keyportal/keyportal/internal/testenv"
)

func TestUnsafe(t *testing.T) {
	for _, tc := range []struct {
		r    rune
		want bool
	}{
		{0x00, true}, {'\a', true}, {'\t', true}, {'\n', true}, {'\r', true}, {0x1b, true}, {0x1f, true},
		{' ', false}, {'~', false}, {'\\', false}, {0x7f, true}, {0x80, true}, {0x85, true}, {0x9b, true}, {0x9f, true},
		{0xa0, false}, {0xad, true}, {'é', false}, {'ß', false}, {0x061c, true}, {'ا', false}, {'中', false},
		{0x200a, false}, {0x200b, true}, {0x200c, true}, {0x200d, true}, {0x200e, true}, {0x200f, true},
		{0x2010, false}, {0x2027, false}, {0x2028, true}, {0x2029, true}, {0x202a, true}, {0x202e, true},
		{0x202f, false}, {0x2060, true}, {0x2066, true}, {0x2069, true}, {0x3000, false}, {0xe000, false},
		{0xfe0f, false}, {0xfeff, true}, {0xfffd, false}, {0x1f600, false}, {0xe0001, true}, {0xe0041, true},
		{0xe007f, true}, {unicode.MaxRune, false},
	} {
		if got := Unsafe(tc.r); got != tc.want {
			t.Errorf("Unsafe(%U) = %v, want %v", tc.r, got, tc.want)
		}
	}
}

// TestUnsafeCoversTheAttackSamples: every sample the tests attack with
// holds a character of the set, and on the Basic Multilingual Plane the set
// holds every character of the tests' own oracle (testenv.Hostile) and,
// beyond it, only other format characters (Cf).
func TestUnsafeCoversTheAttackSamples(t *testing.T) {
	for name, s := range testenv.HostileText {
		found := false
		for _, r := range s {
			found = found || Unsafe(r)
		}
		if !found {
			t.Errorf("sample %s %q holds no unsafe character", name, s)
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
