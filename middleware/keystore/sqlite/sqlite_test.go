package sqlite

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/sqlstore"
	"github.com/keyportal/keyportal/middleware/keystore/internal/storetest"
)

// openAt opens the store at path for the test, which fails if it cannot;
// the store is closed when the test ends.
func openAt(t testing.TB, path string, opts keystore.Options) *SQLite {
	t.Helper()
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openSQLiteIn(dir string) storetest.Opener {
	return func(t *testing.T, opts keystore.Options) keystore.Store {
		t.Helper()
		return openAt(t, filepath.Join(dir, sqlstore.NewID("db_")+".sqlite"), opts)
	}
}

func TestSQLiteContract(t *testing.T) {
	dir := t.TempDir()
	seen := &storetest.Issued{}
	storetest.Run(t, openSQLiteIn(dir), seen)

	// After the whole suite, no issued secret or ticket id is in any
	// database file (main, -wal, -shm) in any form we can search for.
	values := seen.All()
	if filtered := flag.Lookup("test.run").Value.String(); len(values) < 20 && !strings.Contains(filtered, "/") {
		t.Fatalf("only %d secrets recorded; the check below would prove little", len(values))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) == 0 {
		t.Fatal("no database files found")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			if v != "" && bytes.Contains(data, []byte(v)) {
				t.Fatalf("%s contains an issued secret or ticket id", filepath.Base(f))
			}
		}
	}
}

func TestSQLiteMemoryContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, opts keystore.Options) keystore.Store {
		return openAt(t, ":memory:", opts)
	}, nil)
}

// TestSQLiteSecretsNotInFilesWhileOpen checks the WAL too, before any
// checkpoint folds it into the main file.
func TestSQLiteSecretsNotInFilesWhileOpen(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, filepath.Join(dir, "k.sqlite"), keystore.Options{})
	storetest.MustApp(t, s, "aa_42", "acme")
	var secrets []string
	for range 20 {
		k, secret := storetest.MustKey(t, s, "aa_42", "k", nil)
		secrets = append(secrets, secret, secret[len(k.KeyPrefix)+1:])
		_, rotated, err := s.RotateKey(context.Background(), "aa_42", k.ID, time.Hour, storetest.Alice)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, rotated, rotated[len(k.KeyPrefix)+1:])
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) < 2 {
		t.Fatalf("expected the WAL beside the database, found %v", files)
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, v := range secrets {
			if bytes.Contains(data, []byte(v)) {
				t.Fatalf("%s contains a secret", filepath.Base(f))
			}
		}
	}
}

func TestSQLiteSettingsAndMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.sqlite")
	s, err := Open(context.Background(), path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
	} {
		var got string
		if err := s.w.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil || got != tc.want {
			t.Errorf("PRAGMA %s = %q (%v), want %q", tc.pragma, got, err, tc.want)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	storetest.MustApp(t, s, "aa_42", "acme")
	// The foreign key is enforced.
	if _, err := s.w.ExecContext(ctx, `INSERT INTO api_keys (id, app_slug, tenant, name, key_prefix, key_suffix, hash,
		is_active, created_at, updated_at) VALUES ('key_x', 'aa_nope', 't', 'n', 'p', 's', 'h', 1, 0, 0)`); err == nil {
		t.Error("a key of a missing app was accepted")
	}
	s.Close()

	// Reopening migrates nothing twice and keeps the data.
	s, err = Open(context.Background(), path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var n, v int
	if err := s.r.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &v); err != nil || n != keystore.SchemaVersion || v != keystore.SchemaVersion {
		t.Fatalf("schema_migrations: %d rows, version %d, %v", n, v, err)
	}
	if _, err := s.GetApp(ctx, "aa_42"); err != nil {
		t.Fatalf("data lost on reopen: %v", err)
	}
	// A database from a newer program is refused, not mangled.
	if _, err := s.w.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)`, keystore.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(context.Background(), path, keystore.Options{}); err == nil {
		t.Fatal("opened a database with a newer schema")
	}
}

// TestSQLiteCreatesMissingDirectory: a first start with a path such as
// "data/x.db" creates the directory, private like the file, and a directory
// that cannot be made is an error naming the path.
func TestSQLiteCreatesMissingDirectory(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	s, err := Open(context.Background(), filepath.Join("data", "nested", "x.db"), keystore.Options{})
	if err != nil {
		t.Fatalf("open in a missing directory: %v", err)
	}
	storetest.MustApp(t, s, "aa_42", "acme")
	s.Close()
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{"data", 0o700}, {"data/nested", 0o700}, {"data/nested/x.db", 0o600}} {
		if fi, err := os.Stat(filepath.Join(root, f.path)); err != nil || fi.Mode().Perm() != f.mode {
			t.Errorf("%s: %v; want mode %v", f.path, err, f.mode)
		}
	}
	if err := os.WriteFile("not-a-dir", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), filepath.Join("not-a-dir", "x.db"), keystore.Options{})
	if err == nil || !strings.Contains(err.Error(), "not-a-dir") {
		t.Fatalf("open under a regular file: %v, want an error naming the path", err)
	}
}

// TestSQLiteTwoStoresOneFile: a server and the CLI open the same file; they
// migrate it once and share its state (a ticket used by one is used for both).
func TestSQLiteTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.sqlite")
	var a, b *SQLite
	var errA, errB error
	done := make(chan struct{})
	go func() { a, errA = Open(context.Background(), path, keystore.Options{}); close(done) }()
	b, errB = Open(context.Background(), path, keystore.Options{})
	<-done
	if errA != nil || errB != nil {
		t.Fatalf("concurrent opens: %v / %v", errA, errB)
	}
	defer a.Close()
	defer b.Close()
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	if err := a.ConsumeTicket(ctx, "tkt_1", exp); err != nil {
		t.Fatal(err)
	}
	storetest.WantErr(t, "replay through the other store", b.ConsumeTicket(ctx, "tkt_1", exp), keystore.ErrTicketUsed)
	storetest.MustApp(t, a, "aa_42", "acme")
	k, secret := storetest.MustKey(t, a, "aa_42", "k", nil)
	if got, _, err := b.LookupKey(ctx, keystore.HashSecret(secret)); err != nil || got.ID != k.ID {
		t.Fatalf("key made through one store not seen by the other: %v", err)
	}
}
