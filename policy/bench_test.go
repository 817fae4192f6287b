package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// scalePolicy builds a policy of tenants tenants, each with 10 users (one per
// role, cycling) and 10 deployments, over the demo's template rows.
func scalePolicy(tenants int) string {
	var b strings.Builder
	b.WriteString("p, owner, *, deployment:*, api_keys:manage\n")
	b.WriteString("p, admin, *, deployment:*, api_keys:manage\n")
	b.WriteString("p, developer, *, deployment:*, api_keys:manage\n")
	b.WriteString("p, support, *, deployment:*, audit:read\n")
	roles := []string{"owner", "admin", "developer", "viewer", "support"}
	for t := 0; t < tenants; t++ {
		if t%3 == 1 {
			fmt.Fprintf(&b, "g3, t%d, suspended\n", t)
		}
		for i := 0; i < 10; i++ {
			fmt.Fprintf(&b, "g, u%d-%d, %s, t%d\n", t, i, roles[i%len(roles)], t)
			fmt.Fprintf(&b, "g2, deployment:%d, t%d\n", t*10+i, t)
		}
	}
	return b.String()
}

// BenchmarkDecide measures one decision over a small and a large policy with
// the same template rows. Every request reaches the Casbin matcher (the
// slowest path): users of every role on their own tenant's deployments, so
// owners, admins and developers are allowed, viewers and support are
// denied_by_rule.
func BenchmarkDecide(b *testing.B) {
	for _, tenants := range []int{10, 10_000} {
		e := mustNew(b, Config{PolicyText: scalePolicy(tenants)})
		var reqs []Request
		for i := 0; i < 64; i++ {
			t := (i * 7919) % tenants
			if t%3 == 1 { // suspended tenants stop before Casbin
				t = (t + 1) % tenants
			}
			u := i % 10
			reqs = append(reqs, Request{
				Subject: fmt.Sprintf("u%d-%d", t, u),
				Tenant:  fmt.Sprintf("t%d", t),
				Object:  fmt.Sprintf("deployment:%d", t*10+u),
				Action:  "api_keys:manage",
			})
		}
		ctx := context.Background()
		allowed := 0
		for _, r := range reqs {
			d, err := e.Decide(ctx, r)
			if err != nil {
				b.Fatal(err)
			}
			if d.Reason != ReasonAllowed && d.Reason != ReasonDeniedByRule {
				b.Fatalf("%v stops before Casbin: %s", r, d.Reason)
			}
			if d.Allowed {
				allowed++
			}
		}
		if allowed == 0 || allowed == len(reqs) {
			b.Fatalf("%d of %d allowed; want a mix", allowed, len(reqs))
		}
		b.Run(fmt.Sprintf("tenants=%d", tenants), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := e.Decide(ctx, reqs[i%len(reqs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
