package policy

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/keyportal/keyportal/internal/logx"
)

// DefaultModel is the Casbin model shipped with keyportal (model.conf).
//
//go:embed model.conf
var DefaultModel string

// ErrInvalidRequest is returned by Decide for a request with an empty field.
var ErrInvalidRequest = errors.New("policy: request needs subject, tenant, object and action")

// Config configures an Engine. The zero value is an engine over the default
// model with an empty policy, which denies everything.
type Config struct {
	// ModelPath is a Casbin model file used instead of DefaultModel.
	ModelPath string
	// PolicyPath is the policy CSV file. Empty means PolicyText.
	PolicyPath string
	// PolicyText is the policy itself, used when PolicyPath is empty (tests,
	// demos). Both empty means an empty policy that denies everything.
	PolicyText string
	// Tenants tells tenant status. Nil means the g3 rows of the policy (a
	// tenant without a row is active).
	Tenants TenantStatuser
	// Roles tells which roles a subject holds in a tenant. Nil means the
	// policy's g rows; set it when memberships live in the app's database, so
	// nothing has to be synced into files. Role inheritance rows (g, role,
	// role, tenant) still apply to the roles it returns.
	Roles RoleSource
	// Owners tells which tenant owns an object. Nil means the policy's g2
	// rows; set it when ownership lives in the app's database (the table of
	// deployments and their tenant), so nothing has to be synced into
	// files. Ownership then has one source: a policy with g2 rows is
	// refused (New and Reload fail with a *FileError naming the first). An
	// error from it fails the decision (Decide returns it; the ticket route
	// answers 503, reason decider_error).
	Owners OwnerSource
	// Logger receives reload events, and every failed reload at error
	// level. The zero Logger means JSON lines at info level on os.Stderr
	// (package internal/logx); zerolog.Nop() silences it.
	Logger zerolog.Logger
	// Watch reloads ModelPath and PolicyPath when they change on disk. A
	// broken edit is logged and reported by LastError; the last good policy
	// stays in force.
	Watch bool
}

// Engine decides requests against a loaded model and policy. It is safe for
// concurrent use, including while it reloads.
type Engine struct {
	cfg     Config
	log     zerolog.Logger
	cur     atomic.Pointer[state]
	reload  sync.Mutex // one reload at a time
	lastErr atomic.Pointer[error]
	watcher *watcher
	closed  sync.Once
}

// New loads the model and policy and returns an Engine over them. Errors
// start with "policy: "; a mistake in a file is a *FileError (see errors.As)
// naming the file and line.
func New(cfg Config) (*Engine, error) {
	e := &Engine{cfg: cfg, log: logx.Or(cfg.Logger, "policy")}
	if cfg.PolicyPath != "" && cfg.PolicyText != "" {
		return nil, errors.New("policy: set PolicyPath or PolicyText, not both")
	}
	if cfg.Watch && cfg.ModelPath == "" && cfg.PolicyPath == "" {
		return nil, errors.New("policy: Watch needs ModelPath or PolicyPath")
	}
	s, err := e.load()
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	e.cur.Store(s)
	e.logLoaded(s, "policy loaded")
	if cfg.Watch {
		w, err := newWatcher(e, cfg.ModelPath, cfg.PolicyPath)
		if err != nil {
			return nil, fmt.Errorf("policy: watch: %w", err)
		}
		e.watcher = w
	}
	return e, nil
}

// load reads the configured files and builds a state from them.
func (e *Engine) load() (*state, error) {
	modelPath, modelText := defaultModelName, DefaultModel
	if e.cfg.ModelPath != "" {
		b, err := os.ReadFile(e.cfg.ModelPath)
		if err != nil {
			return nil, &FileError{Path: e.cfg.ModelPath, Line: 0, Msg: readError(err)}
		}
		modelPath, modelText = e.cfg.ModelPath, string(b)
	}
	policyPath, policyText := inlinePolicyName, e.cfg.PolicyText
	if e.cfg.PolicyPath != "" {
		b, err := os.ReadFile(e.cfg.PolicyPath)
		if err != nil {
			return nil, &FileError{Path: e.cfg.PolicyPath, Line: 0, Msg: readError(err)}
		}
		policyPath, policyText = e.cfg.PolicyPath, string(b)
	}
	return buildState(modelPath, modelText, policyPath, policyText, e.cfg.Owners != nil)
}

