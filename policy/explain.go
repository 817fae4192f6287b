package policy

import (
	"context"
	"fmt"
	"strings"
)

// Explanation is a Decision with the evidence behind it, for a person
// asking "why?" (the CLI's policy explain).
type Explanation struct {
	Request  Request
	Decision Decision
	// Steps are the checks in the order Decide makes them, up to the one
	// that decided.
	Steps []ExplainStep
	// ModelPath and PolicyPath name the loaded files ("(default model)",
	// "(inline policy)" for text).
	ModelPath, PolicyPath string
	// RuleLine is the line of Decision.Rule in PolicyPath, 0 when no rule
	// matched.
	RuleLine int
}

// ExplainStep is one check of a decision.
type ExplainStep struct {
	// Check is "tenant_status", "role", "ownership" or "rule".
	Check string
	// Passed says whether the request got past this check.
	Passed bool
	// Detail says what was found.
	Detail string
}

// String renders the explanation as a few readable lines.
func (x Explanation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s in %s: %s on %s → ", x.Request.Subject, x.Request.Tenant, x.Request.Action, x.Request.Object)
	if x.Decision.Allowed {
		b.WriteString("allowed\n")
	} else {
		fmt.Fprintf(&b, "denied (%s)\n", x.Decision.Reason)
	}
	for _, s := range x.Steps {
		mark := "ok  "
		if !s.Passed {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  %s %-13s %s\n", mark, s.Check, s.Detail)
	}
	return b.String()
}

// Explain decides r like Decide and reports each check on the way.
func (e *Engine) Explain(ctx context.Context, r Request) (Explanation, error) {
	if r.Subject == "" || r.Tenant == "" || r.Object == "" || r.Action == "" {
		return Explanation{}, ErrInvalidRequest
	}
	s := e.cur.Load()
	d, err := e.decide(ctx, s, r)
	if err != nil {
		return Explanation{}, err
	}
	x := Explanation{Request: r, Decision: d, ModelPath: s.model.Path, PolicyPath: s.policy.Path}
	source := "the policy's g3 rows"
	if e.cfg.Tenants != nil {
		source = "the app's TenantStatuser"
	}
	x.Steps = append(x.Steps, ExplainStep{"tenant_status", d.TenantStatus == TenantActive,
		fmt.Sprintf("tenant %q is %s (from %s)", r.Tenant, d.TenantStatus, source)})
	if d.TenantStatus != TenantActive {
		return x, nil
	}
	source = "the policy's g rows"
	if e.cfg.Roles != nil {
		source = "the app's RoleSource"
	}
	if len(d.Roles) == 0 {
		detail := fmt.Sprintf("%q holds no role in %q (from %s)", r.Subject, r.Tenant, source)
		if e.cfg.Roles == nil && s.roleNames[r.Subject] {
			detail = fmt.Sprintf("%q is the name of a role, and a role is not a subject", r.Subject)
		}
		x.Steps = append(x.Steps, ExplainStep{"role", false, detail})
		return x, nil
	}
	x.Steps = append(x.Steps, ExplainStep{"role", true,
		fmt.Sprintf("%q holds %s in %q (from %s)", r.Subject, strings.Join(d.Roles, " → "), r.Tenant, source)})
	if d.Reason == ReasonNotOwner {
		owners := e.owners(ctx, s, r.Object)
		detail := fmt.Sprintf("%q belongs to no tenant", r.Object)
		if len(owners) > 0 {
			detail = fmt.Sprintf("%q belongs to %s, not %q", r.Object, strings.Join(owners, ", "), r.Tenant)
		}
		x.Steps = append(x.Steps, ExplainStep{"ownership", false, detail})
		return x, nil
	}
	x.Steps = append(x.Steps, ExplainStep{"ownership", true, fmt.Sprintf("%q belongs to %q", r.Object, r.Tenant)})
	if d.Rule != "" {
		x.RuleLine = s.ruleLines[d.Rule]
	}
	if d.Allowed {
		x.Steps = append(x.Steps, ExplainStep{"rule", true, fmt.Sprintf("%s (%s:%d)", d.Rule, s.policy.Path, x.RuleLine)})
	} else {
		detail := fmt.Sprintf("no permission row lets %s do %q on %q", strings.Join(d.Roles, " or "), r.Action, r.Object)
		if d.Rule != "" {
			detail = fmt.Sprintf("denied by %s (%s:%d)", d.Rule, s.policy.Path, x.RuleLine)
		}
		x.Steps = append(x.Steps, ExplainStep{"rule", false, detail})
	}
	return x, nil
}
