package policy

import (
	"context"
	"fmt"
)

// Ownership says how the object of a matrix cell relates to the tenant.
type Ownership string

// Ownership kinds of a matrix cell.
const (
	OwnershipOwn     Ownership = "own"     // the object belongs to the tenant
	OwnershipOther   Ownership = "other"   // the object belongs to another tenant
	OwnershipUnknown Ownership = "unknown" // no tenant owns the object
)

// MatrixCell is the decision for one combination of role, ownership, tenant
// status and action.
type MatrixCell struct {
	// Role is the role the subject holds in the tenant; "" means none.
	Role string
	// Ownership is how the object relates to the tenant.
	Ownership Ownership
	// TenantStatus is the tenant's state.
	TenantStatus TenantStatus
	// Action is the action asked for, one of the permission rows' actions.
	Action string
	// Object is the synthetic object the cell was decided on (an instance
	// of the object pattern of the permission row for Role and Action).
	Object   string
	Decision Decision
}

// Matrix synthetic names. They live only in the scratch engine.
const (
	matrixSubject = "matrix-user-"
	matrixNobody  = "matrix-nobody"
	matrixTenant  = "matrix-tenant-"
	matrixOther   = "matrix-other-tenant"
)

// matrixStatuses are the tenant states a matrix covers, in order.
var matrixStatuses = []TenantStatus{TenantActive, TenantSuspended, TenantDeleted}

// matrixOwnerships are the ownership kinds a matrix covers, in order.
var matrixOwnerships = []Ownership{OwnershipOwn, OwnershipOther, OwnershipUnknown}

type statusMap map[string]TenantStatus

func (m statusMap) TenantStatus(_ context.Context, tenant string) (TenantStatus, error) {
	if st, ok := m[tenant]; ok {
		return st, nil
	}
	return TenantUnknown, nil
}

// Matrix decides every role × ownership × tenant status × action and
// returns the cells in that order. Roles are those of the permission rows,
// then roles only granted through g rows, then "" (no role); actions are
// those of the permission rows. The cells are decided by a scratch engine
// with the same model and permission rows (and role inheritance rows) and
// synthetic subjects, tenants and objects, so the real data is untouched and
// plays no part.
func (e *Engine) Matrix(ctx context.Context) ([]MatrixCell, error) {
	s := e.cur.Load()
	roles, actions := s.matrixAxes()

	// objectFor picks the object pattern the role's own row for the action
	// uses, else the first row's for that action.
	objectFor := func(role, action string) string {
		pattern := ""
		for _, r := range s.pRows {
			if rowField(s, r, "act") != action {
				continue
			}
			obj := rowField(s, r, "obj")
			if rowField(s, r, "sub") == role {
				return obj
			}
			if pattern == "" {
				pattern = obj
			}
		}
		return pattern
	}

	statuses := statusMap{matrixOther: TenantActive}
	rows := append([]row(nil), s.pRows...)
	tenantOf := func(st TenantStatus) string { return matrixTenant + string(st) }
	// Role inheritance (g rows between roles) applies in every tenant.
	for _, st := range matrixStatuses {
		t := tenantOf(st)
		statuses[t] = st
		for _, role := range roles {
			if role != "" {
				rows = append(rows, row{PType: "g", Fields: []string{matrixSubject + role, role, t}})
			}
		}
		for _, in := range s.roleLinks {
			rows = append(rows, row{PType: "g", Fields: []string{in.Fields[0], in.Fields[1], t}})
		}
	}
	type cellObj struct{ own, other, unknown string }
	objects := map[string]cellObj{} // by pattern
	for _, role := range roles {
		for _, a := range actions {
			pattern := objectFor(role, a)
			if _, done := objects[pattern]; done {
				continue
			}
			o := cellObj{
				own:     instantiate(pattern, "matrix-own"),
				other:   instantiate(pattern, "matrix-other"),
				unknown: instantiate(pattern, "matrix-unknown"),
			}
			objects[pattern] = o
			for _, st := range matrixStatuses {
				rows = append(rows, row{PType: "g2", Fields: []string{o.own, tenantOf(st)}})
			}
			rows = append(rows, row{PType: "g2", Fields: []string{o.other, matrixOther}})
		}
	}
	scratchState, err := buildFromRows(s.model, &policyInfo{Path: "(matrix)", Rows: rows, Statuses: map[string]TenantStatus{}, Counts: map[string]int{}}, false)
	if err != nil {
		return nil, fmt.Errorf("policy: matrix: %w", err)
	}
	scratch := &Engine{cfg: Config{Tenants: statuses}}
	scratch.cur.Store(scratchState)

	var cells []MatrixCell
	for _, role := range roles {
		subject := matrixNobody
		if role != "" {
			subject = matrixSubject + role
		}
		for _, own := range matrixOwnerships {
			for _, st := range matrixStatuses {
				for _, a := range actions {
					o := objects[objectFor(role, a)]
					obj := map[Ownership]string{OwnershipOwn: o.own, OwnershipOther: o.other, OwnershipUnknown: o.unknown}[own]
					d, err := scratch.Decide(ctx, Request{Subject: subject, Tenant: tenantOf(st), Object: obj, Action: a})
					if err != nil {
						return nil, fmt.Errorf("policy: matrix: %w", err)
					}
					cells = append(cells, MatrixCell{Role: role, Ownership: own, TenantStatus: st, Action: a, Object: obj, Decision: d})
				}
			}
		}
	}
	return cells, nil
}

// matrixAxes returns the roles (permission-row subjects in order of first
// appearance, then roles only granted by g rows, then "") and the actions
// of the permission rows.
func (s *state) matrixAxes() (roles, actions []string) {
	seenRole, seenAction := map[string]bool{}, map[string]bool{}
	for _, r := range s.pRows {
		if sub := rowField(s, r, "sub"); !seenRole[sub] {
			seenRole[sub] = true
			roles = append(roles, sub)
		}
		if act := rowField(s, r, "act"); !seenAction[act] {
			seenAction[act] = true
			actions = append(actions, act)
		}
	}
	for _, role := range s.grantedRoles {
		if !seenRole[role] {
			seenRole[role] = true
			roles = append(roles, role)
		}
	}
	return append(roles, ""), actions
}

// rowField returns a permission row's field by name ("sub", "dom", "obj",
// "act"): the field of the p token so named, else, for a model that names
// its tokens otherwise, the field at that name's place in the default
// layout.
func rowField(s *state, r row, name string) string {
	for i, t := range s.model.tokens("p") {
		if t == name && i < len(r.Fields) {
			return r.Fields[i]
		}
	}
	for i, t := range []string{"sub", "dom", "obj", "act"} {
		if t == name && i < len(r.Fields) {
			return r.Fields[i]
		}
	}
	return ""
}
