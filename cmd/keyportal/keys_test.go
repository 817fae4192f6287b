package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
)

// TestKeysListFollowsPages: keys list and keys revoke --all read every key,
// past the store's largest page, so nothing is cut off.
func TestKeysListFollowsPages(t *testing.T) {
	h := newHarness(t)
	h.acmeApp()
	s, err := sqlite.Open(t.Context(), h.db, keystore.Options{Now: h.clock.Now, MaxActiveKeys: keystore.NoKeyLimit})
	if err != nil {
		t.Fatal(err)
	}
	const n = keystore.MaxKeyLimit + 3
	for i := range n {
		if _, _, err := s.CreateKey(context.Background(), keystore.NewKey{AppSlug: "aa_42", Name: fmt.Sprint("k", i)}, keystore.Actor{Name: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	r := h.run("keys", "list", "--db", "$DB", "--app", "aa_42", "--json")
	expect(t, r, exitOK)
	if lines := strings.Count(r.stdout, "\n"); lines != n {
		t.Fatalf("keys list --json printed %d keys, want %d", lines, n)
	}
	r = h.run("keys", "list", "--db", "$DB", "--app", "aa_42")
	expect(t, r, exitOK)
	if !strings.Contains(r.stdout, fmt.Sprintf("%d keys", n)) {
		t.Fatalf("keys list does not count %d keys: %s", n, r.stdout[max(0, len(r.stdout)-200):])
	}
	r = h.run("keys", "revoke", "--db", "$DB", "--app", "aa_42", "--all", "--reason", "drill")
	expect(t, r, exitOK)
	if got := strings.Count(r.stdout, "revoked "); got != n {
		t.Fatalf("revoke --all revoked %d keys, want %d", got, n)
	}
	r = h.run("keys", "list", "--db", "$DB", "--app", "aa_42", "--status", "active")
	expect(t, r, exitOK)
	if !strings.Contains(r.stdout, "no keys match") {
		t.Fatalf("active keys left after revoke --all: %s", r.stdout)
	}
}
