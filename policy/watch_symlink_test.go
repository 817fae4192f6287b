package policy

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestWatchFollowsSymlinkSwap: a policy mounted from a Kubernetes ConfigMap
// is a symlink (policy.csv → ..data/policy.csv) whose ..data link is
// swapped, atomically, for a new directory on every update; no event names
// policy.csv itself. The watch must still load the new policy, or the old
// one (a revoked grant included) stays in force.
func TestWatchFollowsSymlinkSwap(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, b := answersOf(t, policyA), answersOf(t, policyB)
	dir := t.TempDir()
	version := func(name, text string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name), "policy.csv", text)
	}
	version("..v1", policyA)
	if err := os.Symlink("..v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "policy.csv")
	if err := os.Symlink(filepath.Join("..data", "policy.csv"), path); err != nil {
		t.Fatal(err)
	}
	e := mustNew(t, Config{PolicyPath: path, Watch: true})
	defer e.Close()
	// Version B revokes bob's admin role and promotes dave.
	ask := func(i int) answer {
		d := mustDecide(t, e, reloadRequests[i])
		return answer{d.Allowed, d.Reason}
	}
	if ask(1) != a[1] || ask(2) != a[2] || a[1] == b[1] || a[2] == b[2] {
		t.Fatal("version A not loaded, or B does not differ from it")
	}

	// The kubelet's update: a new directory, a new link, renamed over ..data.
	version("..v2", policyB)
	if err := os.Symlink("..v2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "..v1")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ask(1) != b[1] || ask(2) != b[2] {
		if time.Now().After(deadline) {
			t.Fatalf("the swapped policy was never loaded: bob still gets %+v (LastError %v)", ask(1), e.LastError())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatchFollowsSymlinkToAnotherDirectory: when the policy path is a
// symlink to a file in another directory, an edit of that file is loaded.
func TestWatchFollowsSymlinkToAnotherDirectory(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a, b := answersOf(t, policyA), answersOf(t, policyB)
	target := writeFile(t, t.TempDir(), "policy.csv", policyA)
	path := filepath.Join(t.TempDir(), "policy.csv")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	e := mustNew(t, Config{PolicyPath: path, Watch: true})
	defer e.Close()
	bob := func() answer {
		d := mustDecide(t, e, reloadRequests[1])
		return answer{d.Allowed, d.Reason}
	}
	if bob() != a[1] {
		t.Fatal("version A not loaded")
	}
	writeFile(t, filepath.Dir(target), "policy.csv", policyB)
	deadline := time.Now().Add(5 * time.Second)
	for bob() != b[1] {
		if time.Now().After(deadline) {
			t.Fatalf("the edited target was never loaded: bob still gets %+v (LastError %v)", bob(), e.LastError())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
