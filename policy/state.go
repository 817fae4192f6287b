package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
)

// state is one loaded, validated policy. It is never changed after it is
// built; a reload builds a new one and swaps it in whole.
type state struct {
	enf       *casbin.SyncedEnforcer
	model     *modelInfo
	policy    *policyInfo
	roleNames map[string]bool // every name used as a role (p subjects, g targets)
	ruleLines map[string]int  // "p, admin, *, ..." → line in the policy file
	pRows     []row           // permission rows, in file order
	g         roleLookup      // role memberships (g)
	g2        roleLookup      // ownership (g2)
	// grantedRoles are the roles g rows grant, in order of first grant.
	grantedRoles []string
	// roleLinks are the g rows between roles (inheritance), for Matrix.
	roleLinks []row
	// memo holds the enforcer's answers for this snapshot (see enforce).
	memo verdicts
}

// roleLookup is the part of casbin's role manager this package uses.
type roleLookup interface {
	HasLink(name1, name2 string, domains ...string) (bool, error)
	GetImplicitRoles(name string, domains ...string) ([]string, error)
}

// rowsAdapter hands pre-scanned rows to casbin. It is read-only: policies are
// edited in their files, never through the enforcer.
type rowsAdapter struct{ rows []row }

var errReadOnly = errors.New("policy: the enforcer is read-only; edit the policy file")

func (a rowsAdapter) LoadPolicy(m model.Model) error {
	for _, r := range a.rows {
		rule := make([]string, 0, len(r.Fields)+1)
		rule = append(rule, r.PType)
		rule = append(rule, r.Fields...)
		if err := persist.LoadPolicyArray(rule, m); err != nil {
			return err
		}
	}
	return nil
}
func (rowsAdapter) SavePolicy(model.Model) error                              { return errReadOnly }
func (rowsAdapter) AddPolicy(string, string, []string) error                  { return errReadOnly }
func (rowsAdapter) RemovePolicy(string, string, []string) error               { return errReadOnly }
func (rowsAdapter) RemoveFilteredPolicy(string, string, int, ...string) error { return errReadOnly }

// buildState checks the model and policy text and builds an enforcer over
// them. Any mistake comes back as a *FileError.
// With ownedElsewhere (Config.Owners), g2 rows are refused and the
// matcher's g2 term holds for every request: Decide checked ownership
// against the OwnerSource before it asks the matcher.
func buildState(modelPath, modelText, policyPath, policyText string, ownedElsewhere bool) (*state, error) {
	mi, err := parseModel(modelPath, modelText)
	if err != nil {
		return nil, err
	}
	pi, err := parsePolicy(policyPath, policyText, mi)
	if err != nil {
		return nil, err
	}
	if ownedElsewhere {
		for _, r := range pi.Rows {
			if r.PType == "g2" {
				return nil, &FileError{Path: policyPath, Line: r.Line, Msg: "g2 row, but ownership comes from Config.Owners: remove the g2 rows (ownership has one source)"}
			}
		}
	}
	return buildFromRows(mi, pi, ownedElsewhere)
}

