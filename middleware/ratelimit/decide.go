package ratelimit

import (
	"context"
	"strings"
)

// Subject is the request Decide counts: whose key it is, where it comes
// from and what path it asks for.
type Subject struct {
	// KeyID, DeploymentID and AppSlug are the verified key's.
	KeyID, DeploymentID, AppSlug string
	// ClientIP is the client's address; needed only when a rule counts per
	// IP (Limits.NeedsIP).
	ClientIP string
	// Path is the request path the rules' Endpoints are matched against;
	// a query string ("?...") is ignored.
	Path string
}

// Counted is one rule's count of a request.
type Counted struct {
	// Rule is the rule's name ("standard[0]", "100/1m0s/key").
	Rule string
	// Result is the limiter's answer.
	Result Result
}

// Decision is Decide's answer for one request.
type Decision struct {
	// Allowed is false when a rule refused the request.
	Allowed bool
	// Rule names the blocking rule: of the rules that refused, the first
	// in evaluation order. Empty when allowed.
	Rule string
	// Shown is what the RateLimit headers report: the blocking rule's
	// answer (with RetryAfter the longest of all refusals, so a retry then
	// passes every rule that refused), or when allowed the rule closest to
	// refusing. Zero when no rule applied (Counted is empty).
	Shown Result
	// Counted holds every rule that applied to the request, in evaluation
	// order.
	Counted []Counted
}

// Decide counts one request against every rule of sets, in order, that
// applies to s.Path (one call to l when it is a MultiLimiter: one Redis
// round trip), and says whether it may go on and which rule blocks it. It
// is the one rate-limit decision of RequireAPIKey and the backend API's
// /v1/authz/check. An error means l could not answer; callers let the
// request through (limits guard capacity, not access).
func Decide(ctx context.Context, l Limiter, s Subject, sets ...*Limits) (Decision, error) {
	path, _, _ := strings.Cut(s.Path, "?")
	n := 0
	for _, set := range sets {
		n += set.Len()
	}
	checks := make([]Check, 0, n)
	counted := make([]Counted, 0, n)
	for _, set := range sets {
		if set == nil {
			continue
		}
		for i := range set.rules {
			r := &set.rules[i]
			if !r.matches(path) {
				continue
			}
			key := CounterKey(r.rule.Scope, s.KeyID, s.DeploymentID, s.AppSlug, s.ClientIP)
			if r.ns != "" {
				key = r.ns + "|" + key
			}
			checks = append(checks, Check{Key: key, Rule: r.rule})
			counted = append(counted, Counted{Rule: r.name})
		}
	}
	d := Decision{Allowed: true}
	if len(checks) == 0 {
		return d, nil
	}
	results := make([]Result, len(checks))
	if err := AllowAll(ctx, l, checks, results); err != nil {
		return d, err
	}
	for i := range counted {
		counted[i].Result = results[i]
	}
	d.Counted = counted
	shown, longest := Pick(results)
	d.Shown = shown
	for i, r := range results {
		if !r.Allowed {
			d.Allowed, d.Rule, d.Shown = false, counted[i].Rule, r
			d.Shown.RetryAfter = results[longest].RetryAfter
			break
		}
	}
	return d, nil
}
