package lint

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/keyportal/keyportal/policy/internal/modeltext"
)

// definition is one "key = value" line of the model; its Fields are the
// field names (r, p) or "_" placeholders (g).
type definition = modeltext.Def

// model is what the linter knows of the model file: what policy's model
// reader read, and how the matchers call the role functions.
type model struct {
	*modeltext.File
	calls []call // role-function calls in the matchers
}

// keys returns the defined keys starting with letter, sorted.
func (m *model) keys(letter string) []string {
	var out []string
	for _, d := range m.Defs {
		if strings.HasPrefix(d.Key, letter) {
			out = append(out, d.Key)
		}
	}
	sort.Strings(out)
	return out
}

// sectionNames are the sections Casbin reads, in the order messages name them.
var sectionNames = func() []string {
	var out []string
	for _, s := range modeltext.Sections {
		out = append(out, s.Name)
	}
	return out
}()

var fieldRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// readModel reads the model through policy's model reader and reports what
// is wrong with it: the lines the reader refused, the field lists, and the
// required sections it lacks.
func (l *linter) readModel(text string) *model {
	m := &model{File: modeltext.Read(text)}
	for _, p := range m.Problems {
		l.reportLine(p)
	}
	for _, d := range m.Defs {
		l.checkFields(d)
	}
	for _, s := range m.Missing() {
		l.modelErr(0, CodeMissingSection, fmt.Sprintf("add a [%s] section; the default model (policy/model.conf) shows one", s),
			"required section [%s] is missing", s)
	}
	return m
}

// reportLine reports a line the model reader refused.
func (l *linter) reportLine(p modeltext.Problem) {
	switch p.Kind {
	case modeltext.UnclosedHeader:
		l.modelErr(p.Line, CodeSyntax, "write the section header as `[name]`", "section header %q is not closed", p.Text)
	case modeltext.UnknownSection:
		l.modelErr(p.Line, CodeUnknownSection, didYouMean(p.Text, sectionNames)+"Casbin knows "+quoteAll(sectionNames),
			"unknown section [%s]", p.Text)
	case modeltext.RepeatedSection:
		l.modelErr(p.Line, CodeBadDefinition, "merge the two sections into one",
			"section [%s] appears twice (first at line %d)", p.Text, p.First)
	case modeltext.NotDefinition:
		l.modelErr(p.Line, CodeSyntax, "write definitions as `key = value`", "line is not a `key = value` definition: %q", p.Text)
	case modeltext.OutsideSection:
		l.modelErr(p.Line, CodeSyntax, "put it under one of "+quoteAll(sectionNames), "definition %q is outside any section", p.Text)
	case modeltext.UnknownKey:
		letter, _ := modeltext.Letter(p.Section)
		l.modelErr(p.Line, CodeBadDefinition, fmt.Sprintf("keys in [%s] are named %s, %s2, ...", p.Section, letter, letter),
			"key %q does not belong in [%s]", p.Text, p.Section)
	case modeltext.RepeatedKey:
		l.modelErr(p.Line, CodeBadDefinition, "keep one of them", "%s is defined twice (first at line %d)", p.Text, p.First)
	case modeltext.EmptyValue:
		// The checks of the definition's fields and uses say what is wrong.
	}
}

// checkFields checks the field list of a request, policy or role definition.
func (l *linter) checkFields(d *definition) {
	switch d.Section {
	case "request_definition", "policy_definition":
		for _, f := range d.Fields {
			if !fieldRE.MatchString(f) {
				l.modelErr(d.Line, CodeBadDefinition, "field names are identifiers, e.g. `sub, dom, obj, act`",
					"%s has a bad field name %q", d.Key, f)
			}
		}
	case "role_definition":
		if len(d.Fields) < 2 {
			l.modelErr(d.Line, CodeFieldCount, "a role definition is `_, _` or, with domains, `_, _, _`",
				"%s has %d field(s), needs at least 2", d.Key, len(d.Fields))
		}
		for _, f := range d.Fields {
			if f != "_" {
				l.modelErr(d.Line, CodeBadDefinition, "write every field of a role definition as `_`",
					"%s has field %q where `_` is expected", d.Key, f)
				break
			}
		}
	}
}
