// Package policytext holds the rules of a policy row's text that the engine
// (package policy), the linter (policy/lint) and the Postgres source
// (policy/postgres) apply alike, so that what one refuses the others do.
package policytext

// TrailingComment returns the part of field from a # that follows a space or
// a tab: a comment written after a row. Casbin reads a line as a comment only
// when it starts with #, so such a comment would silently become part of the
// field. It returns "" for a field without one.
func TrailingComment(field string) string {
	for i := 1; i < len(field); i++ {
		if field[i] == '#' && (field[i-1] == ' ' || field[i-1] == '\t') {
			return field[i:]
		}
	}
	return ""
}

// RowComment returns the first comment written after a row of fields
// (TrailingComment), or "".
func RowComment(fields []string) string {
	for _, f := range fields {
		if c := TrailingComment(f); c != "" {
			return c
		}
	}
	return ""
}
