package policy

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/internal/demo"
)

// FuzzLoad feeds arbitrary model and policy text to the loader: it must
// either load or fail with a *FileError on a real line, never panic.
func FuzzLoad(f *testing.F) {
	f.Add(DefaultModel, demo.Policy)
	f.Add(DefaultModel, "p, admin, *, deployment:*\n")
	f.Add(DefaultModel, "g3, acme, paused\n\"unterminated")
	f.Add("[matchers]\nm = r.sub ==\n", "")
	f.Add(strings.Replace(DefaultModel, "keyMatch(r.obj, p.obj)", "keyMatch(r.obj)", 1), demo.Policy)
	f.Fuzz(func(t *testing.T, model, policy string) {
		s, err := buildState("model.conf", model, "policy.csv", policy, false)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FileError", err)
			}
			lines := strings.Count(model, "\n") + strings.Count(policy, "\n") + 2
			if fe.Line < 1 || fe.Line > lines {
				t.Fatalf("line %d out of range: %v", fe.Line, err)
			}
			return
		}
		e := &Engine{}
		e.cur.Store(s)
		if _, err := e.Decide(context.Background(), Request{"alice", "acme", "deployment:42", "api_keys:manage"}); err != nil {
			t.Fatalf("a policy that loaded failed to decide: %v", err)
		}
	})
}

// FuzzDecide asks arbitrary requests of the demo policy: an answer or
// ErrInvalidRequest, never a panic, and never an allow outside the demo's
// allowed combinations.
func FuzzDecide(f *testing.F) {
	e := demoEngine(f)
	f.Add("bob", "acme", "deployment:42", "api_keys:manage")
	f.Add("admin", "acme", "deployment:42", "api_keys:manage")
	f.Add("mallory", "deployment:42", "deployment:42", "api_keys:manage")
	f.Add("bob", "acme", "deployment:*", "api_keys:manage")
	f.Add("bob", "acme", "deployment:42", "*")
	f.Fuzz(func(t *testing.T, sub, dom, obj, act string) {
		d, err := e.Decide(context.Background(), Request{sub, dom, obj, act})
		if err != nil {
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatal(err)
			}
			return
		}
		if !d.Allowed {
			return
		}
		allowed := map[string]bool{
			"alice/acme": true, "bob/acme": true, "carol/acme": true, "erin/acme": true,
			"frank/globex": true, "grace/globex": true,
		}
		if !allowed[sub+"/"+dom] || !map[string]bool{"deployment:42": dom == "acme", "deployment:43": dom == "acme", "deployment:77": dom == "globex"}[obj] {
			t.Fatalf("unexpected allow: %q %q %q %q → %+v", sub, dom, obj, act, d)
		}
	})
}
