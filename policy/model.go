package policy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/keyportal/keyportal/policy/internal/modeltext"
)

// modelInfo is a model file as modeltext read it, checked by parseModel.
type modelInfo struct {
	Text string
	Path string
	*modeltext.File
}

// arity is the number of fields a policy row of ptype takes (ptype
// excluded), or 0 when the model does not define ptype.
func (m *modelInfo) arity(ptype string) int {
	d, ok := m.ByKey[ptype]
	if !ok || ptype[0] != 'p' && ptype[0] != 'g' {
		return 0
	}
	return len(d.Fields)
}

// tokens returns the names a definition declares ("sub", "dom", ...).
func (m *modelInfo) tokens(key string) []string {
	return m.ByKey[key].Fields
}

// ptypes lists the policy types the model defines, sorted p first.
func (m *modelInfo) ptypes() []string {
	var out []string
	for _, letter := range []byte{'p', 'g'} {
		for i := 1; ; i++ {
			k := string(letter)
			if i > 1 {
				k += fmt.Sprint(i)
			}
			if _, ok := m.ByKey[k]; !ok {
				break
			}
			out = append(out, k)
		}
	}
	return out
}

// modelCheck is one step of parseModel: the line and text of the first
// mistake it finds, or "" for none.
type modelCheck func(f *modeltext.File) (line int, msg string)

// modelChecks are parseModel's steps, in order: what casbin would refuse or
// silently skip, then what this package relies on.
var modelChecks = []modelCheck{
	checkLines,
	checkNumbering,
	checkSections,
	checkDefinitions,
	checkTenantPatterns,
	checkMatcherNames,
}

// parseModel reads a model file the way casbin's config reader reads it
// (modeltext), and checks that casbin would load it as written and that it
// has what this package relies on: a request of four fields, a g with
// domains, a g2 for ownership and, when present, a g3 for tenant status.
// The first mistake comes back as a *FileError.
func parseModel(path, text string) (*modelInfo, error) {
	f := modeltext.Read(text)
	for _, check := range modelChecks {
		if line, msg := check(f); msg != "" {
			return nil, &FileError{Path: path, Line: line, Msg: msg}
		}
	}
	return &modelInfo{Text: text, Path: path, File: f}, nil
}

// checkLines reports the first line the reader found wrong.
func checkLines(f *modeltext.File) (int, string) {
	if len(f.Problems) == 0 {
		return 0, ""
	}
	p := f.Problems[0]
	switch p.Kind {
	case modeltext.UnclosedHeader:
		return p.Line, fmt.Sprintf("section header %q lacks its closing ]", p.Text)
	case modeltext.UnknownSection:
		return p.Line, fmt.Sprintf("unknown section [%s] (want request_definition, policy_definition, role_definition, policy_effect or matchers)", p.Text)
	case modeltext.RepeatedSection:
		return p.Line, fmt.Sprintf("section [%s] repeated (first at line %d)", p.Text, p.First)
	case modeltext.NotDefinition:
		return p.Line, fmt.Sprintf("expected key = value, got %q", p.Text)
	case modeltext.OutsideSection:
		return p.Line, fmt.Sprintf("%q comes before any [section]", p.Text)
	case modeltext.UnknownKey:
		letter, _ := modeltext.Letter(p.Section)
		return p.Line, fmt.Sprintf("unknown key %q in [%s] (want %s, %s2, ...)", p.Text, p.Section, letter, letter)
	case modeltext.EmptyValue:
		return p.Line, fmt.Sprintf("%s has no value", p.Text)
	default: // modeltext.RepeatedKey
		return p.Line, fmt.Sprintf("%s defined twice (first at line %d)", p.Text, p.First)
	}
}

// checkNumbering finds a key casbin would ignore: it reads p, p2, p3, ...
// and stops at the first gap.
func checkNumbering(f *modeltext.File) (int, string) {
	for _, d := range f.Defs {
		n, err := strconv.Atoi(d.Key[1:])
		if err != nil {
			continue
		}
		prev := d.Key[:1]
		if n > 2 {
			prev += strconv.Itoa(n - 1)
		}
		if _, ok := f.ByKey[prev]; !ok {
			return d.Line, fmt.Sprintf("%s without %s: casbin would ignore it", d.Key, prev)
		}
	}
	return 0, ""
}

// checkSections reports the first required section the file lacks, at its
// end.
func checkSections(f *modeltext.File) (int, string) {
	if missing := f.Missing(); len(missing) > 0 {
		return f.Lines, fmt.Sprintf("missing section [%s]", missing[0])
	}
	return 0, ""
}

// wantedDefs are the definitions this package relies on, and the number of
// fields of those whose shape it relies on (0: any).
var wantedDefs = []struct {
	key, section string
	n            int
	optional     bool
	why          string
}{
	{"r", "request_definition", 4, false, "subject, tenant, object, action"},
	{"p", "policy_definition", 0, false, ""},
	{"e", "policy_effect", 0, false, ""},
	{"m", "matchers", 0, false, ""},
	{"g", "role_definition", 3, false, "user, role, tenant"},
	{"g2", "role_definition", 2, false, "object, owning tenant"},
	{"g3", "role_definition", 2, true, "tenant, status"},
}

// checkDefinitions reports the first definition this package relies on that
// is missing or has the wrong number of fields.
func checkDefinitions(f *modeltext.File) (int, string) {
	for _, w := range wantedDefs {
		d, ok := f.ByKey[w.key]
		switch {
		case !ok && w.optional:
		case !ok:
			line := f.Sections[w.section]
			if line == 0 {
				line = f.Lines
			}
			return line, fmt.Sprintf("[%s] lacks %s", w.section, w.key)
		case w.n > 0 && len(d.Fields) != w.n:
			return d.Line, fmt.Sprintf("%s must have %d fields (%s), has %d", w.key, w.n, w.why, len(d.Fields))
		}
	}
	return 0, ""
}

// checkTenantPatterns refuses tenant patterns, which would make every
// decision scan every tenant.
func checkTenantPatterns(f *modeltext.File) (int, string) {
	m := f.ByKey["m"]
	if strings.Contains(strings.ReplaceAll(m.Value, " ", ""), "keyMatch(r.dom,p.dom)") {
		return m.Line, "tenant patterns (keyMatch on r.dom) are not supported: every decision would scan every tenant; use exact tenants and \"*\" rows"
	}
	return 0, ""
}

// checkMatcherNames finds a request or policy field the matcher uses that
// the model does not declare: casbin only notices one when a request happens
// to evaluate it.
func checkMatcherNames(f *modeltext.File) (int, string) {
	m := f.ByKey["m"]
	declared := map[string]bool{}
	for _, key := range []string{"r", "p"} {
		for _, t := range f.ByKey[key].Fields {
			declared[key+"."+t] = true
		}
	}
	names, _ := modeltext.Names(m.Value) // an unclosed string fails casbin's compile
	for _, n := range names {
		head, field, _ := strings.Cut(n.Text, ".")
		field, _, _ = strings.Cut(field, ".") // r.sub.Name: an attribute of r.sub
		ref := head + "." + field
		isField := field != "" && (field[0] < '0' || field[0] > '9')
		if (head == "r" || head == "p") && isField && !declared[ref] {
			return m.Line, fmt.Sprintf("matcher uses %s, which the model does not declare", ref)
		}
	}
	return 0, ""
}
