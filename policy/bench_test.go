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
// the same template rows. Requests cycle through allowed, denied-by-rule,
// not-owner and no-role outcomes in active tenants.
func BenchmarkDecide(b *testing.B) {
	for _, tenants := range []int{10, 10_000} {
		e, err := New(Config{PolicyText: scalePolicy(tenants)})
		if err != nil {
			b.Fatal(err)
		}
		var reqs []Request
		for i := 0; i < 64; i++ {
			t := (i * 7919) % tenants
			if t%3 == 1 {
				t = (t + 1) % tenants
			}
			u := i % 10
			dep := t*10 + u
			switch i % 4 {
			case 2: // another tenant's deployment
				dep = ((t+2)%tenants)*10 + u
			case 3: // a stranger
				u = 99
			}
			reqs = append(reqs, Request{
				Subject: fmt.Sprintf("u%d-%d", t, u),
				Tenant:  fmt.Sprintf("t%d", t),
				Object:  fmt.Sprintf("deployment:%d", dep),
				Action:  "api_keys:manage",
			})
		}
		ctx := context.Background()
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
