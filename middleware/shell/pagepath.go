package shell

import "strings"

// unsafeInPage are the characters the page's address may not hold. go-app
// writes the address into attributes (og:url, the shell's
// data-keyportal-resource) quoted as Go strings rather than HTML-escaped:
// a '"' would end the attribute and what follows would be markup. The
// others have no place in a settings page's address either (a resource id
// is letters, digits, '_' and '-').
const unsafeInPage = "\"'<>&\\`"

// safePagePath reports whether the decoded path of a settings page request
// can be written into the page: none of unsafeInPage and no control
// character.
func safePagePath(path string) bool {
	if strings.ContainsAny(path, unsafeInPage) {
		return false
	}
	for i := 0; i < len(path); i++ {
		if path[i] < 0x20 || path[i] == 0x7f {
			return false
		}
	}
	return true
}
