package lint

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// sections maps each Casbin model section to the letter its keys start with.
var sections = map[string]string{
	"request_definition": "r",
	"policy_definition":  "p",
	"role_definition":    "g",
	"policy_effect":      "e",
	"matchers":           "m",
}

// sectionOrder is the order sections are named in messages.
var sectionOrder = []string{"request_definition", "policy_definition", "role_definition", "policy_effect", "matchers"}

// required are the sections Casbin refuses to load without.
var required = []string{"request_definition", "policy_definition", "policy_effect", "matchers"}

// definition is one "key = value" line of the model.
type definition struct {
	section string
	key     string
	value   string
	line    int
	// fields are the field names (r, p) or "_" placeholders (g).
	fields []string
}

// model is what the linter knows of the model file.
type model struct {
	defs     map[string]*definition // by key: r, p, g, g2, e, m...
	sections map[string]int         // section name → line
	calls    []call                 // role-function calls in the matchers
	ok       bool                   // parsed well enough to check a policy against
}

func (m *model) keys(letter string) []string {
	var out []string
	for k := range m.defs {
		if strings.HasPrefix(k, letter) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

var (
	keyRE   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	fieldRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func (l *linter) parseModel(text string) *model {
	m := &model{defs: map[string]*definition{}, sections: map[string]int{}, ok: true}
	section := ""
	known := true // whether the current section is one we know
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := strings.TrimSpace(lines[i])
		// A trailing backslash continues the line, as Casbin allows.
		for strings.HasSuffix(line, "\\") && i+1 < len(lines) {
			i++
			line = strings.TrimSpace(strings.TrimSuffix(line, "\\")) + " " + strings.TrimSpace(lines[i])
		}
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				l.modelErr(lineNo, CodeSyntax, "write the section header as `[name]`", "section header %q is not closed", line)
				m.ok = false
				continue
			}
			section = strings.TrimSpace(line[1 : len(line)-1])
			if _, ok := sections[section]; !ok {
				known = false
				l.modelErr(lineNo, CodeUnknownSection,
					didYouMean(section, sectionOrder)+"Casbin knows "+quoteAll(sectionOrder),
					"unknown section [%s]", section)
				continue
			}
			known = true
			if prev, dup := m.sections[section]; dup {
				l.modelErr(lineNo, CodeBadDefinition, "merge the two sections into one",
					"section [%s] appears twice (first at line %d)", section, prev)
			} else {
				m.sections[section] = lineNo
			}
			continue
		}
		key, value, found := strings.Cut(line, "=")
		// "==" inside a matcher is not the key separator, but the first "="
		// of "m = a == b" is; a line without "=" is not a definition at all.
		if !found {
			l.modelErr(lineNo, CodeSyntax, "write definitions as `key = value`", "line is not a `key = value` definition: %q", line)
			m.ok = false
			continue
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if section == "" {
			l.modelErr(lineNo, CodeSyntax, "put it under one of "+quoteAll(sectionOrder),
				"definition %q is outside any section", key)
			m.ok = false
			continue
		}
		if !known {
			continue // already reported the section
		}
		letter := sections[section]
		if !keyRE.MatchString(key) || !strings.HasPrefix(key, letter) {
			l.modelErr(lineNo, CodeBadDefinition,
				fmt.Sprintf("keys in [%s] are named %s, %s2, ...", section, letter, letter),
				"key %q does not belong in [%s]", key, section)
			m.ok = false
			continue
		}
		if prev, dup := m.defs[key]; dup {
			l.modelErr(lineNo, CodeBadDefinition, "keep one of them", "%s is defined twice (first at line %d)", key, prev.line)
			continue
		}
		d := &definition{section: section, key: key, value: value, line: lineNo}
		m.defs[key] = d
		switch section {
		case "request_definition", "policy_definition":
			d.fields = splitFields(value)
			for _, f := range d.fields {
				if !fieldRE.MatchString(f) {
					l.modelErr(lineNo, CodeBadDefinition, "field names are identifiers, e.g. `sub, dom, obj, act`",
						"%s has a bad field name %q", key, f)
					m.ok = false
				}
			}
		case "role_definition":
			d.fields = splitFields(value)
			if len(d.fields) < 2 {
				l.modelErr(lineNo, CodeFieldCount, "a role definition is `_, _` or, with domains, `_, _, _`",
					"%s has %d field(s), needs at least 2", key, len(d.fields))
				m.ok = false
			}
			for _, f := range d.fields {
				if f != "_" {
					l.modelErr(lineNo, CodeBadDefinition, "write every field of a role definition as `_`",
						"%s has field %q where `_` is expected", key, f)
					m.ok = false
					break
				}
			}
		}
	}
	for _, s := range required {
		if _, ok := m.sections[s]; !ok {
			l.modelErr(0, CodeMissingSection, fmt.Sprintf("add a [%s] section; the default model (policy/model.conf) shows one", s),
				"required section [%s] is missing", s)
			m.ok = false
		}
	}
	if _, ok := m.defs["p"]; !ok {
		m.ok = false
	}
	return m
}

// splitFields splits "a, b, c" into trimmed fields; "" gives none.
func splitFields(value string) []string {
	if strings.TrimSpace(value) == "" {
		return nil
	}
	parts := strings.Split(value, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}
