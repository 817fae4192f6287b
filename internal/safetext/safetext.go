// Package safetext defines, once, the characters keyportal keeps out of the
// text it stores and escapes in the text it prints: those that can drive a
// terminal (control characters) or disguise what it shows (bidi controls,
// zero-width and other invisible format characters, line and paragraph
// separators). The key store refuses them in every field a user or a client
// can type (and replaces them in audit fields, which must never fail); the
// keyportal command escapes them in everything it prints from the store or
// a remote API. See docs/design.md, Invariants.
package safetext

import (
	"strings"
	"unicode"
)

// Unsafe reports whether r is one of those characters. The set is Unicode's
// general categories Cc and Cf plus the separators Zl and Zp:
//
//   - Cc, the control characters: C0 U+0000–U+001F (NUL, BEL, TAB, LF, CR,
//     ESC...), DEL U+007F and C1 U+0080–U+009F (NEL, CSI...), which
//     terminals execute;
//   - Cf, the format characters, invisible by design: among them the bidi
//     controls U+061C, U+200E–U+200F, U+202A–U+202E and U+2066–U+2069,
//     which reorder what is shown (a name "cod.\u202eexe" displays as
//     "cod.exe" reversed), the zero-width U+200B–U+200D, U+2060 and U+FEFF,
//     the soft hyphen U+00AD, and the tag characters U+E0000–U+E007F;
//   - Zl and Zp: U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR,
//     line breaks in all but name.
//
// Every other character is safe, whatever its script: letters, marks,
// digits, punctuation, symbols and emoji, spaces (U+0020, U+00A0...),
// private-use and unassigned code points. Emoji joined into one picture by
// U+200D ZERO WIDTH JOINER are refused with it: names are identifiers, and
// an invisible joiner makes two equal-looking names differ.
func Unsafe(r rune) bool {
	if r < 0x80 {
		return r < 0x20 || r == 0x7f
	}
	return r <= 0x9f || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r)
}

// Contains reports whether s holds an Unsafe character; it costs a byte
// comparison per character while s is ASCII, as names, ids and most audit
// fields are.
func Contains(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 0x80:
			return strings.ContainsFunc(s[i:], Unsafe)
		case c < 0x20 || c == 0x7f:
			return true
		}
	}
	return false
}
