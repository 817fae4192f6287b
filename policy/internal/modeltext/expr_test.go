package modeltext

import (
	"fmt"
	"slices"
	"testing"
)

func TestNames(t *testing.T) {
	tests := []struct {
		expr   string
		want   []string
		closed bool
	}{
		{`r.act == p.act && g(r.sub, p.sub, r.dom) && keyMatch (r.obj, p.obj)`,
			[]string{"r.act", "p.act", `g(["r.sub" "p.sub" "r.dom"])`, "r.sub", "p.sub", "r.dom", `keyMatch(["r.obj" "p.obj"])`, "r.obj", "p.obj"}, true},
		{`r.sub.Name == "r.nope" && p.dom == '*' && r.n > 1.5`, []string{"r.sub.Name", "p.dom", "r.n"}, true},
		{`f(g(a, b), "x, y") || true`, []string{`f(["g(a, b)" "\"x, y\""])`, `g(["a" "b"])`, "a", "b", "true"}, true},
		{`h() && r. == p`, []string{`h([])`, "r", "p"}, true},
		{`r.sub == "a \" b" && p.sub == "open`, []string{"r.sub", "p.sub"}, false},
	}
	for _, tt := range tests {
		names, closed := Names(tt.expr)
		var got []string
		for _, n := range names {
			if n.Call {
				got = append(got, fmt.Sprintf("%s(%q)", n.Text, n.Args))
			} else {
				got = append(got, n.Text)
			}
		}
		if !slices.Equal(got, tt.want) || closed != tt.closed {
			t.Errorf("Names(%s) = %q, %v\nwant %q, %v", tt.expr, got, closed, tt.want, tt.closed)
		}
	}
}