func readError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// Reload re-reads the model and policy files. If they do not fully validate,
// the last good policy stays in force, the error is logged and kept for
// LastError, and a *FileError is returned. A good reload is logged at info
// level and clears LastError.
func (e *Engine) Reload() error {
	e.reload.Lock()
	defer e.reload.Unlock()
	s, err := e.load()
	if err != nil {
		e.lastErr.Store(&err)
		ev := e.log.Error().Err(err).Str("event", "policy.reload").
			Str("model", e.modelName()).Str("policy", e.policyName())
		var fe *FileError
		if errors.As(err, &fe) {
			ev = ev.Str("path", fe.Path).Int("line", fe.Line)
		}
		ev.Msg("policy reload failed; keeping the last good policy")
		return err
	}
	e.cur.Store(s)
	e.lastErr.Store(nil)
	e.logLoaded(s, "policy reloaded")
	return nil
}

// logLoaded logs a good load with the files and the row count per ptype
// (rules_p, rules_g, ...).
func (e *Engine) logLoaded(s *state, msg string) {
	ev := e.log.Info()
	if ev == nil {
		return
	}
	ev = ev.Str("event", "policy.reload").Str("model", s.model.Path).Str("policy", s.policy.Path)
	for _, ptype := range s.model.ptypes() {
		ev = ev.Int("rules_"+ptype, s.policy.Counts[ptype])
	}
	ev.Msg(msg)
}

func (e *Engine) modelName() string {
	if e.cfg.ModelPath != "" {
		return e.cfg.ModelPath
	}
	return defaultModelName
}

func (e *Engine) policyName() string {
	if e.cfg.PolicyPath != "" {
		return e.cfg.PolicyPath
	}
	return inlinePolicyName
}

