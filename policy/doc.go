// Package policy decides who may do what in which tenant, with Casbin.
//
// # Model
//
// The default model (DefaultModel, model.conf; override it with
// Config.ModelPath) is RBAC with domains, the domains being tenants. A
// request is (subject, tenant, object, action). Tenancy lives in role
// membership, not in permission rows, so permission rows are templates
// valid in every tenant and their number does not grow with tenants:
//
//	p, role, tenant-or-*, object-pattern, action   permission ("*" = every tenant; keyMatch patterns)
//	g, user, role, tenant                          user holds role in tenant (also role, role, tenant: inheritance)
//	g2, object, tenant                             object belongs to tenant
//	g3, tenant, active|suspended|deleted           tenant status; a tenant without a row is active
//
// For example:
//
//	p, admin, *, deployment:*, api_keys:manage
//	g, bob, admin, acme
//	g2, deployment:42, acme
//	g3, initech, suspended
//
// A model file may change the matcher and the effect, but must keep a
// four-field request, g with three fields (user, role, tenant) and g2 with
// two; g3 is optional. Policy rows are one per line, fields separated by
// commas; blank lines and lines starting with # are ignored.
//
// # Decisions
//
// Decide checks, in order, and stops at the first failure:
//
//  1. the tenant's status (Config.Tenants, else g3 rows): suspended →
//     tenant_suspended, deleted → tenant_deleted, unknown → unknown_tenant;
//  2. the subject's roles in the tenant (Config.Roles, else g rows): none →
//     no_role;
//  3. the object's owner (Config.Owners, else g2 rows): not the tenant →
//     not_owner;
//  4. the Casbin matcher: a matching row → allowed, with the row in
//     Decision.Rule; none → denied_by_rule.
//
// Casbin treats every name as linked to itself, so two spellings are
// refused outright: a subject named like a role holds no role (when roles
// come from g rows), and an object named like the tenant is not owned by it.
//
// Tenant status, roles and ownership can each come from the app's own
// database instead of the policy file (Config.Tenants, Config.Roles,
// Config.Owners); an error from one of them fails the decision closed.
//
// # Files and reloads
//
// Files are checked line by line before Casbin sees them (Casbin's own errors
// carry no line numbers): a mistake is a *FileError naming file and line, and
// New fails. Reload (or Config.Watch) builds a complete new enforcer and
// swaps it in only if everything validates, so a broken edit never takes
// effect; LastError says what was wrong. Decisions use a casbin
// SyncedEnforcer, never a cached one, so a revoked role stops working at the
// next reload. Its role definitions get this package's role manager, a
// read-only map built once per load: decisions cost the same with 10 or
// 10,000 tenants, and no lookup takes a lock.
//
// # Test cases and the matrix
//
// ParseCases and RunCases check a policy against expected outcomes written
// as CSV (subject, tenant, object, action, expect). Engine.Matrix lists the
// outcome for every role × ownership × tenant status × action, and
// Engine.Explain tells why a single request got its answer.
package policy
