package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/storetest"
)

// crashChildEnv, when set to a database path, turns the test binary into the
// child of TestSQLiteCrashKeepsAnsweredCreates.
const crashChildEnv = "KEYSTORE_CRASH_CHILD_DB"

// crashChild creates keys from four goroutines until killed (past any cap
// on active keys), printing each key id only after CreateKey has returned.
func crashChild(path string) {
	s, err := Open(context.Background(), path, keystore.Options{MaxActiveKeys: keystore.NoKeyLimit})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				k, _, err := s.CreateKey(context.Background(), keystore.NewKey{AppSlug: "aa_42", Name: fmt.Sprintf("burst %d-%d", w, i)}, keystore.Actor{Name: "crash"})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				out.Lock()
				os.Stdout.WriteString(k.ID + "\n") // unbuffered: in the pipe once this returns
				out.Unlock()
			}
		}()
	}
	wg.Wait()
	os.Exit(3) // not killed in time
}

// TestSQLiteCrashKeepsAnsweredCreates kills a process with SIGKILL in the
// middle of a burst of key creations and checks that every key whose create
// had returned is in the reopened database.
func TestSQLiteCrashKeepsAnsweredCreates(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
	}
	path := filepath.Join(t.TempDir(), "crash.sqlite")
	s, err := Open(context.Background(), path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustApp(t, s, "aa_42", "acme")
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestSQLiteCrashKeepsAnsweredCreates$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 200
	var answered []string
	sc := bufio.NewScanner(stdout)
	killed := false
	for sc.Scan() {
		if id := sc.Text(); strings.HasPrefix(id, "key_") {
			answered = append(answered, id)
		}
		if len(answered) == killAfter && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed || err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child was not killed mid-burst (%d keys, %v): %s", len(answered), err, stderr.String())
	}

	s, err = Open(context.Background(), path, keystore.Options{})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer s.Close()
	var check string
	if err := s.r.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	for _, id := range answered {
		if _, err := s.GetKey(context.Background(), "aa_42", id); err != nil {
			t.Fatalf("key %s was answered before the kill but is gone: %v", id, err)
		}
	}
	listed, _ := s.ListKeys(context.Background(), keystore.KeyFilter{AppSlug: "aa_42", Limit: keystore.MaxKeyLimit})
	all := listed.Keys
	page, _ := s.QueryAudit(context.Background(), auditQueryKeyCreated)
	t.Logf("%d creates answered before SIGKILL, %d keys in the database, %d key.created events on the first page",
		len(answered), len(all), len(page.Events))
	if len(all) < len(answered) {
		t.Fatalf("fewer keys (%d) than answered creates (%d)", len(all), len(answered))
	}
}

var auditQueryKeyCreated = audit.Query{Action: audit.ActionKeyCreated, Limit: 1000}
