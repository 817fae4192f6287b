package policy

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// FileError is a mistake in a model or policy file, with where it is. Casbin's
// own errors carry no line numbers, so files are checked here first.
type FileError struct {
	// Path is the file, or "(default model)" / "(inline policy)" for text
	// that did not come from a file.
	Path string
	// Line is the 1-based line of the mistake; 0 when the file could not be
	// read at all.
	Line int
	// Msg says what is wrong.
	Msg string
}

// Error returns "path:line: msg" ("path: msg" when Line is 0).
func (e *FileError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
}

// Names used in FileError.Path for text that did not come from a file.
const (
	defaultModelName = "(default model)"
	inlinePolicyName = "(inline policy)"
)

// modelSections maps the model file's section names to the key letter each
// section's entries start with.
var modelSections = map[string]string{
	"request_definition": "r",
	"policy_definition":  "p",
	"role_definition":    "g",
	"policy_effect":      "e",
	"matchers":           "m",
}

// requiredSections must appear in every model, in this order of mention.
var requiredSections = []string{"request_definition", "policy_definition", "policy_effect", "matchers"}

// modelKey is a key casbin reads: a section letter, then nothing or 2, 3, ...
var modelKey = regexp.MustCompile(`^[rpgem]([2-9]|[1-9][0-9]+)?$`)

// modelEntry is one "key = value" line of a model file.
type modelEntry struct {
	Value string
	Line  int
}

// modelInfo is what the pre-scan learned from a model file.
type modelInfo struct {
	Text    string
	Path    string
	Entries map[string]modelEntry // key ("r", "p", "g2", "m", ...) → entry
}

// arity is the number of fields a policy row of ptype takes (ptype
// excluded), or 0 when the model does not define ptype.
func (m *modelInfo) arity(ptype string) int {
	ent, ok := m.Entries[ptype]
	if !ok || ptype[0] != 'p' && ptype[0] != 'g' {
		return 0
	}
	return len(splitTokens(ent.Value))
}

// tokens returns the names a definition declares ("sub", "dom", ...).
func (m *modelInfo) tokens(key string) []string {
	return splitTokens(m.Entries[key].Value)
}

