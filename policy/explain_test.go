package policy

import (
	"context"
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	e := demoEngine(t)
	tests := []struct {
		name     string
		req      Request
		ruleLine int
		want     []string // substrings of String(), in order
	}{
		{"allowed", Request{"bob", "acme", "deployment:42", manage}, 5,
			[]string{"→ allowed", "ok   tenant_status", `tenant "acme" is active`, `"bob" holds admin in "acme"`, `"deployment:42" belongs to "acme"`, "p, admin, *, deployment:*, api_keys:manage ((inline policy):5)"}},
		{"denied by rule", Request{"dave", "acme", "deployment:42", manage}, 0,
			[]string{"denied (denied_by_rule)", "FAIL rule", `no permission row lets viewer do "api_keys:manage"`}},
		{"not owner", Request{"bob", "acme", "deployment:77", manage}, 0,
			[]string{"denied (not_owner)", `FAIL ownership`, `"deployment:77" belongs to globex, not "acme"`}},
		{"unknown object", Request{"bob", "acme", "deployment:5", manage}, 0,
			[]string{`"deployment:5" belongs to no tenant`}},
		{"no role", Request{"frank", "acme", "deployment:42", manage}, 0,
			[]string{"denied (no_role)", `FAIL role`, `"frank" holds no role in "acme"`}},
		{"role as subject", Request{"admin", "acme", "deployment:42", manage}, 0,
			[]string{`"admin" is the name of a role`}},
		{"suspended", Request{"heidi", "initech", "deployment:99", manage}, 0,
			[]string{"denied (tenant_suspended)", `FAIL tenant_status`, `tenant "initech" is suspended`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := e.Explain(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			d, _ := e.Decide(context.Background(), tt.req)
			if x.Decision.Reason != d.Reason || x.RuleLine != tt.ruleLine {
				t.Fatalf("Explain decision %s line %d; Decide says %s, want line %d", x.Decision.Reason, x.RuleLine, d.Reason, tt.ruleLine)
			}
			out := x.String()
			rest := out
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("explanation lacks %q (in order):\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
