package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/audit"
	"github.com/keyportal/keyportal/middleware/keystore"
)

func TestAuditMaxAgeFlag(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"400d": 400 * 24 * time.Hour, "1d": 24 * time.Hour, "9600h": 9600 * time.Hour, "forever": -1,
	} {
		var a ageValue
		if err := a.Set(in); err != nil || time.Duration(a) != want {
			t.Errorf("Set(%q) = %v, %v; want %v", in, time.Duration(a), err, want)
		}
	}
	for _, in := range []string{"", "0d", "-3d", "x", "0", "-1h", "1.5d"} {
		var a ageValue
		if err := a.Set(in); err == nil {
			t.Errorf("Set(%q) accepted %v", in, time.Duration(a))
		}
	}
	a := ageValue(400 * 24 * time.Hour)
	if a.String() != "400d" {
		t.Errorf("String() = %q, want 400d", a.String())
	}
}

// TestStoreRetention: the store serve opens keeps the verification log as
// long as --access-max-age and --access-rollup-max-age say ("forever"
// here), and the store any other command opens prunes nothing at all, so
// that a long-running command never deletes by its own ages.
func TestStoreRetention(t *testing.T) {
	clock := newClock()
	old := audit.Access{RequestID: "req_old", Time: epoch.Add(-500 * 24 * time.Hour), AppSlug: "aa_42", KeyID: "key_1",
		Outcome: audit.AccessAllowed, Method: "GET", Path: "/v1/whoami"}
	for name, f := range map[string]storeFlags{
		"serve --access-max-age forever --access-rollup-max-age forever": {retention: &keystore.Options{
			AuditMaxAge: keystore.DefaultAuditMaxAge, AccessMaxAge: -1, AccessRollupMaxAge: -1}},
		"keys list": {},
	} {
		t.Run(name, func(t *testing.T) {
			f.db = filepath.Join(t.TempDir(), "keyportal.db")
			c := newCLI(strings.NewReader(""), io.Discard, io.Discard, func(string) string { return "" })
			c.now = clock.Now
			ctx := context.Background()
			s, err := f.open(ctx, c, true)
			if err != nil {
				t.Fatal(err)
			}
			defer closeStore(s)
			if err := s.(audit.AccessWriter).WriteAccess(ctx, []audit.Access{old}, nil); err != nil {
				t.Fatal(err)
			}
			n, err := s.(interface {
				PruneAccess(context.Context) (int64, error)
			}).PruneAccess(ctx)
			if err != nil || n != 0 {
				t.Errorf("PruneAccess deleted %d rows (err %v) of a 500-day-old verification; want none", n, err)
			}
		})
	}
}
