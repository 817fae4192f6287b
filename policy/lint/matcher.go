package lint

import (
	"fmt"
	"sort"
	"strings"

	"github.com/keyportal/keyportal/policy/internal/modeltext"
)

// builtins are the functions Casbin registers for every matcher, plus eval.
var builtins = []string{
	"keyMatch", "keyMatch2", "keyMatch3", "keyMatch4", "keyMatch5",
	"keyGet", "keyGet2", "keyGet3", "regexMatch", "ipMatch", "globMatch", "eval",
}

// keywords are the bare words the expression language accepts.
var keywords = map[string]bool{"true": true, "false": true, "in": true, "nil": true}

// effects are the policy effects Casbin's default effector supports, written
// with p.eft as authors do.
var effects = []string{
	"some(where (p.eft == allow))",
	"!some(where (p.eft == deny))",
	"some(where (p.eft == allow)) && !some(where (p.eft == deny))",
	"priority(p.eft) || deny",
	"subjectPriority(p.eft) || deny",
}

// call is one call of a role function in a matcher: g(r.sub, p.sub, r.dom).
type call struct {
	fn   string
	args []string
	line int
}

// roleKind is what a role definition is used for, told by how the matcher
// calls it (or, for the tenant status rows, by the default model's name).
type roleKind int

const (
	kindUnused     roleKind = iota
	kindMembership          // g(r.sub, p.sub, r.dom): a subject holds a role
	kindOwnership           // g2(r.obj, r.dom): a resource belongs to a tenant
	kindStatus              // g3 rows: a tenant's status, read by the engine
	kindOther
)

// checkMatchers checks the effect and every matcher, and records how each
// role definition is called.
func (l *linter) checkMatchers(m *model) {
	if e, ok := m.ByKey["e"]; ok {
		norm := strings.Join(strings.Fields(strings.ReplaceAll(e.Value, "p_eft", "p.eft")), " ")
		known := false
		for _, want := range effects {
			if norm == want {
				known = true
			}
		}
		if !known {
			l.modelErr(e.Line, CodeBadDefinition, "use one of "+quoteAll(effects),
				"policy effect %q is not one Casbin supports", e.Value)
		}
	}
	functions := map[string]bool{}
	for _, f := range builtins {
		functions[f] = true
	}
	for _, k := range m.keys("g") {
		functions[k] = true
	}
	for _, key := range m.keys("m") {
		d := m.ByKey[key]
		calls := l.checkExpression(m, d, functions)
		for _, c := range calls {
			g, ok := m.ByKey[c.fn]
			if !ok {
				continue // a builtin
			}
			// A domain role function may also be called without the domain
			// argument only when it has none; Casbin passes exactly the fields.
			if len(c.args) != len(g.Fields) {
				l.modelErr(c.line, CodeFieldCount,
					fmt.Sprintf("%s is `%s = %s` (line %d): call it with %d arguments, or change the definition", g.Key, g.Key, g.Value, g.Line, len(g.Fields)),
					"%s is called with %d argument(s) but defined with %d", c.fn, len(c.args), len(g.Fields))
			}
		}
		m.calls = append(m.calls, calls...)
	}
}

// checkExpression reports the undefined tokens of one matcher and returns its
// role-function calls.
func (l *linter) checkExpression(m *model, d *definition, functions map[string]bool) []call {
	names, closed := modeltext.Names(d.Value)
	var calls []call
	for _, n := range names {
		switch _, role := m.ByKey[n.Text]; {
		case n.Call && !functions[n.Text]:
			known := sortedKeys(functions)
			l.modelErr(d.Line, CodeUndefinedToken,
				didYouMean(n.Text, known)+"known functions: "+strings.Join(known, ", ")+
					"; a custom function must be registered with the enforcer before the model is used",
				"%s calls unknown function %s()", d.Key, n.Text)
		case n.Call && role:
			calls = append(calls, call{fn: n.Text, args: n.Args, line: d.Line})
		case !n.Call:
			l.checkToken(m, d, n.Text)
		}
	}
	if !closed {
		l.modelErr(d.Line, CodeSyntax, "close the string", "%s has an unterminated string", d.Key)
	}
	return calls
}

// checkToken checks a bare token such as r.sub, p.dom or true.
func (l *linter) checkToken(m *model, d *definition, tok string) {
	head, field, dotted := strings.Cut(tok, ".")
	if !dotted {
		if keywords[tok] {
			return
		}
		if _, ok := m.ByKey[tok]; ok && (strings.HasPrefix(tok, "r") || strings.HasPrefix(tok, "p")) {
			l.modelErr(d.Line, CodeUndefinedToken, fmt.Sprintf("name a field, e.g. `%s.%s`", tok, first(m.ByKey[tok].Fields)),
				"%s uses %s without a field", d.Key, tok)
			return
		}
		l.modelErr(d.Line, CodeUndefinedToken, "use r.<field> or p.<field>, a quoted string, or a function call",
			"%s names undefined token %q", d.Key, tok)
		return
	}
	def, ok := m.ByKey[head]
	if !ok || !(def.Section == "request_definition" || def.Section == "policy_definition") {
		var heads []string
		heads = append(heads, m.keys("r")...)
		heads = append(heads, m.keys("p")...)
		l.modelErr(d.Line, CodeUndefinedToken, didYouMean(head, heads)+"the request and policy definitions are "+strings.Join(heads, ", "),
			"%s names %q, but %s is not defined", d.Key, tok, head)
		return
	}
	// r.sub.Name reaches into an ABAC struct: only the first field is ours.
	field, _, _ = strings.Cut(field, ".")
	if field == "eft" && def.Section == "policy_definition" {
		return
	}
	for _, f := range def.Fields {
		if f == field {
			return
		}
	}
	l.modelErr(d.Line, CodeUndefinedToken,
		didYouMean(field, def.Fields)+fmt.Sprintf("%s has fields %s (line %d)", head, strings.Join(def.Fields, ", "), def.Line),
		"%s names %s.%s, but %s has no field %q", d.Key, head, field, head, field)
}

// kinds tells what each role definition is for.
func (m *model) kinds() map[string]roleKind {
	out := map[string]roleKind{}
	for _, k := range m.keys("g") {
		out[k] = kindUnused
	}
	for _, c := range m.calls {
		if len(c.args) == 0 {
			continue
		}
		switch {
		case strings.HasPrefix(c.args[0], "r.") && isSubjectField(m, c.args[0]):
			out[c.fn] = kindMembership
		case strings.HasPrefix(c.args[0], "r."):
			out[c.fn] = kindOwnership
		default:
			out[c.fn] = kindOther
		}
	}
	// The default model keeps tenant status in g3 rows, read by the engine
	// rather than the matcher.
	if d, ok := m.ByKey["g3"]; ok && out["g3"] == kindUnused && len(d.Fields) == 2 {
		out["g3"] = kindStatus
	}
	// A role definition of fewer than two fields is reported with the model;
	// its rows name no member and role to check.
	for _, k := range m.keys("g") {
		if len(m.ByKey[k].Fields) < 2 {
			out[k] = kindOther
		}
	}
	return out
}

// isSubjectField reports whether arg (r.x) is the request's first field, the
// subject by Casbin's convention.
func isSubjectField(m *model, arg string) bool {
	head, field, _ := strings.Cut(arg, ".")
	d, ok := m.ByKey[head]
	return ok && len(d.Fields) > 0 && d.Fields[0] == field
}

func first(s []string) string {
	if len(s) == 0 {
		return "field"
	}
	return s[0]
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
