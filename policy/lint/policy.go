package lint

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"

	"github.com/keyportal/keyportal/policy/internal/policytext"
)

// row is one policy line: its type (p, g, g2...) and fields.
type row struct {
	ptype  string
	fields []string
	line   int
}

func (r row) String() string { return r.ptype + ", " + strings.Join(r.fields, ", ") }

// statuses are the tenant states the engine knows.
var statuses = []string{"active", "suspended", "deleted"}

// parsePolicy reads the policy CSV the way Casbin's file adapter does, and
// checks each row against the model. It returns the rows fit for the
// semantic checks.
func (l *linter) parsePolicy(m *model, text string) []row {
	var rows []row
	seen := map[string]int{}
	var types []string
	types = append(types, m.keys("p")...)
	types = append(types, m.keys("g")...)
	for i, raw := range strings.Split(text, "\n") {
		lineNo := i + 1
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' {
			continue
		}
		fields, err := splitRow(line)
		if err != nil {
			l.policyErr(lineNo, CodeSyntax, "rows are comma-separated values; quote a field that holds a comma or a quote",
				"cannot parse row: %v", unwrapCSV(err))
			continue
		}
		if comment := policytext.RowComment(fields); comment != "" {
			l.policyErr(lineNo, CodeSyntax, "put the comment on a line of its own: only a line that starts with # is a comment",
				"comment after the row (%q) would be read as part of the field", comment)
			continue
		}
		ptype := fields[0]
		def, ok := m.ByKey[ptype]
		if !ok || !(def.Section == "policy_definition" || def.Section == "role_definition") {
			if len(types) == 0 {
				continue // the model is too broken to say; already reported
			}
			l.policyErr(lineNo, CodeUnknownPtype,
				didYouMean(ptype, types)+"the model defines row types "+strings.Join(types, ", "),
				"unknown row type %q", ptype)
			continue
		}
		rw := row{ptype: ptype, fields: fields[1:], line: lineNo}
		if len(rw.fields) != len(def.Fields) {
			l.policyErr(lineNo, CodeFieldCount,
				fmt.Sprintf("%s rows have %d fields after the type: `%s, %s` (model line %d)", ptype, len(def.Fields), ptype, def.Value, def.Line),
				"%s row has %d field(s), the model's %s has %d", ptype, len(rw.fields), ptype, len(def.Fields))
			continue
		}
		empty := false
		for j, f := range rw.fields {
			if f == "" {
				l.policyErr(lineNo, CodeEmptyField, "fill it in, or use `*` if any value is meant",
					"%s row has an empty field %d (%s)", ptype, j+1, def.Fields[j])
				empty = true
			}
		}
		key := rw.String()
		if prev, dup := seen[key]; dup {
			l.policyWarn(lineNo, CodeDuplicateRow, "delete this line; Casbin keeps one copy",
				"row repeats line %d", prev)
			continue
		}
		seen[key] = lineNo
		if !empty {
			rows = append(rows, rw)
		}
	}
	return rows
}

// splitRow splits one policy line into trimmed fields as Casbin's file
// adapter does (CSV, leading spaces trimmed); lines without quotes, nearly
// all of them, skip the CSV reader and its buffer.
func splitRow(line string) ([]string, error) {
	if !strings.ContainsRune(line, '"') {
		fields := strings.Split(line, ",")
		for j := range fields {
			fields[j] = strings.TrimSpace(fields[j])
		}
		return fields, nil
	}
	r := csv.NewReader(strings.NewReader(line))
	r.TrimLeadingSpace = true
	fields, err := r.Read()
	if err != nil {
		return nil, err
	}
	for j := range fields {
		fields[j] = strings.TrimSpace(fields[j])
	}
	return fields, nil
}

