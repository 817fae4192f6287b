package testenv

// HostileText are samples of text that could drive an operator's terminal
// or disguise what it shows, by name: every text field of the key store
// refuses them (a description and metadata strings accept LF and TAB), and
// the CLI prints none of them raw. Tests attack with each one.
var HostileText = map[string]string{
	"ESC":    "red\x1b[31malert",
	"OSC":    "title\x1b]0;pwned\a",
	"BEL":    "ring\a",
	"LF":     "two\nlines",
	"CR":     "over\rwrite",
	"TAB":    "a\tb",
	"DEL":    "a\x7fb",
	"C1 CSI": "a\u009b2Jb",
	"NEL":    "a\u0085b",
	"RLO":    "cod.\u202eexe",
	"LRI":    "a\u2066b\u2069",
	"RLM":    "a\u200fb",
	"ZWSP":   "a\u200bb",
	"LS":     "a\u2028b",
	"BOM":    "\ufeffa",
	"tag":    "a\U000E0041",
}

// Hostile reports whether r is a character the samples above attack with:
// C0 and C1 controls, DEL, bidi controls, zero-width and other invisible
// format characters, line and paragraph separators. It is written out here
// on its own, not taken from the code under test, so that a test using it
// as its oracle fails when that code's rule is wrong.
func Hostile(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x00ad, r == 0x061c, r == 0x180e:
		return true
	case r >= 0x200b && r <= 0x200f, r >= 0x2028 && r <= 0x202e, r >= 0x2060 && r <= 0x2064, r >= 0x2066 && r <= 0x206f:
		return true
	case r == 0xfeff, r >= 0xfff9 && r <= 0xfffb, r >= 0xe0000 && r <= 0xe007f:
		return true
	}
	return false
}
