package portal

import (
	"context"
	"fmt"

	"github.com/keyportal/keyportal/policy"
)

// recheck asks the policy again whether the user of a ticket or session may
// still act (docs/design.md "The JSON API"): the same policy.Request the
// ticket route decided, or, for a ticket of the backend API (no object or
// action), the tenant's status. It returns "" when the session may go on,
// else the policy's reason (e.g. "no_role", "tenant_suspended"), and an
// error when the policy could not answer. Without a Decider it allows all.
func (p *Portal) recheck(ctx context.Context, cl claims) (string, error) {
	if p.decider == nil {
		return "", nil
	}
	if cl.Object == "" || cl.Action == "" {
		if p.tenants == nil {
			return "", nil
		}
		st, err := p.tenants.TenantStatus(ctx, cl.Tenant)
		if err != nil {
			return "", fmt.Errorf("portal: re-check tenant %q: %w", cl.Tenant, err)
		}
		switch st {
		case policy.TenantActive:
			return "", nil
		case policy.TenantSuspended:
			return string(policy.ReasonTenantSuspended), nil
		case policy.TenantDeleted:
			return string(policy.ReasonTenantDeleted), nil
		default:
			return string(policy.ReasonUnknownTenant), nil
		}
	}
	d, err := p.decider.Decide(ctx, policy.Request{Subject: cl.User, Tenant: cl.Tenant, Object: cl.Object, Action: cl.Action})
	if err != nil {
		return "", fmt.Errorf("portal: re-check: %w", err)
	}
	if d.Allowed {
		return "", nil
	}
	if d.Reason == "" || d.Reason == policy.ReasonAllowed {
		return string(policy.ReasonDeniedByRule), nil
	}
	return string(d.Reason), nil
}