// buildFromRows builds a state from a checked model and checked rows.
func buildFromRows(mi *modelInfo, pi *policyInfo, ownedElsewhere bool) (*state, error) {
	modelPath, policyPath := mi.Path, pi.Path
	m, err := model.NewModelFromString(mi.Text)
	if err != nil {
		return nil, &FileError{Path: modelPath, Line: 1, Msg: "casbin: " + err.Error()}
	}
	// The enforcer starts empty, gets this package's role manager for every
	// role definition, and only then loads the rows.
	enf, err := casbin.NewSyncedEnforcer(m)
	if err != nil {
		return nil, &FileError{Path: modelPath, Line: 1, Msg: "casbin: " + err.Error()}
	}
	enf.EnableLog(false)
	var graphs []*roleGraph
	for _, ptype := range mi.ptypes() {
		if ptype[0] == 'g' {
			rg := newRoleGraph()
			graphs = append(graphs, rg)
			if ptype == "g2" && ownedElsewhere {
				enf.SetNamedRoleManager(ptype, ownedUpstream{rg})
				continue
			}
			enf.SetNamedRoleManager(ptype, rg)
		}
	}
	enf.SetAdapter(rowsAdapter{rows: pi.Rows})
	if err := enf.LoadPolicy(); err != nil {
		return nil, &FileError{Path: policyPath, Line: 1, Msg: "casbin: " + err.Error()}
	}
	for _, rg := range graphs {
		rg.freeze()
	}
	s := &state{
		enf:       enf,
		model:     mi,
		policy:    pi,
		roleNames: map[string]bool{},
		ruleLines: map[string]int{},
	}
	for _, r := range pi.Rows {
		switch r.PType {
		case "p":
			s.pRows = append(s.pRows, r)
			s.roleNames[r.Fields[0]] = true
			if _, dup := s.ruleLines[r.text()]; !dup {
				s.ruleLines[r.text()] = r.Line
			}
		case "g":
			if !s.roleNames[r.Fields[1]] {
				s.grantedRoles = append(s.grantedRoles, r.Fields[1])
			}
			s.roleNames[r.Fields[1]] = true
		}
	}
	for _, r := range pi.Rows {
		if r.PType == "g" && s.roleNames[r.Fields[0]] {
			s.roleLinks = append(s.roleLinks, r)
		}
	}
	if s.g, err = lookup(enf, "g"); err != nil {
		return nil, &FileError{Path: modelPath, Line: mi.ByKey["g"].Line, Msg: err.Error()}
	}
	if s.g2, err = lookup(enf, "g2"); err != nil {
		return nil, &FileError{Path: modelPath, Line: mi.ByKey["g2"].Line, Msg: err.Error()}
	}
	if err := s.probe(); err != nil {
		return nil, &FileError{Path: modelPath, Line: mi.ByKey["m"].Line, Msg: "matcher: " + err.Error()}
	}
	// Casbin holds the rows now; what this package still needs of them is
	// kept above. Dropping the rest saves memory on large policies.
	s.policy = &policyInfo{Path: pi.Path, Statuses: pi.Statuses, Counts: pi.Counts}
	return s, nil
}

func lookup(enf *casbin.SyncedEnforcer, ptype string) (roleLookup, error) {
	rm := enf.GetNamedRoleManager(ptype)
	if rm == nil {
		return nil, fmt.Errorf("%s has no role manager (conditional role definitions are not supported)", ptype)
	}
	return rm, nil
}

// probe evaluates the matcher once per permission row (and once with no row
// at all), with requests shaped after each row so that every term of the
// matcher runs: a matcher that does not compile, calls an unknown function
// or returns a non-boolean fails here, not on a user's request.
func (s *state) probe() error {
	const probe = "keyportal-probe"
	if _, _, err := s.enf.EnforceEx(probe, probe, probe, probe); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range s.pRows {
		req := s.requestFor(r, probe)
		key := strings.Join(req, "\x00")
		if seen[key] {
			continue
		}
		seen[key] = true
		if _, _, err := s.enf.EnforceEx(req[0], req[1], req[2], req[3]); err != nil {
			return fmt.Errorf("%w (on the row at %s:%d)", err, s.policy.Path, r.Line)
		}
		if len(seen) >= 64 {
			break
		}
	}
	return nil
}

// requestFor builds a request that a permission row speaks to: its role as
// subject, its tenant (or tenant when the row says "*"), an object matching
// its pattern, its action. Rows whose definition differs from the default
// fall back to the probe string.
func (s *state) requestFor(r row, tenant string) []string {
	req := []string{tenant, tenant, tenant, tenant}
	field := map[string]string{}
	for i, t := range s.model.tokens("p") {
		if i < len(r.Fields) {
			field[t] = r.Fields[i]
		}
	}
	rt := s.model.tokens("r")
	for i, name := range rt {
		v, ok := field[name]
		if !ok {
			continue
		}
		switch {
		case i == 1 && v == "*":
			v = tenant
		case i == 2:
			v = instantiate(v, tenant)
		}
		req[i] = v
	}
	return req
}

// instantiate turns an object pattern such as "deployment:*" or
// "deployment/:id" into a concrete object that matches it.
func instantiate(pattern, id string) string {
	out := strings.ReplaceAll(pattern, "*", id)
	parts := strings.Split(out, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") || strings.HasPrefix(p, "{") {
			parts[i] = id
		}
	}
	return strings.Join(parts, "/")
}
