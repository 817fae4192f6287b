// Package modeltext reads a Casbin model file as text, line by line the way
// casbin's config reader does, and keeps the line of every section header
// and every definition. It is the one reader of model files: package policy
// checks a model with it before casbin loads it, and policy/lint reports on
// what it read. Casbin's own reader keeps no line numbers.
//
// Read judges only what casbin itself reads: the sections it knows, the keys
// each section holds, repeats. What a model must say to suit keyportal, and
// how a mistake is worded, is left to the callers.
package modeltext

import (
	"regexp"
	"strings"
)

// Section is a model section casbin reads and the letter its keys start with.
type Section struct {
	Name   string
	Letter string
}

// Sections are the sections casbin reads, in the order models write them.
var Sections = []Section{
	{"request_definition", "r"},
	{"policy_definition", "p"},
	{"role_definition", "g"},
	{"policy_effect", "e"},
	{"matchers", "m"},
}

// Required are the sections casbin refuses to load a model without.
var Required = []string{"request_definition", "policy_definition", "policy_effect", "matchers"}

// Letter returns the letter the keys of section start with; ok is false for
// a section casbin does not read.
func Letter(section string) (letter string, ok bool) {
	for _, s := range Sections {
		if s.Name == section {
			return s.Letter, true
		}
	}
	return "", false
}

// keyRE is a key casbin reads: a section letter, then nothing or 2, 3, ...
// (casbin reads p, p2, p3 and never "p1" or "pa").
var keyRE = regexp.MustCompile(`^[rpgem]([2-9]|[1-9][0-9]+)?$`)

// Def is one "key = value" definition.
type Def struct {
	// Section is the section it is in.
	Section string
	// Key is "r", "p", "g2", "e", "m", ...
	Key string
	// Value is the text after the first "=", trimmed, with continuation
	// lines joined; it may be empty.
	Value string
	// Line is the 1-based line the definition starts on.
	Line int
	// Fields is Value split at commas, each trimmed; none when Value is empty.
	Fields []string
}

// Kind is what is wrong with a line.
type Kind int

// The kinds of Problem, one per line at most.
const (
	// UnclosedHeader is a line starting with "[" but not ending with "]".
	// Text is the line.
	UnclosedHeader Kind = iota + 1
	// UnknownSection is a header casbin does not read; the definitions under
	// it are skipped without further problems. Text is the section's name.
	UnknownSection
	// RepeatedSection is a second header of a section; First is the line of
	// the first. Text is the section's name. The definitions under it belong
	// to the section.
	RepeatedSection
	// NotDefinition is a line without "=". Text is the line, continuation
	// lines joined.
	NotDefinition
	// OutsideSection is a definition before any header. Text is its key.
	OutsideSection
	// UnknownKey is a key casbin does not read in its section (Section).
	// Text is the key.
	UnknownKey
	// EmptyValue is a definition without a value, which casbin takes for no
	// definition. Text is the key. The definition is kept.
	EmptyValue
	// RepeatedKey is a second definition of a key; First is the line of the
	// first, which is the one kept. Text is the key.
	RepeatedKey
)

// Problem is a line casbin would refuse or read otherwise than it looks.
type Problem struct {
	Kind Kind
	// Line is the 1-based line of the problem.
	Line int
	// Text is what the problem is about (see each Kind).
	Text string
	// Section is the section of an UnknownKey.
	Section string
	// First is the line of the first header or definition of a repeat.
	First int
}

// File is what Read found in a model file.
type File struct {
	// Defs are the definitions casbin reads, in file order (first
	// definition of each key only).
	Defs []*Def
	// ByKey holds the same definitions by key.
	ByKey map[string]*Def
	// Sections maps each known section present to the line of its first
	// header.
	Sections map[string]int
	// Problems are the lines Read found wrong, in file order.
	Problems []Problem
	// Lines is the number of lines; a final newline does not start one.
	Lines int
}

