package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/wacht"
)

// This file runs two `keyportal serve` processes and the CLI on one SQLite
// file, the embedded default, and checks that what the CLI (or the other
// server) changes is enforced by a running server within a second: the
// store's change log, polled by every process. Run with:
//
//	go test -count=1 -v -run SQLiteProcesses ./cmd/keyportal/

func TestSQLiteProcesses(t *testing.T) {
	bin := keyportalBinary(t)
	db := filepath.Join(t.TempDir(), "keyportal.db")
	env := []string{
		"KEYPORTAL_DB=" + db,
		"KEYPORTAL_POSTGRES_DSN=",
		"KEYPORTAL_BACKEND_API_KEY=" + miBackendKey,
		"KEYPORTAL_ALLOWED_ORIGINS=https://app.acme.test",
	}
	s1 := startInstance(t, "S1", env)
	s2 := startInstance(t, "S2", env)
	ctx := context.Background()
	const app = "aa_42"
	if _, err := s1.cl.CreateApp(ctx, wacht.CreateAppRequest{
		AppSlug: app, Name: "Acme Public API", KeyPrefix: "acme_live", OrganizationID: "acme",
	}); err != nil {
		t.Fatalf("create app on S1: %v", err)
	}
	// cli runs the command on the file and returns when it was started
	// and when it exited.
	cli := func(args ...string) (start, exited time.Time, err error) {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--db", db)...)
		cmd.Env = append(os.Environ(), env...)
		start = time.Now()
		out, err := cmd.CombinedOutput()
		if err != nil {
			return start, time.Now(), fmt.Errorf("keyportal %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return start, time.Now(), nil
	}
	// newKey makes a key on S1 and has both servers verify (and cache) it.
	newKey := func(name string) (wacht.Key, string) {
		t.Helper()
		k, secret, err := s1.cl.CreateKey(ctx, app, wacht.CreateKeyRequest{Name: name})
		if err != nil {
			t.Fatalf("create key on S1: %v", err)
		}
		for _, in := range []*instance{s1, s2} {
			if ok, reason := in.allowed(t, secret); !ok {
				t.Fatalf("new key refused on %s: %s", in.name, reason)
			}
		}
		return k, secret
	}
	// refusedBy waits until every instance refuses secret and returns how
	// long after start the last one did.
	refusedBy := func(start time.Time, secret string, ins ...*instance) (time.Duration, bool) {
		for _, in := range ins {
			for {
				if allowed, _ := in.allowed(t, secret); !allowed {
					break
				}
				if time.Since(start) > 5*time.Second {
					return time.Since(start), false
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
		return time.Since(start), true
	}

	t.Run("key revoked through S2's API refused on S1", func(t *testing.T) {
		k, secret := newKey("api")
		start := time.Now()
		if err := s2.cl.RevokeKey(ctx, app, k.ID, "leaked"); err != nil {
			t.Fatalf("revoke on S2: %v", err)
		}
		if took, ok := refusedBy(start, secret, s1); !ok {
			t.Fatalf("key revoked on S2 still allowed on S1 after %v", took)
		}
	})

	t.Run("100 revocations through the CLI", func(t *testing.T) {
		const n = 100
		lat := make([]time.Duration, 0, n)       // from starting the CLI
		afterExit := make([]time.Duration, 0, n) // from its exit, the revocation committed
		for i := range n {
			k, secret := newKey(fmt.Sprintf("cli-%d", i))
			start, exited, err := cli("keys", "revoke", k.ID, "--app", app, "--reason", "rotation drill")
			if err != nil {
				t.Fatal(err)
			}
			took, ok := refusedBy(start, secret, s1, s2)
			if !ok {
				t.Fatalf("revocation %d through the CLI still allowed after %v", i, took)
			}
			lat = append(lat, took)
			afterExit = append(afterExit, took-exited.Sub(start))
		}
		reportPropagation(t, "CLI revoke started → refused on both servers", lat,
			"CLI revoke exited → refused on both servers", afterExit)
	})

	t.Run("app disabled through the CLI refuses its keys on both servers", func(t *testing.T) {
		_, secret := newKey("disable")
		start, _, err := cli("apps", "disable", app)
		if err != nil {
			t.Fatal(err)
		}
		took, ok := refusedBy(start, secret, s1, s2)
		if !ok {
			t.Fatalf("key of an app disabled through the CLI still allowed after %v", took)
		}
		t.Logf("app disabled through the CLI: its key refused on both servers after %v", took)
	})
}