func splitTokens(v string) []string {
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// parseModel checks a model file line by line, the way casbin's config
// reader reads it, and also checks what this package relies on: a request of
// four fields, a g with domains, a g2 for ownership and, when present, a g3
// for tenant status.
func parseModel(path, text string) (*modelInfo, error) {
	info := &modelInfo{Text: text, Path: path, Entries: map[string]modelEntry{}}
	fail := func(line int, format string, args ...any) error {
		return &FileError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	seen := map[string]int{}
	section := ""
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	last := len(lines)
	if last > 1 && lines[last-1] == "" {
		last-- // a final newline does not start a line
	}
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := strings.TrimSpace(lines[i])
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return nil, fail(n, "section header %q lacks its closing ]", line)
			}
			section = strings.TrimSpace(line[1 : len(line)-1])
			if _, ok := modelSections[section]; !ok {
				return nil, fail(n, "unknown section [%s] (want request_definition, policy_definition, role_definition, policy_effect or matchers)", section)
			}
			if prev, dup := seen[section]; dup {
				return nil, fail(n, "section [%s] repeated (first at line %d)", section, prev)
			}
			seen[section] = n
			continue
		}
		// Continuation lines, as casbin's config reader joins them.
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = strings.TrimSpace(strings.TrimSuffix(line, `\`)) + " " + strings.TrimSpace(lines[i])
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fail(n, "expected key = value, got %q", line)
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if section == "" {
			return nil, fail(n, "%q comes before any [section]", key)
		}
		letter := modelSections[section]
		if !modelKey.MatchString(key) || key[:1] != letter {
			return nil, fail(n, "unknown key %q in [%s] (want %s, %s2, ...)", key, section, letter, letter)
		}
		if value == "" {
			return nil, fail(n, "%s has no value", key)
		}
		if prev, dup := info.Entries[key]; dup {
			return nil, fail(n, "%s defined twice (first at line %d)", key, prev.Line)
		}
		info.Entries[key] = modelEntry{Value: value, Line: n}
	}
	// Casbin reads p, p2, p3, ... and stops at the first gap.
	keys := make([]string, 0, len(info.Entries))
	for key := range info.Entries {
		keys = append(keys, key)
	}
	sort.Slice(keys, func(i, j int) bool { return info.Entries[keys[i]].Line < info.Entries[keys[j]].Line })
	for _, key := range keys {
		ent := info.Entries[key]
		if n, err := strconv.Atoi(key[1:]); err == nil && n > 2 {
			prev := fmt.Sprintf("%s%d", key[:1], n-1)
			if _, ok := info.Entries[prev]; !ok {
				return nil, fail(ent.Line, "%s without %s: casbin would ignore it", key, prev)
			}
		} else if n == 2 {
			if _, ok := info.Entries[key[:1]]; !ok {
				return nil, fail(ent.Line, "%s without %s: casbin would ignore it", key, key[:1])
			}
		}
	}
	for _, s := range requiredSections {
		if _, ok := seen[s]; !ok {
			return nil, fail(last, "missing section [%s]", s)
		}
	}
	want := []struct {
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
	for _, w := range want {
		ent, ok := info.Entries[w.key]
		if !ok {
			if w.optional {
				continue
			}
			line := seen[w.section]
			if line == 0 {
				line = last
			}
			return nil, fail(line, "[%s] lacks %s", w.section, w.key)
		}
		if w.n > 0 && len(splitTokens(ent.Value)) != w.n {
			return nil, fail(ent.Line, "%s must have %d fields (%s), has %d", w.key, w.n, w.why, len(splitTokens(ent.Value)))
		}
	}
	if strings.Contains(strings.ReplaceAll(info.Entries["m"].Value, " ", ""), "keyMatch(r.dom,p.dom)") {
		return nil, fail(info.Entries["m"].Line, "tenant patterns (keyMatch on r.dom) are not supported: every decision would scan every tenant; use exact tenants and \"*\" rows")
	}
	// Names the matcher uses must be declared: casbin only notices an
	// undeclared one when a request happens to evaluate it.
	m := info.Entries["m"]
	declared := map[string]bool{}
	for _, t := range info.tokens("r") {
		declared["r."+t] = true
	}
	for _, t := range info.tokens("p") {
		declared["p."+t] = true
	}
	for _, ref := range matcherRef.FindAllString(stripStrings(m.Value), -1) {
		if !declared[ref] {
			return nil, fail(m.Line, "matcher uses %s, which the model does not declare", ref)
		}
	}
	return info, nil
}

var matcherRef = regexp.MustCompile(`\b[rp]\.[A-Za-z_][A-Za-z0-9_]*`)

// stripStrings blanks out quoted string literals so their text is not taken
// for names.
func stripStrings(s string) string {
	var b strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'' || c == '`':
			quote = c
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// row is one policy line: its ptype, its fields and where it was.
type row struct {
	PType  string
	Fields []string
	Line   int
}

// text renders the row as it is written in a policy file.
func (r row) text() string {
	return r.PType + ", " + strings.Join(r.Fields, ", ")
}

// policyInfo is what the pre-scan learned from a policy file.
type policyInfo struct {
	Path     string
	Rows     []row
	Statuses map[string]TenantStatus // from g3 rows
	Counts   map[string]int          // rows per ptype
}

// parsePolicy checks a policy CSV against the model: every row's ptype is
// defined, has as many fields as its definition, none of them empty; g3 rows
// give a valid status, once per tenant.
func parsePolicy(path, text string, m *modelInfo) (*policyInfo, error) {
	info := &policyInfo{Path: path, Statuses: map[string]TenantStatus{}, Counts: map[string]int{}}
	statusLine := map[string]int{}
	type ownerRow struct {
		tenant string
		line   int
	}
	owner := map[string]ownerRow{}
	rows := newCSVLines(strings.NewReader(text))
	for {
		fields, ok, err := rows.next()
		if !ok {
			break
		}
		n := rows.line
		fail := func(format string, args ...any) error {
			return &FileError{Path: path, Line: n, Msg: fmt.Sprintf(format, args...)}
		}
		if err != nil {
			msg := err.Error()
			if pe, ok := err.(*csv.ParseError); ok {
				msg = pe.Err.Error()
			}
			return nil, fail("not a CSV row: %s", msg)
		}
		ptype := fields[0]
		want := 0
		if ptype != "" {
			want = m.arity(ptype)
		}
		if want == 0 {
			return nil, fail("unknown policy type %q (the model defines %s)", ptype, strings.Join(m.ptypes(), ", "))
		}
		if got := len(fields) - 1; got != want {
			return nil, fail("%s row has %d fields, the model's %s = %s wants %d", ptype, got, ptype, m.Entries[ptype].Value, want)
		}
		for i, f := range fields[1:] {
			if f == "" {
				return nil, fail("%s row: field %d is empty", ptype, i+1)
			}
		}
		if ptype == "g3" {
			tenant, status := fields[1], TenantStatus(fields[2])
			switch status {
			case TenantActive, TenantSuspended, TenantDeleted:
			default:
				return nil, fail("tenant %q: status %q is not active, suspended or deleted", tenant, status)
			}
			if prev, dup := statusLine[tenant]; dup {
				return nil, fail("tenant %q already has a status at line %d", tenant, prev)
			}
			statusLine[tenant] = n
			info.Statuses[tenant] = status
		}
		if ptype == "g2" && len(fields) == 3 {
			// Ownership is what keeps tenants apart: a resource that two
			// tenants own is reachable from both, so such a policy is
			// refused rather than loaded.
			object, tenant := fields[1], fields[2]
			if prev, dup := owner[object]; dup && prev.tenant != tenant {
				return nil, fail("%s is already owned by tenant %q at line %d; a resource belongs to one tenant (two owners would let either reach it)", object, prev.tenant, prev.line)
			} else if !dup {
				owner[object] = ownerRow{tenant: tenant, line: n}
			}
		}
		info.Rows = append(info.Rows, row{PType: ptype, Fields: fields[1:], Line: n})
		info.Counts[ptype]++
	}
	if err := rows.readErr(); err != nil {
		return nil, &FileError{Path: path, Line: rows.line + 1, Msg: err.Error()}
	}
	return info, nil
}

// csvLines reads text in which every line that is not blank and not a #
// comment is one CSV row: policy files and case files.
type csvLines struct {
	sc   *bufio.Scanner
	line int // 1-based number of the line last read
}

func newCSVLines(r io.Reader) *csvLines {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	return &csvLines{sc: sc}
}

// next reads up to the next row and returns its fields, each trimmed, or
// the CSV error of a line that is not a row. ok is false at the end of the
// input, or on a read error (see readErr).
func (c *csvLines) next() (fields []string, ok bool, err error) {
	for c.sc.Scan() {
		c.line++
		line := strings.TrimSpace(c.sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		cr := csv.NewReader(strings.NewReader(line))
		cr.TrimLeadingSpace = true
		fields, err := cr.Read()
		if err != nil {
			return nil, true, err
		}
		for i := range fields {
			fields[i] = strings.TrimSpace(fields[i])
		}
		return fields, true, nil
	}
	return nil, false, nil
}

// readErr returns the error that ended the input early, if any.
func (c *csvLines) readErr() error { return c.sc.Err() }

// ptypes lists the policy types the model defines, sorted p first.
func (m *modelInfo) ptypes() []string {
	var out []string
	for _, letter := range []byte{'p', 'g'} {
		for i := 1; ; i++ {
			k := string(letter)
			if i > 1 {
				k += fmt.Sprint(i)
			}
			if _, ok := m.Entries[k]; !ok {
				break
			}
			out = append(out, k)
		}
	}
	return out
}