// Read reads a model file. It never fails: whatever is wrong is in
// File.Problems, and the rest of the file is still read.
func Read(text string) *File {
	r := &reader{
		f:     &File{ByKey: map[string]*Def{}, Sections: map[string]int{}},
		lines: strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n"),
		known: true,
	}
	r.f.Lines = len(r.lines)
	if r.f.Lines > 1 && r.lines[r.f.Lines-1] == "" {
		r.f.Lines-- // a final newline does not start a line
	}
	for r.i = 0; r.i < len(r.lines); r.i++ {
		r.line()
	}
	return r.f
}

// Missing returns the required sections the file lacks, in Required's order.
func (f *File) Missing() []string {
	var out []string
	for _, s := range Required {
		if _, ok := f.Sections[s]; !ok {
			out = append(out, s)
		}
	}
	return out
}

// reader is the state of one Read.
type reader struct {
	f       *File
	lines   []string
	i       int    // index of the line being read
	section string // the section of the last header, "" before the first
	known   bool   // whether casbin reads that section
}

func (r *reader) problem(p Problem) { r.f.Problems = append(r.f.Problems, p) }

// line reads line r.i (and the lines it continues onto).
func (r *reader) line() {
	n := r.i + 1
	line := strings.TrimSpace(r.lines[r.i])
	switch {
	case line == "" || line[0] == '#' || line[0] == ';':
	case line[0] == '[':
		r.header(n, line)
	default:
		r.definition(n, r.continued(line))
	}
}

// header reads a "[section]" line.
func (r *reader) header(n int, line string) {
	if !strings.HasSuffix(line, "]") {
		r.problem(Problem{Kind: UnclosedHeader, Line: n, Text: line})
		return
	}
	r.section = strings.TrimSpace(line[1 : len(line)-1])
	_, r.known = Letter(r.section)
	if !r.known {
		r.problem(Problem{Kind: UnknownSection, Line: n, Text: r.section})
		return
	}
	if first, dup := r.f.Sections[r.section]; dup {
		r.problem(Problem{Kind: RepeatedSection, Line: n, Text: r.section, First: first})
		return
	}
	r.f.Sections[r.section] = n
}

// continued joins the lines a trailing backslash continues line onto.
func (r *reader) continued(line string) string {
	for strings.HasSuffix(line, `\`) && r.i+1 < len(r.lines) {
		r.i++
		line = strings.TrimSpace(strings.TrimSuffix(line, `\`)) + " " + strings.TrimSpace(r.lines[r.i])
	}
	return line
}

// definition reads a "key = value" line starting on line n.
func (r *reader) definition(n int, line string) {
	key, value, ok := strings.Cut(line, "=")
	if !ok {
		r.problem(Problem{Kind: NotDefinition, Line: n, Text: line})
		return
	}
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	switch letter, _ := Letter(r.section); {
	case r.section == "":
		r.problem(Problem{Kind: OutsideSection, Line: n, Text: key})
		return
	case !r.known:
		return // the header is the problem, reported already
	case !keyRE.MatchString(key) || key[:1] != letter:
		r.problem(Problem{Kind: UnknownKey, Line: n, Text: key, Section: r.section})
		return
	}
	if value == "" {
		r.problem(Problem{Kind: EmptyValue, Line: n, Text: key})
	}
	if first, dup := r.f.ByKey[key]; dup {
		r.problem(Problem{Kind: RepeatedKey, Line: n, Text: key, First: first.Line})
		return
	}
	d := &Def{Section: r.section, Key: key, Value: value, Line: n, Fields: fields(value)}
	r.f.Defs = append(r.f.Defs, d)
	r.f.ByKey[key] = d
}

// fields splits "a, b, c" into trimmed fields; "" gives none.
func fields(value string) []string {
	if strings.TrimSpace(value) == "" {
		return nil
	}
	parts := strings.Split(value, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}
