package policy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/keyportal/keyportal/internal/demo"
	"github.com/keyportal/keyportal/internal/testenv"
)

// Two good versions of the demo policy and a broken one. Version B promotes
// dave to developer and revokes bob; the broken one has a p row that lacks
// its tenant field at brokenLine.
var (
	policyA = demo.Policy
	policyB = strings.NewReplacer(
		"g, dave, viewer, acme", "g, dave, developer, acme",
		"g, bob, admin, acme\n", "",
	).Replace(demo.Policy)
	brokenLine   = 5
	policyBroken = func() string {
		lines := strings.Split(demo.Policy, "\n")
		lines[brokenLine-1] = "p, admin, deployment:*, api_keys:manage"
		return strings.Join(lines, "\n")
	}()
)

// reloadRequests are asked over and over while the policy changes.
var reloadRequests = []Request{
	{"alice", "acme", "deployment:42", manage},
	{"bob", "acme", "deployment:42", manage},
	{"dave", "acme", "deployment:43", manage},
	{"frank", "acme", "deployment:42", manage},
	{"heidi", "initech", "deployment:99", manage},
	{"erin", "acme", "deployment:42", auditRead},
}

type answer struct {
	Allowed bool
	Reason  Reason
}

// answersOf decides reloadRequests against a fresh engine over policy.
func answersOf(t *testing.T, policy string) []answer {
	t.Helper()
	e := mustNew(t, Config{PolicyText: policy})
	out := make([]answer, len(reloadRequests))
	for i, r := range reloadRequests {
		d := mustDecide(t, e, r)
		out[i] = answer{d.Allowed, d.Reason}
	}
	return out
}

// deciders runs decisions in goroutines until stop is closed and fails the
// test on any error or any answer that is neither version's.
func deciders(t *testing.T, e *Engine, a, b []answer, stop <-chan struct{}) (wait func() int64) {
	var wg sync.WaitGroup
	var n atomic.Int64
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := i % len(reloadRequests)
				d, err := e.Decide(context.Background(), reloadRequests[k])
				if err != nil {
					t.Errorf("decision failed during reload: %v", err)
					return
				}
				got := answer{d.Allowed, d.Reason}
				if got != a[k] && got != b[k] {
					t.Errorf("%v = %+v, neither version's answer (%+v or %+v)", reloadRequests[k], got, a[k], b[k])
					return
				}
				n.Add(1)
			}
		}(g)
	}
	return func() int64 { wg.Wait(); return n.Load() }
}

func TestReloadUnderLoad(t *testing.T) {
	a, b := answersOf(t, policyA), answersOf(t, policyB)
	if a[1] == b[1] || a[2] == b[2] {
		t.Fatal("versions A and B must answer bob and dave differently")
	}
	var logs syncBuffer
	path := writeFile(t, t.TempDir(), "policy.csv", policyA)
	e, err := New(Config{PolicyPath: path, Logger: zerolog.New(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	wait := deciders(t, e, a, b, stop)

	check := func(want []answer, which string) {
		t.Helper()
		for i, r := range reloadRequests {
			d, err := e.Decide(context.Background(), r)
			if err != nil || (answer{d.Allowed, d.Reason}) != want[i] {
				t.Fatalf("after %s: %v = %+v, %v; want %+v", which, r, d, err, want[i])
			}
		}
	}
	for round := 0; round < 20; round++ {
		good, goodAnswers := policyA, a
		if round%2 == 1 {
			good, goodAnswers = policyB, b
		}
		writeFile(t, filepath.Dir(path), "policy.csv", good)
		if err := e.Reload(); err != nil {
			t.Fatalf("round %d: good reload: %v", round, err)
		}
		if e.LastError() != nil {
			t.Fatalf("LastError after a good reload = %v", e.LastError())
		}
		check(goodAnswers, "a good reload")

		writeFile(t, filepath.Dir(path), "policy.csv", policyBroken)
		err := e.Reload()
		var fe *FileError
		if !errors.As(err, &fe) || fe.Path != path || fe.Line != brokenLine {
			t.Fatalf("round %d: broken reload error = %v, want %s:%d", round, err, path, brokenLine)
		}
		if !errors.Is(e.LastError(), err) {
			t.Fatalf("LastError = %v, want %v", e.LastError(), err)
		}
		check(goodAnswers, "a broken reload") // the last good policy stays
	}
	close(stop)
	if n := wait(); n == 0 {
		t.Fatal("no decisions ran during the reloads")
	}
	out := logs.String()
	if !strings.Contains(out, `"message":"policy reloaded"`) || !strings.Contains(out, `"rules_p":4`) {
		t.Errorf("good reload not logged with counts:\n%.400s", out)
	}
	if !strings.Contains(out, `"level":"error"`) || !strings.Contains(out, fmt.Sprintf("policy.csv:%d:", brokenLine)) ||
		!strings.Contains(out, fmt.Sprintf(`"line":%d`, brokenLine)) {
		t.Errorf("broken reload not logged with path:line:\n%.400s", out)
	}
}

func TestWatchReloads(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, b := answersOf(t, policyA), answersOf(t, policyB)
	dir := t.TempDir()
	path := writeFile(t, dir, "policy.csv", policyA)
	e := mustNew(t, Config{PolicyPath: path, Watch: true})
	defer e.Close()
	stop := make(chan struct{})
	wait := deciders(t, e, a, b, stop)

	// replace swaps the file in whole, as deploy tools and editors do.
	seq := 0
	replace := func(text string) {
		seq++
		tmp := writeFile(t, dir, fmt.Sprintf(".policy.csv.%d", seq), text)
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (LastError %v)", what, e.LastError())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	dave := func() answer {
		d := mustDecide(t, e, reloadRequests[2])
		return answer{d.Allowed, d.Reason}
	}

	for round := 0; round < 3; round++ {
		replace(policyBroken)
		waitFor("the broken edit to be reported", func() bool {
			var fe *FileError
			return errors.As(e.LastError(), &fe) && fe.Line == brokenLine && fe.Path == path
		})
		if dave() != a[2] {
			t.Fatal("a broken edit took effect")
		}
		replace(policyB)
		waitFor("version B", func() bool { return e.LastError() == nil && dave() == b[2] })
		replace(policyA)
		waitFor("version A", func() bool { return e.LastError() == nil && dave() == a[2] })
	}
	close(stop)
	wait()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// Decisions still work after Close; only the watching stops.
	if dave() != a[2] {
		t.Fatal("decision after Close changed")
	}
}

func TestReloadInlineTextIsNoop(t *testing.T) {
	e := demoEngine(t)
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is safe for the logger's concurrent writes.
type syncBuffer = testenv.LogBuffer
