package policy

import "context"

// Request is one authorization question: may Subject, acting in Tenant, do
// Action on Object? Objects are typed ids such as "deployment:42".
type Request struct {
	Subject string
	Tenant  string
	Object  string
	Action  string
}

// Reason says why a decision came out as it did.
type Reason string

// Reasons of a Decision. Only ReasonAllowed comes with Allowed=true.
const (
	ReasonAllowed         Reason = "allowed"
	ReasonNoRole          Reason = "no_role"          // the subject holds no role in the tenant
	ReasonNotOwner        Reason = "not_owner"        // the object does not belong to the tenant
	ReasonTenantSuspended Reason = "tenant_suspended" // the tenant is suspended
	ReasonTenantDeleted   Reason = "tenant_deleted"   // the tenant is (soft-)deleted
	ReasonDeniedByRule    Reason = "denied_by_rule"   // roles and ownership hold, but no rule allows the action
	ReasonUnknownTenant   Reason = "unknown_tenant"   // the tenant is not known at all
)

// TenantStatus is the lifecycle state of a tenant.
type TenantStatus string

// Tenant states.
const (
	TenantActive    TenantStatus = "active"
	TenantSuspended TenantStatus = "suspended"
	TenantDeleted   TenantStatus = "deleted"
	TenantUnknown   TenantStatus = "unknown"
)

// Decision is the answer to a Request, with what led to it.
type Decision struct {
	// Allowed is true only when Reason is ReasonAllowed.
	Allowed bool
	// Reason says why.
	Reason Reason
	// Rule is the permission row that matched (e.g. "p, admin, *,
	// deployment:*, api_keys:manage"), empty when none did.
	Rule string
	// Roles is the role chain of the subject in the tenant, nearest first.
	Roles []string
	// TenantStatus is the tenant's state when the decision was made.
	TenantStatus TenantStatus
}

// Decider answers authorization requests. Implementations are safe for
// concurrent use.
type Decider interface {
	Decide(ctx context.Context, r Request) (Decision, error)
}

// TenantStatuser tells a tenant's status. The policy files provide one by
// default; a host app that keeps tenants in its own database supplies its own.
type TenantStatuser interface {
	TenantStatus(ctx context.Context, tenant string) (TenantStatus, error)
}

// RoleSource tells which roles a subject holds in a tenant. Casbin grouping
// rows provide them by default; a host app that keeps memberships in its own
// database supplies its own and need not sync files.
type RoleSource interface {
	Roles(ctx context.Context, subject, tenant string) ([]string, error)
}

// OwnerSource tells which tenant owns an object (e.g. "deployment:42"):
// ok is false when the object belongs to no tenant (it does not exist). The
// policy's g2 rows provide it by default; a host app that keeps ownership in
// its own database supplies its own and writes no g2 rows. An error means
// the question could not be answered: the decision fails closed.
type OwnerSource interface {
	Owner(ctx context.Context, object string) (tenant string, ok bool, err error)
}
