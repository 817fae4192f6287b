package ratelimit

import (
	"context"
	"net/netip"
)

// CounterKey returns what rule's scope counts a request per: the key id
// ("key:<id>"), the app ("app:<deployment>/<slug>"), the client IP
// ("ip:<addr>"), or a key or app with the IP ("key:<id>|ip:<addr>").
// RequireAPIKey and the backend's /v1/authz/check both use it (through
// Decide), so the two count one key against the same counters. An address
// is counted in one spelling (an IPv4-mapped IPv6 address as IPv4, IPv6 in
// lower case and compressed), so that respelling it opens no new count.
func CounterKey(scope Scope, keyID, deploymentID, appSlug, clientIP string) string {
	if scope.usesIP() {
		clientIP = canonicalIP(clientIP)
	}
	switch scope {
	case ScopeApp:
		return "app:" + deploymentID + "/" + appSlug
	case ScopeIP:
		return "ip:" + clientIP
	case ScopeKeyAndIP:
		return "key:" + keyID + "|ip:" + clientIP
	case ScopeAppAndIP:
		return "app:" + deploymentID + "/" + appSlug + "|ip:" + clientIP
	default:
		return "key:" + keyID
	}
}

// AllowAll counts one request against every check with l, in one call when
// l is a MultiLimiter, writing each answer to out (len(checks) elements).
// It stops at the first error.
func AllowAll(ctx context.Context, l Limiter, checks []Check, out []Result) error {
	if m, ok := l.(MultiLimiter); ok {
		return m.AllowAll(ctx, checks, out)
	}
	for i, ch := range checks {
		var err error
		if out[i], err = l.Allow(ctx, ch.Key, ch.Rule); err != nil {
			return err
		}
	}
	return nil
}

// Pick chooses the answer a response reports: the refusal with the longest
// RetryAfter if any (refused is its index), else the rule closest to
// refusing (fewest Remaining, then longest Reset), with refused = -1.
func Pick(results []Result) (shown Result, refused int) {
	refused = -1
	for i, r := range results {
		if !r.Allowed && (refused < 0 || r.RetryAfter > results[refused].RetryAfter) {
			refused = i
		}
		if i == 0 || r.Remaining < shown.Remaining ||
			(r.Remaining == shown.Remaining && r.Reset > shown.Reset) {
			shown = r
		}
	}
	if refused >= 0 {
		shown = results[refused]
	}
	return shown, refused
}

// canonicalIP is ip in its one spelling (netip.Addr's, IPv4-mapped IPv6
// unmapped), or ip as it is when it is not an address.
func canonicalIP(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() { // a parsed IPv4 address has one spelling already
		return ip
	}
	return a.Unmap().String()
}
