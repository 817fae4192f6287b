package policy

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"github.com/keyportal/keyportal/policy/internal/policytext"
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
	err := newCSVLines(strings.NewReader(text)).each(path, func(fields []string, n int) error {
		fail := func(format string, args ...any) error { return fileErrorf(path, n, format, args...) }
		ptype := fields[0]
		want := 0
		if ptype != "" {
			want = m.arity(ptype)
		}
		if want == 0 {
			return fail("unknown policy type %q (the model defines %s)", ptype, strings.Join(m.ptypes(), ", "))
		}
		if got := len(fields) - 1; got != want {
			return fail("%s row has %d fields, the model's %s = %s wants %d", ptype, got, ptype, m.ByKey[ptype].Value, want)
		}
		for i, f := range fields[1:] {
			if f == "" {
				return fail("%s row: field %d is empty", ptype, i+1)
			}
		}
		if ptype == "g3" {
			tenant, status := fields[1], TenantStatus(fields[2])
			switch status {
			case TenantActive, TenantSuspended, TenantDeleted:
			default:
				return fail("tenant %q: status %q is not active, suspended or deleted", tenant, status)
			}
			if prev, dup := statusLine[tenant]; dup {
				return fail("tenant %q already has a status at line %d", tenant, prev)
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
				return fail("%s is already owned by tenant %q at line %d; a resource belongs to one tenant (two owners would let either reach it)", object, prev.tenant, prev.line)
			} else if !dup {
				owner[object] = ownerRow{tenant: tenant, line: n}
			}
		}
		info.Rows = append(info.Rows, row{PType: ptype, Fields: fields[1:], Line: n})
		info.Counts[ptype]++
		return nil
	})
	if err != nil {
		return nil, err
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
// input, or on a read error (c.sc.Err).
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

// each calls fn with the fields of every row and the line it is on, in
// order, and stops at the first error fn returns. A line that is not a CSV
// row, a row with a comment after it, or input that ends early (a line over
// 1 MiB, a failing reader), ends it with a *FileError on that line of path.
func (c *csvLines) each(path string, fn func(fields []string, line int) error) error {
	for {
		fields, ok, err := c.next()
		if !ok {
			break
		}
		if err != nil {
			return fileErrorf(path, c.line, "not a CSV row: %s", csvMessage(err))
		}
		if comment := policytext.RowComment(fields); comment != "" {
			return fileErrorf(path, c.line, "comment after the row (%q): only a line that starts with # is a comment, so this one would be part of the field; put it on a line of its own", comment)
		}
		if err := fn(fields, c.line); err != nil {
			return err
		}
	}
	if err := c.sc.Err(); err != nil {
		return &FileError{Path: path, Line: c.line + 1, Msg: err.Error()}
	}
	return nil
}

// csvMessage is what is wrong with a line that is not a CSV row, without
// encoding/csv's own line and column, which count within the one line read.
func csvMessage(err error) string {
	if pe, ok := err.(*csv.ParseError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// fileErrorf returns a *FileError at line of path.
func fileErrorf(path string, line int, format string, args ...any) error {
	return &FileError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
}
