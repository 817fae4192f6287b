package lint

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkLint lints a policy of n tenants in the recommended shape: four
// template permission rows, then per tenant one status row, ten deployments
// and ten users.
func BenchmarkLint(b *testing.B) {
	model := policyFile(b, "model.conf")
	for _, n := range []int{10, 10000} {
		var p strings.Builder
		p.WriteString("p, owner, *, deployment:*, api_keys:manage\np, admin, *, deployment:*, api_keys:manage\n")
		p.WriteString("p, developer, *, deployment:*, api_keys:manage\np, support, *, deployment:*, audit:read\n")
		roles := []string{"owner", "admin", "developer", "support"}
		for t := 0; t < n; t++ {
			fmt.Fprintf(&p, "g3, t%d, active\n", t)
			for d := 0; d < 10; d++ {
				fmt.Fprintf(&p, "g2, deployment:%d-%d, t%d\n", t, d, t)
				fmt.Fprintf(&p, "g, u%d-%d, %s, t%d\n", t, d, roles[d%4], t)
			}
		}
		text := p.String()
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if problems := Lint("model.conf", model, "policy.csv", text); len(problems) != 0 {
					b.Fatalf("unexpected problems: %v", problems[:1])
				}
			}
		})
	}
}