// LastError returns the error of the last reload, or nil if it succeeded (or
// none happened).
func (e *Engine) LastError() error {
	if p := e.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Close stops watching the files. Decisions keep working after Close.
func (e *Engine) Close() error {
	var err error
	e.closed.Do(func() {
		if e.watcher != nil {
			err = e.watcher.close()
		}
	})
	return err
}

// Decide answers r. Denials are decisions, not errors; an error means the
// question could not be answered (an invalid request, a failing
// TenantStatuser or RoleSource, a cancelled context) and must be treated as
// a denial.
func (e *Engine) Decide(ctx context.Context, r Request) (Decision, error) {
	if r.Subject == "" || r.Tenant == "" || r.Object == "" || r.Action == "" {
		return Decision{}, ErrInvalidRequest
	}
	if err := ctx.Err(); err != nil {
		return Decision{}, fmt.Errorf("policy: %w", err)
	}
	return e.decide(ctx, e.cur.Load(), r)
}

func (e *Engine) decide(ctx context.Context, s *state, r Request) (Decision, error) {
	status, err := e.tenantStatus(ctx, s, r.Tenant)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{TenantStatus: status}
	switch status {
	case TenantActive:
	case TenantSuspended:
		return deny(d, ReasonTenantSuspended), nil
	case TenantDeleted:
		return deny(d, ReasonTenantDeleted), nil
	case TenantUnknown:
		return deny(d, ReasonUnknownTenant), nil
	default:
		return Decision{}, fmt.Errorf("policy: tenant %q has invalid status %q", r.Tenant, status)
	}

	roles, err := e.roles(ctx, s, r.Subject, r.Tenant)
	if err != nil {
		return Decision{}, err
	}
	d.Roles = roles
	if len(roles) == 0 {
		return deny(d, ReasonNoRole), nil
	}

	// Casbin counts every name as linked to itself, so an object spelled
	// like its tenant would count as owned: a tenant named "deployment:42"
	// must not own deployment 42.
	owned := false
	if r.Object != r.Tenant {
		owned, err = e.owns(ctx, s, r.Tenant, r.Object)
		if err != nil {
			return Decision{}, err
		}
	}
	if !owned {
		return deny(d, ReasonNotOwner), nil
	}

	// With roles from the policy, the subject itself is enforced (the
	// matcher walks its g rows). With roles from a RoleSource there are no g
	// rows for it, so each role it holds is enforced as the subject.
	subjects := []string{r.Subject}
	if e.cfg.Roles != nil {
		subjects = roles
	}
	var rule []string
	for _, sub := range subjects {
		ok, explain, err := s.enforce(sub, r.Tenant, r.Object, r.Action)
		if err != nil {
			return Decision{}, fmt.Errorf("policy: enforce: %w", err)
		}
		if ok {
			d.Allowed, d.Reason, d.Rule = true, ReasonAllowed, ruleText(explain)
			return d, nil
		}
		if rule == nil && len(explain) > 0 {
			rule = explain // a matched deny row
		}
	}
	d.Rule = ruleText(rule)
	return deny(d, ReasonDeniedByRule), nil
}

func deny(d Decision, reason Reason) Decision {
	d.Allowed, d.Reason = false, reason
	return d
}

func ruleText(fields []string) string {
	if len(fields) == 0 {
		return ""
	}
	return "p, " + strings.Join(fields, ", ")
}

func (e *Engine) tenantStatus(ctx context.Context, s *state, tenant string) (TenantStatus, error) {
	if e.cfg.Tenants == nil {
		return s.tenantStatus(tenant), nil
	}
	st, err := e.cfg.Tenants.TenantStatus(ctx, tenant)
	if err != nil {
		return "", fmt.Errorf("policy: tenant status: %w", err)
	}
	return st, nil
}

func (s *state) tenantStatus(tenant string) TenantStatus {
	if st, ok := s.policy.Statuses[tenant]; ok {
		return st
	}
	return TenantActive
}

// owns reports whether tenant owns object: from Config.Owners if set, else
// from the g2 rows.
func (e *Engine) owns(ctx context.Context, s *state, tenant, object string) (bool, error) {
	if e.cfg.Owners == nil {
		owned, err := s.g2.HasLink(object, tenant)
		if err != nil {
			return false, fmt.Errorf("policy: ownership: %w", err)
		}
		return owned, nil
	}
	owner, ok, err := e.cfg.Owners.Owner(ctx, object)
	if err != nil {
		return false, fmt.Errorf("policy: ownership: %w", err)
	}
	return ok && owner == tenant, nil
}

// owners returns the tenants that own object, for Explain.
func (e *Engine) owners(ctx context.Context, s *state, object string) []string {
	if e.cfg.Owners == nil {
		owners, _ := s.g2.GetImplicitRoles(object)
		return owners
	}
	if owner, ok, err := e.cfg.Owners.Owner(ctx, object); err == nil && ok {
		return []string{owner}
	}
	return nil
}

// roles returns the subject's role chain in the tenant, nearest first.
func (e *Engine) roles(ctx context.Context, s *state, subject, tenant string) ([]string, error) {
	if e.cfg.Roles == nil {
		// A subject spelled like a role would match that role's rows
		// directly (casbin treats a name as holding itself), so such a
		// subject holds nothing.
		if s.roleNames[subject] {
			return nil, nil
		}
		roles, err := s.g.GetImplicitRoles(subject, tenant)
		if err != nil {
			return nil, fmt.Errorf("policy: roles: %w", err)
		}
		return roles, nil
	}
	direct, err := e.cfg.Roles.Roles(ctx, subject, tenant)
	if err != nil {
		return nil, fmt.Errorf("policy: roles: %w", err)
	}
	var out []string
	seen := map[string]bool{}
	add := func(r string) {
		if r != "" && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	for _, r := range direct {
		add(r)
	}
	for _, r := range direct {
		inherited, err := s.g.GetImplicitRoles(r, tenant)
		if err != nil {
			return nil, fmt.Errorf("policy: roles: %w", err)
		}
		for _, ir := range inherited {
			add(ir)
		}
	}
	return out, nil
}

// TenantStatus returns the tenant's status as the engine sees it: from
// Config.Tenants if set, else from the policy's g3 rows. It makes an Engine a
// TenantStatuser for callers that check status before deciding.
func (e *Engine) TenantStatus(ctx context.Context, tenant string) (TenantStatus, error) {
	return e.tenantStatus(ctx, e.cur.Load(), tenant)
}

// Roles returns the subject's role chain in the tenant, nearest first, from
// Config.Roles if set, else from the policy's g rows. It makes an Engine a
// RoleSource.
func (e *Engine) Roles(ctx context.Context, subject, tenant string) ([]string, error) {
	return e.roles(ctx, e.cur.Load(), subject, tenant)
}

var (
	_ Decider        = (*Engine)(nil)
	_ TenantStatuser = (*Engine)(nil)
	_ RoleSource     = (*Engine)(nil)
)
