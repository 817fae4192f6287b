package testenv

// HostileSample is one text an attack test tries.
type HostileSample struct {
	// Name says what the sample carries (ESC, RLO...), for subtest names.
	Name string
	// Text is the sample.
	Text string
	// Lines is set when the only such characters in Text are LF and TAB,
	// which a description and metadata strings may hold.
	Lines bool
}

// HostileText are samples of text that could drive an operator's terminal
// or disguise what it shows: every text field of the key store refuses them
// (a description and metadata strings accept the Lines ones), and the CLI
// prints none of them raw. Tests attack with each one.
var HostileText = []HostileSample{
	{Name: "ESC", Text: "red\x1b[31malert"},
	{Name: "OSC", Text: "title\x1b]0;pwned\a"},
	{Name: "BEL", Text: "ring\a"},
	{Name: "LF", Text: "two\nlines", Lines: true},
	{Name: "CR", Text: "over\rwrite"},
	{Name: "TAB", Text: "a\tb", Lines: true},
	{Name: "DEL", Text: "a\x7fb"},
	{Name: "C1 CSI", Text: "a\u009b2Jb"},
	{Name: "NEL", Text: "a\u0085b"},
	{Name: "RLO", Text: "cod.\u202eexe"},
	{Name: "LRI", Text: "a\u2066b\u2069"},
	{Name: "RLM", Text: "a\u200fb"},
	{Name: "ZWSP", Text: "a\u200bb"},
	{Name: "LS", Text: "a\u2028b"},
	{Name: "BOM", Text: "\ufeffa"},
	{Name: "tag", Text: "a\U000E0041"},
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
