package sqlstore

import (
	"regexp"
	"testing"

	"github.com/keyportal/keyportal/middleware/keystore"
)

func TestNewSecretAndIDs(t *testing.T) {
	secretRE := regexp.MustCompile(`^acme_[A-Za-z0-9_-]{43}$`)
	keyIDRE := regexp.MustCompile(`^key_[a-z2-7]{26}$`)
	seen := map[string]bool{}
	for range 1000 {
		s := newSecret("acme")
		id := NewID("key_")
		if !secretRE.MatchString(s) || !keyIDRE.MatchString(id) || seen[s] || seen[id] {
			t.Fatalf("bad or repeated secret %q / id %q", s, id)
		}
		// A verifier's shape check lets every secret the store makes through.
		if !keystore.WellFormedSecret(s) || !keystore.WellFormedSecret(newSecret("acme_live")) {
			t.Fatalf("WellFormedSecret refuses the generated %q", s)
		}
		seen[s], seen[id] = true, true
	}
	if !isHexHash(keystore.HashSecret("acme_x")) || isHexHash("ABC") {
		t.Fatal("isHexHash does not recognize HashSecret's form")
	}
}

// TestMigrationsEndAtSchemaVersion: the versions count 1, 2, ... up to
// keystore.SchemaVersion, which a database's row count then also equals.
func TestMigrationsEndAtSchemaVersion(t *testing.T) {
	for i, m := range migrations {
		if m.version != i+1 {
			t.Fatalf("migration %d has version %d", i, m.version)
		}
	}
	if v := migrations[len(migrations)-1].version; v != keystore.SchemaVersion {
		t.Fatalf("last migration is version %d, keystore.SchemaVersion %d", v, keystore.SchemaVersion)
	}
}
