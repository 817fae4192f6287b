package middleware

import (
	"github.com/gin-gonic/gin"

	"github.com/keyportal/keyportal/policy"
)

// Principal is the signed-in user as the host app knows them.
type Principal struct {
	// Subject is the user's stable id, the subject of policy decisions and
	// the key of the per-user rate limit.
	Subject string
	// Tenant is the tenant the user acts in for this request (the
	// organisation or workspace currently selected), not merely one they
	// belong to: every decision is made inside it.
	Tenant string
}

// contextKey is the type of the keys this package stores in a gin.Context;
// being unexported, no other package can read or overwrite them.
type contextKey int

const (
	principalKey contextKey = iota
	decisionKey
)

// PrincipalFrom returns the Principal that Authorize identified for this
// request, and false when no Authorize guard ran before the handler.
func PrincipalFrom(c *gin.Context) (Principal, bool) {
	v, ok := c.Get(principalKey)
	if !ok {
		return Principal{}, false
	}
	p, ok := v.(Principal)
	return p, ok
}

// DecisionFrom returns the policy decision that let this request through an
// Authorize guard, and false when no Authorize guard ran before the handler.
func DecisionFrom(c *gin.Context) (policy.Decision, bool) {
	v, ok := c.Get(decisionKey)
	if !ok {
		return policy.Decision{}, false
	}
	d, ok := v.(policy.Decision)
	return d, ok
}