func unwrapCSV(err error) string {
	if pe, ok := err.(*csv.ParseError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// checkPolicy runs the checks that look at rows together.
func (l *linter) checkPolicy(m *model, rows []row) {
	kinds := m.kinds()
	byType := map[string][]row{}
	for _, r := range rows {
		byType[r.ptype] = append(byType[r.ptype], r)
	}
	var membership, ownership, status []row
	for _, k := range m.keys("g") {
		switch kinds[k] {
		case kindMembership:
			membership = append(membership, byType[k]...)
		case kindOwnership:
			ownership = append(ownership, byType[k]...)
		case kindStatus:
			status = append(status, byType[k]...)
		}
	}
	var perms []row
	for _, k := range m.keys("p") {
		if len(m.ByKey[k].Fields) > 0 { // else its rows have no subject to check
			perms = append(perms, byType[k]...)
		}
	}
	hasMembership := false
	for _, k := range kinds {
		hasMembership = hasMembership || k == kindMembership
	}
	if hasMembership {
		l.checkRoles(perms, membership)
	}
	l.checkOwnership(ownership)
	l.checkStatus(status)
	l.checkPerTenant(m, perms)
}

// checkRoles finds roles with permissions that nobody holds, and roles held
// that carry no permission.
func (l *linter) checkRoles(perms, membership []row) {
	subjects := newRoleLines() // p subjects, at their first p line
	for _, r := range perms {
		subjects.see(r.fields[0], r.line)
	}
	granted := newRoleLines()         // roles, at the first g line granting each
	inherits := map[string][]string{} // member → roles it holds
	for _, r := range membership {
		member, role := r.fields[0], r.fields[1]
		granted.see(role, r.line)
		inherits[member] = append(inherits[member], role)
	}
	// A role has permissions if it has p rows, or holds a role that has.
	memo := map[string]bool{}
	var hasPerm func(role string, depth int) bool
	hasPerm = func(role string, depth int) bool {
		if v, ok := memo[role]; ok {
			return v
		}
		if subjects.has(role) {
			return true
		}
		if depth > 32 {
			return false // a cycle; Casbin limits the hierarchy depth too
		}
		memo[role] = false
		for _, parent := range inherits[role] {
			if hasPerm(parent, depth+1) {
				memo[role] = true
				return true
			}
		}
		return false
	}
	noPerm := granted.filter(func(role string) bool { return !hasPerm(role, 0) })
	notGranted := subjects.filter(func(s string) bool { return !granted.has(s) })
	l.warnRoleGaps(notGranted, noPerm, CodeRoleNotGranted,
		"grant it with a row like `g, <user>, %s, <tenant>`, or remove its permission rows",
		"did you mean %q? It is granted (line %d) but has no permission row",
		"role %q has permission rows but no g row grants it to anyone")
	l.warnRoleGaps(noPerm, notGranted, CodeRoleNoPermissions,
		"give it a permission row like `p, %s, *, deployment:*, <action>`, or remove its grants",
		"did you mean %q? Its permission rows (line %d) name a role nobody holds",
		"role %q is granted but has no permission row, so it allows nothing")
}

// warnRoleGaps warns with code and the message msg (of the role) about each
// role of gaps, at its line. The hint is fix (of the role), or, when a role
// of others is spelled nearly alike, didYouMean (of that role and its line):
// a role granted under one name and given permissions under another.
func (l *linter) warnRoleGaps(gaps, others roleLines, code, fix, didYouMean, msg string) {
	for _, role := range gaps.order {
		hint := fmt.Sprintf(fix, role)
		if c := closest(role, others.order); c != "" {
			hint = fmt.Sprintf(didYouMean, c, others.line[c])
		}
		l.policyWarn(gaps.line[role], code, hint, msg, role)
	}
}

// roleLines are role names in the order first seen, each with the line it
// was first seen on.
type roleLines struct {
	order []string
	line  map[string]int
}

func newRoleLines() roleLines { return roleLines{line: map[string]int{}} }

// see notes role at line, unless it was seen before.
func (r *roleLines) see(role string, line int) {
	if !r.has(role) {
		r.line[role] = line
		r.order = append(r.order, role)
	}
}

func (r roleLines) has(role string) bool {
	_, ok := r.line[role]
	return ok
}

// filter returns the roles that keep, in order, with their lines.
func (r roleLines) filter(keep func(role string) bool) roleLines {
	out := roleLines{line: r.line}
	for _, role := range r.order {
		if keep(role) {
			out.order = append(out.order, role)
		}
	}
	return out
}

// checkOwnership finds resources owned by two tenants.
func (l *linter) checkOwnership(rows []row) {
	owner := map[string]row{}
	for _, r := range rows {
		obj, tenant := r.fields[0], r.fields[1]
		prev, ok := owner[obj]
		if !ok {
			owner[obj] = r
			continue
		}
		if prev.fields[1] != tenant {
			l.policyErr(r.line, CodeOwnerConflict,
				fmt.Sprintf("a resource belongs to one tenant: keep one of lines %d and %d; users of both tenants can reach it now", prev.line, r.line),
				"%s is owned by two tenants: %s (line %d) and %s", obj, prev.fields[1], prev.line, tenant)
		}
	}
}

// checkStatus checks the tenant status rows.
func (l *linter) checkStatus(rows []row) {
	seen := map[string]row{}
	for _, r := range rows {
		tenant, st := r.fields[0], r.fields[1]
		known := false
		for _, s := range statuses {
			known = known || s == st
		}
		if !known {
			l.policyErr(r.line, CodeTenantStatus, didYouMean(st, statuses)+"a tenant is one of "+strings.Join(statuses, ", "),
				"tenant %s has unknown status %q", tenant, st)
			continue
		}
		if prev, ok := seen[tenant]; ok && prev.fields[1] != st {
			l.policyErr(r.line, CodeTenantStatus, fmt.Sprintf("keep one of lines %d and %d", prev.line, r.line),
				"tenant %s has two statuses: %s (line %d) and %s", tenant, prev.fields[1], prev.line, st)
			continue
		}
		seen[tenant] = r
	}
}

// checkPerTenant finds permission rows that differ only by a concrete tenant
// (and the concrete resource): Casbin scans permission rows one by one for
// every decision, so such rows make decisions linear in the number of
// tenants, while one template row plus g/g2 rows (map lookups) stays flat.
func (l *linter) checkPerTenant(m *model, perms []row) {
	type group struct {
		rows    []row
		tenants map[string]bool
	}
	groups := map[string]*group{}
	var order []string
	for _, r := range perms {
		def := m.ByKey[r.ptype]
		dom, obj := fieldIndex(def, "dom", "domain", "tenant"), fieldIndex(def, "obj", "object", "resource")
		if dom < 0 || strings.Contains(r.fields[dom], "*") {
			continue
		}
		parts := append([]string{r.ptype}, r.fields...)
		parts[dom+1] = ""
		if obj >= 0 {
			parts[obj+1] = objectType(r.fields[obj])
		}
		key := strings.Join(parts, "\x00")
		g, ok := groups[key]
		if !ok {
			g = &group{tenants: map[string]bool{}}
			groups[key] = g
			order = append(order, key)
		}
		g.rows = append(g.rows, r)
		g.tenants[r.fields[dom]] = true
	}
	for _, key := range order {
		g := groups[key]
		if len(g.tenants) < 2 {
			continue
		}
		def := m.ByKey[g.rows[0].ptype]
		dom, obj := fieldIndex(def, "dom", "domain", "tenant"), fieldIndex(def, "obj", "object", "resource")
		template := make([]string, len(def.Fields))
		lines := make([]string, len(g.rows))
		for i, r := range g.rows {
			lines[i] = strconv.Itoa(r.line)
		}
		for j := range template {
			same := true
			for _, r := range g.rows {
				same = same && r.fields[j] == g.rows[0].fields[j]
			}
			switch {
			case j == dom:
				template[j] = "*"
			case same:
				template[j] = g.rows[0].fields[j]
			case j == obj && objectType(g.rows[0].fields[j]) != "":
				template[j] = objectType(g.rows[0].fields[j]) + ":*"
			default:
				template[j] = "*"
			}
		}
		tmpl := g.rows[0].ptype + ", " + strings.Join(template, ", ")
		l.policyWarn(g.rows[0].line, CodePerTenantRows,
			fmt.Sprintf("use one template row `%s`, and keep tenancy in g rows (`g, <user>, %s, <tenant>`) and ownership in g2 rows (`g2, <resource>, <tenant>`)", tmpl, g.rows[0].fields[0]),
			"%d permission rows for %s differ only by tenant (%d tenants; lines %s): every decision scans them all, so decisions slow down as tenants grow",
			len(g.rows), g.rows[0].fields[0], len(g.tenants), strings.Join(lines, ", "))
	}
}

func fieldIndex(d *definition, names ...string) int {
	for i, f := range d.Fields {
		for _, n := range names {
			if f == n {
				return i
			}
		}
	}
	return -1
}

// objectType returns "deployment" for "deployment:42", "" for an untyped id.
func objectType(obj string) string {
	t, _, ok := strings.Cut(obj, ":")
	if !ok {
		return ""
	}
	return t
}
