package policy

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Case is one policy test case: a request and the outcome it must get.
type Case struct {
	Request
	// Expect is "allow", "deny" (any denial) or a Reason name such as
	// "not_owner" (that denial exactly).
	Expect string
	// Line is where the case was written, for reports.
	Line int
}

// CaseResult is the outcome of running one Case.
type CaseResult struct {
	Case     Case
	Decision Decision
	// Pass says whether the decision met Case.Expect.
	Pass bool
}

var knownReasons = map[Reason]bool{
	ReasonAllowed: true, ReasonNoRole: true, ReasonNotOwner: true,
	ReasonTenantSuspended: true, ReasonTenantDeleted: true,
	ReasonDeniedByRule: true, ReasonUnknownTenant: true,
}

// ParseCases reads test cases from CSV rows of
//
//	subject, tenant, object, action, expect
//
// where expect is allow, deny or a Reason name. A header row starting with
// "subject" is skipped, as are blank lines and lines starting with #. name is
// used in errors, which read "name:line: message".
func ParseCases(r io.Reader, name string) ([]Case, error) {
	var cases []Case
	err := newCSVLines(r).each(name, func(f []string, n int) error {
		if len(cases) == 0 && strings.EqualFold(f[0], "subject") {
			return nil // header
		}
		if len(f) != 5 {
			return fileErrorf(name, n, "want 5 fields (subject, tenant, object, action, expect), got %d", len(f))
		}
		for i, v := range f {
			if v == "" {
				return fileErrorf(name, n, "field %d (%s) is empty", i+1, []string{"subject", "tenant", "object", "action", "expect"}[i])
			}
		}
		expect := strings.ToLower(f[4])
		if expect != "allow" && expect != "deny" && !knownReasons[Reason(expect)] {
			return fileErrorf(name, n, "expect %q is not allow, deny or a reason (allowed, no_role, not_owner, tenant_suspended, tenant_deleted, denied_by_rule, unknown_tenant)", f[4])
		}
		cases = append(cases, Case{
			Request: Request{Subject: f[0], Tenant: f[1], Object: f[2], Action: f[3]},
			Expect:  expect,
			Line:    n,
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cases, nil
}

// Met reports whether d satisfies the expectation of c.
func (c Case) Met(d Decision) bool {
	switch c.Expect {
	case "allow":
		return d.Allowed
	case "deny":
		return !d.Allowed
	default:
		return string(d.Reason) == c.Expect
	}
}

// RunCases decides every case with d. A failing case is a result with Pass
// false, not an error; an error means a decision could not be made at all.
func RunCases(ctx context.Context, d Decider, cases []Case) ([]CaseResult, error) {
	out := make([]CaseResult, 0, len(cases))
	for _, c := range cases {
		dec, err := d.Decide(ctx, c.Request)
		if err != nil {
			return out, fmt.Errorf("policy: case at line %d: %w", c.Line, err)
		}
		out = append(out, CaseResult{Case: c, Decision: dec, Pass: c.Met(dec)})
	}
	return out, nil
}
