package modeltext

import "strings"

// Name is a name in a matcher expression: a field (r.sub), a function
// (keyMatch) or a bare word (true).
type Name struct {
	// Text is the name with its dots ("r.sub", "r.sub.Name"), trailing dots
	// dropped.
	Text string
	// Call reports whether "(" follows the name, perhaps after spaces.
	Call bool
	// Args are a call's top-level arguments, each trimmed.
	Args []string
}

// Names returns the names of a matcher expression in order, skipping string
// literals and numbers. closed is false when a string literal is not closed;
// the names before it are returned.
func Names(expr string) (names []Name, closed bool) {
	s := expr
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '"' || c == '\'' || c == '`':
			end := stringEnd(s, i)
			if end < 0 {
				return names, false
			}
			i = end + 1
		case isDigit(c):
			for i < len(s) && (isDigit(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			var n Name
			n, i = nameAt(s, i)
			names = append(names, n)
		default:
			i++
		}
	}
	return names, true
}

// nameAt reads the name starting at s[start], and returns it with the index
// just after it.
func nameAt(s string, start int) (n Name, end int) {
	end = start
	for end < len(s) && (isIdentPart(s[end]) || s[end] == '.') {
		end++
	}
	n.Text = strings.TrimRight(s[start:end], ".")
	k := end
	for k < len(s) && s[k] == ' ' {
		k++
	}
	if k < len(s) && s[k] == '(' {
		n.Call, n.Args = true, callArgs(s, k)
	}
	return n, end
}

// stringEnd returns the index of the quote closing the string literal that
// opens at s[open], or -1.
func stringEnd(s string, open int) int {
	j := open + 1
	for j < len(s) && s[j] != s[open] {
		if s[j] == '\\' {
			j++
		}
		j++
	}
	if j >= len(s) {
		return -1
	}
	return j
}

// callArgs returns the top-level arguments of the call whose "(" is at open.
func callArgs(s string, open int) []string {
	depth := 0
	var args []string
	start := open + 1
	var quote byte
	for i := open; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'', '`':
			quote = c
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				if a := strings.TrimSpace(s[start:i]); a != "" || len(args) > 0 {
					args = append(args, a)
				}
				return args
			}
		case ',':
			if depth == 1 {
				args = append(args, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return args
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentPart(c byte) bool  { return isIdentStart(c) || isDigit(c) }
