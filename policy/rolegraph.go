package policy

import (
	"errors"
	"sort"

	"github.com/casbin/casbin/v2/log"
	"github.com/casbin/casbin/v2/rbac"
)

// maxRoleDepth is how many links a role chain may have, as in casbin's
// default role manager.
const maxRoleDepth = 10

// roleGraph is the casbin role manager this package installs for g, g2 and
// g3. It has the semantics of casbin's default one (a name is linked to
// itself; links are followed up to maxRoleDepth within one domain; domains
// are exact) but is built once and then only read: plain maps, no locks, no
// allocation on HasLink. Casbin's default manager takes a mutex and creates
// and deletes temporary roles on every lookup, and keeps about 1 KB per row,
// which at 100,000 users costs more than the rest of a decision.
type roleGraph struct {
	links  map[roleKey][]string
	frozen bool
}

type roleKey struct{ domain, name string }

var errFrozen = errors.New("policy: roles are read-only once loaded; edit the policy file")

func newRoleGraph() *roleGraph { return &roleGraph{links: map[roleKey][]string{}} }

// freeze makes the graph read-only; it is then safe for concurrent reads.
func (g *roleGraph) freeze() { g.frozen = true }

func domainOf(domain []string) (string, error) {
	switch len(domain) {
	case 0:
		return "", nil
	case 1:
		return domain[0], nil
	}
	return "", errors.New("policy: a role link takes at most one domain")
}

func (g *roleGraph) Clear() error {
	if g.frozen {
		return errFrozen
	}
	g.links = map[roleKey][]string{}
	return nil
}

func (g *roleGraph) AddLink(name1, name2 string, domain ...string) error {
	if g.frozen {
		return errFrozen
	}
	d, err := domainOf(domain)
	if err != nil {
		return err
	}
	k := roleKey{d, name1}
	for _, r := range g.links[k] {
		if r == name2 {
			return nil
		}
	}
	g.links[k] = append(g.links[k], name2)
	return nil
}

func (g *roleGraph) BuildRelationship(name1, name2 string, domain ...string) error {
	return g.AddLink(name1, name2, domain...)
}

func (g *roleGraph) DeleteLink(string, string, ...string) error { return errFrozen }
func (g *roleGraph) DeleteDomain(string) error                  { return errFrozen }

func (g *roleGraph) HasLink(name1, name2 string, domain ...string) (bool, error) {
	if name1 == name2 {
		return true, nil
	}
	d, err := domainOf(domain)
	if err != nil {
		return false, err
	}
	first := g.links[roleKey{d, name1}]
	deeper := false
	for _, r := range first {
		if r == name2 {
			return true, nil
		}
		deeper = deeper || len(g.links[roleKey{d, r}]) > 0
	}
	if !deeper {
		return false, nil
	}
	for _, r := range g.implicit(name1, d) {
		if r == name2 {
			return true, nil
		}
	}
	return false, nil
}

// implicit returns every role name reaches in domain d, nearest first.
func (g *roleGraph) implicit(name, d string) []string {
	var out []string
	seen := map[string]bool{name: true}
	level := []string{name}
	for depth := 0; depth < maxRoleDepth && len(level) > 0; depth++ {
		var next []string
		for _, n := range level {
			for _, r := range g.links[roleKey{d, n}] {
				if !seen[r] {
					seen[r] = true
					out = append(out, r)
					next = append(next, r)
				}
			}
		}
		level = next
	}
	return out
}

func (g *roleGraph) GetRoles(name string, domain ...string) ([]string, error) {
	d, err := domainOf(domain)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), g.links[roleKey{d, name}]...), nil
}

func (g *roleGraph) GetImplicitRoles(name string, domain ...string) ([]string, error) {
	d, err := domainOf(domain)
	if err != nil {
		return nil, err
	}
	direct := g.links[roleKey{d, name}]
	if len(direct) == 1 && len(g.links[roleKey{d, direct[0]}]) == 0 {
		return []string{direct[0]}, nil // the common case, without the walk
	}
	return g.implicit(name, d), nil
}

// The methods below serve casbin's management API, which this package does
// not use on the request path; they scan the graph.

func (g *roleGraph) GetUsers(name string, domain ...string) ([]string, error) {
	d, err := domainOf(domain)
	if err != nil {
		return nil, err
	}
	var out []string
	for k, roles := range g.links {
		if k.domain != d {
			continue
		}
		for _, r := range roles {
			if r == name {
				out = append(out, k.name)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func (g *roleGraph) GetImplicitUsers(name string, domain ...string) ([]string, error) {
	d, err := domainOf(domain)
	if err != nil {
		return nil, err
	}
	var out []string
	for k := range g.links {
		if k.domain != d {
			continue
		}
		if ok, _ := g.HasLink(k.name, name, domain...); ok {
			out = append(out, k.name)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (g *roleGraph) GetDomains(name string) ([]string, error) {
	var out []string
	for k := range g.links {
		if k.name == name {
			out = append(out, k.domain)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (g *roleGraph) GetAllDomains() ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for k := range g.links {
		if !seen[k.domain] {
			seen[k.domain] = true
			out = append(out, k.domain)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (g *roleGraph) PrintRoles() error                               { return nil }
func (g *roleGraph) SetLogger(log.Logger)                            {}
func (g *roleGraph) Match(str, pattern string) bool                  { return str == pattern }
func (g *roleGraph) AddMatchingFunc(string, rbac.MatchingFunc)       {}
func (g *roleGraph) AddDomainMatchingFunc(string, rbac.MatchingFunc) {}

var _ rbac.RoleManager = (*roleGraph)(nil)

// ownedUpstream is the g2 role manager of an engine whose ownership comes
// from Config.Owners: Decide has checked ownership against the OwnerSource
// before the matcher runs, so the matcher's g2 term holds for every request
// that reaches it.
type ownedUpstream struct{ *roleGraph }

func (ownedUpstream) HasLink(string, string, ...string) (bool, error) { return true, nil }
