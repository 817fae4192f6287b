package policy

import (
	"sync"
	"sync/atomic"
)

// maxVerdicts bounds the memo of one policy snapshot. Only requests that
// passed the tenant, role and ownership checks reach the enforcer, so the
// entries are real (subject, tenant, owned object, action) tuples; past the
// bound, answers are simply computed every time.
const maxVerdicts = 1 << 16

// verdicts memoizes the enforcer's answers for one policy snapshot. A state
// never changes once built and a reload swaps in a new state with an empty
// memo, so no answer outlives the policy that gave it — unlike casbin's
// CachedEnforcer, which keeps allows across policy edits.
type verdicts struct {
	m sync.Map // verdictKey → verdict
	n atomic.Int64
}

type verdictKey struct{ sub, dom, obj, act string }

type verdict struct {
	ok   bool
	rule []string // the matched row; shared, read-only
}

// enforce asks the enforcer, through the memo.
func (s *state) enforce(sub, dom, obj, act string) (bool, []string, error) {
	k := verdictKey{sub, dom, obj, act}
	if v, ok := s.memo.m.Load(k); ok {
		v := v.(verdict)
		return v.ok, v.rule, nil
	}
	ok, rule, err := s.enf.EnforceEx(sub, dom, obj, act)
	if err != nil {
		return false, nil, err
	}
	if s.memo.n.Load() < maxVerdicts {
		if _, loaded := s.memo.m.LoadOrStore(k, verdict{ok, rule}); !loaded {
			s.memo.n.Add(1)
		}
	}
	return ok, rule, nil
}
