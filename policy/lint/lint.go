// Package lint checks a Casbin model and policy the way a reviewer would, and
// reports every problem with its file, line and a hint on how to fix it.
//
// It reads the model through the same reader that package policy checks a
// model with before the engine loads it, so both see the same sections,
// definitions and lines, and every problem carries the line it is on (Casbin
// itself stops at the first error and names no line). It does not link Casbin.
package lint

import (
	"fmt"
	"sort"
	"strings"
)

// Severity says whether a Problem makes the policy wrong or merely suspect.
type Severity string

// Severities of a Problem.
const (
	// SeverityError is a problem Casbin would reject, or a policy whose
	// decisions cannot be what the author meant.
	SeverityError Severity = "error"
	// SeverityWarning is a problem that still loads but deserves a look.
	SeverityWarning Severity = "warning"
)

// Problem codes, stable for scripts and for `# lint:ignore` style tooling.
const (
	CodeSyntax            = "syntax"              // a line that cannot be parsed
	CodeUnknownSection    = "unknown-section"     // [section] that Casbin does not know
	CodeMissingSection    = "missing-section"     // a required section is absent
	CodeBadDefinition     = "bad-definition"      // a key in the wrong section, a duplicate key, a bad field list
	CodeFieldCount        = "field-count"         // a row or a call with the wrong number of fields
	CodeUnknownPtype      = "unknown-ptype"       // a policy row whose type the model does not define
	CodeUndefinedToken    = "undefined-token"     // a matcher naming an unknown field, variable or function
	CodeRoleNotGranted    = "role-not-granted"    // a role with permission rows that no g row grants
	CodeRoleNoPermissions = "role-no-permissions" // a role granted by g rows that has no permission row
	CodeOwnerConflict     = "owner-conflict"      // a resource owned by two tenants
	CodePerTenantRows     = "per-tenant-rows"     // per-tenant permission rows where one template row would do
	CodeTenantStatus      = "tenant-status"       // an unknown or contradictory tenant status
	CodeDuplicateRow      = "duplicate-row"       // the same row twice
	CodeEmptyField        = "empty-field"         // a row with an empty field
)

// Problem is one finding, located at Path:Line (Line 0 means the whole file).
type Problem struct {
	// Path is the file the problem is in.
	Path string `json:"path"`
	// Line is the 1-based line, 0 when the problem concerns the whole file.
	Line int `json:"line"`
	// Severity is SeverityError or SeverityWarning.
	Severity Severity `json:"severity"`
	// Code names the kind of problem (one of the Code* constants).
	Code string `json:"code"`
	// Msg says what is wrong.
	Msg string `json:"message"`
	// Hint says what to do about it.
	Hint string `json:"hint,omitempty"`
}

// String formats the problem as "path:line: severity: msg [code]".
func (p Problem) String() string {
	loc := p.Path
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.Path, p.Line)
	}
	return fmt.Sprintf("%s: %s: %s [%s]", loc, p.Severity, p.Msg, p.Code)
}

// HasErrors reports whether any problem is an error.
func HasErrors(problems []Problem) bool {
	for _, p := range problems {
		if p.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Count returns the number of errors and warnings.
func Count(problems []Problem) (errors, warnings int) {
	for _, p := range problems {
		if p.Severity == SeverityError {
			errors++
		} else {
			warnings++
		}
	}
	return errors, warnings
}

// Lint checks a model and a policy given as text; the paths are only used to
// name the files in problems. An empty policyText checks the model alone.
// Problems come sorted by file (model first), line and code.
func Lint(modelPath, modelText, policyPath, policyText string) []Problem {
	l := &linter{modelPath: modelPath, policyPath: policyPath}
	m := l.readModel(modelText)
	l.checkMatchers(m)
	if policyText != "" {
		rows := l.parsePolicy(m, policyText)
		l.checkPolicy(m, rows)
	}
	sort.SliceStable(l.problems, func(i, j int) bool {
		a, b := l.problems[i], l.problems[j]
		if a.Path != b.Path {
			return a.Path == modelPath // model first
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Code < b.Code
	})
	return l.problems
}

type linter struct {
	modelPath, policyPath string
	problems              []Problem
}

func (l *linter) add(path string, line int, sev Severity, code, hint, format string, args ...any) {
	l.problems = append(l.problems, Problem{
		Path: path, Line: line, Severity: sev, Code: code,
		Msg: fmt.Sprintf(format, args...), Hint: hint,
	})
}

func (l *linter) modelErr(line int, code, hint, format string, args ...any) {
	l.add(l.modelPath, line, SeverityError, code, hint, format, args...)
}

func (l *linter) policyErr(line int, code, hint, format string, args ...any) {
	l.add(l.policyPath, line, SeverityError, code, hint, format, args...)
}

func (l *linter) policyWarn(line int, code, hint, format string, args ...any) {
	l.add(l.policyPath, line, SeverityWarning, code, hint, format, args...)
}

// closest returns the candidate nearest to s by edit distance, if it is near
// enough to be a likely typo.
func closest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" || bestD > max(2, len(s)/3) {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func didYouMean(s string, candidates []string) string {
	if c := closest(s, candidates); c != "" {
		return fmt.Sprintf("did you mean %q? ", c)
	}
	return ""
}

func quoteAll(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = "`" + s + "`"
	}
	return strings.Join(q, ", ")
}
