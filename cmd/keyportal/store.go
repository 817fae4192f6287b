package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/keystore/postgres"
	"github.com/keyportal/keyportal/middleware/keystore/sqlite"
	"github.com/keyportal/keyportal/middleware/wacht"
)

// defaultDB is the SQLite file used when neither --db nor KEYPORTAL_DB says.
const defaultDB = "keyportal-data/keyportal.db"

// cliActor is who the audit trail says made a change from this command.
var cliActor = keystore.Actor{Name: "cli"}

// storeFlags are --db, --postgres and --postgres-schema; maxActiveKeys is
// serve's --max-active-keys (0 elsewhere: the store's default).
type storeFlags struct {
	db, postgres, schema string
	maxActiveKeys        int
	// retention holds the store's keystore.Options retention, set by serve
	// (--audit-max-age, --access-max-age, --access-rollup-max-age); nil,
	// for every other command, prunes nothing, so that a long command
	// never prunes by another age than the server's.
	retention *keystore.Options
}

func (f *storeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.db, "db", "", "SQLite file of the key store (env KEYPORTAL_DB; default "+defaultDB+")")
	cmd.Flags().StringVar(&f.postgres, "postgres", "", "Postgres DSN of the key store, instead of SQLite (env KEYPORTAL_POSTGRES_DSN)")
	cmd.Flags().StringVar(&f.schema, "postgres-schema", "", "Postgres schema of the key store, created if missing (env KEYPORTAL_POSTGRES_SCHEMA; default the DSN's search_path)")
	_ = cmd.MarkFlagFilename("db", "db", "sqlite")
}

// resolve says which store the flags and environment select: a flag
// before the environment, Postgres before SQLite.
func (f *storeFlags) resolve(c *cli) (kind, where string) {
	switch {
	case f.postgres != "":
		return "postgres", f.postgres
	case f.db != "":
		return "sqlite", f.db
	case c.getenv("KEYPORTAL_POSTGRES_DSN") != "":
		return "postgres", c.getenv("KEYPORTAL_POSTGRES_DSN")
	case c.getenv("KEYPORTAL_DB") != "":
		return "sqlite", c.getenv("KEYPORTAL_DB")
	}
	return "sqlite", defaultDB
}

// oneStore refuses --db with --postgres, which name two stores.
func (f *storeFlags) oneStore() error {
	if f.db != "" && f.postgres != "" {
		return failf("Keep one: --db for a SQLite file, --postgres for Postgres.", "give --db or --postgres, not both")
	}
	return nil
}

// open opens the selected store (after oneStore). Unless create is set, a
// SQLite file must already exist: reading an empty new store would only
// hide a wrong path. (sqlite.Open creates a missing directory, private.)
func (f *storeFlags) open(ctx context.Context, c *cli, create bool) (keystore.Store, error) {
	if err := f.oneStore(); err != nil {
		return nil, err
	}
	opts := keystore.Options{Now: c.now, MaxActiveKeys: f.maxActiveKeys, AuditMaxAge: -1, AccessMaxAge: -1, AccessRollupMaxAge: -1}
	if r := f.retention; r != nil {
		opts.AuditMaxAge, opts.AccessMaxAge, opts.AccessRollupMaxAge, opts.OnPruneError = r.AuditMaxAge, r.AccessMaxAge, r.AccessRollupMaxAge, r.OnPruneError
	}
	kind, where := f.resolve(c)
	if kind == "postgres" {
		opts.Schema = f.schema
		if opts.Schema == "" {
			opts.Schema = c.getenv("KEYPORTAL_POSTGRES_SCHEMA")
		}
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		s, err := postgres.Open(ctx, where, opts)
		if err != nil {
			return nil, failf("Check the DSN given to --postgres or KEYPORTAL_POSTGRES_DSN, and that Postgres is up.", "cannot open the Postgres key store: %v", err)
		}
		return s, nil
	}
	if !create {
		if _, err := os.Stat(where); errors.Is(err, os.ErrNotExist) {
			return nil, failf("Pass --db with the file 'keyportal serve' uses (or set KEYPORTAL_DB), or create an app first with 'keyportal apps create'.",
				"no key store at %s", where)
		}
	}
	s, err := sqlite.Open(ctx, where, opts)
	if err != nil {
		return nil, failf("Check the path given to --db or KEYPORTAL_DB, and that no other program locks it.", "cannot open the SQLite key store: %v", err)
	}
	return s, nil
}

// wachtFlags select Wacht's API instead of the local store.
type wachtFlags struct {
	on      bool
	baseURL string
}

func (f *wachtFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.on, "wacht", false, "use Wacht's backend API (WACHT_BACKEND_API_KEY) instead of the local store")
	cmd.Flags().StringVar(&f.baseURL, "wacht-url", "", "Wacht API base URL (env WACHT_BASE_URL; default https://api.wacht.dev)")
}

func (f *wachtFlags) client(c *cli) (*wacht.Client, error) {
	key := c.getenv("WACHT_BACKEND_API_KEY")
	if key == "" {
		return nil, failf("Export WACHT_BACKEND_API_KEY with a backend API key from the Wacht dashboard (or from 'keyportal serve' for the self-hosted portal).",
			"--wacht needs WACHT_BACKEND_API_KEY")
	}
	base := f.baseURL
	if base == "" {
		base = c.getenv("WACHT_BASE_URL")
	}
	cl, err := wacht.New(wacht.Config{APIKey: key, BaseURL: base})
	if err != nil {
		return nil, failf("Check WACHT_BASE_URL / --wacht-url: an http(s) URL such as https://api.wacht.dev.", "%v", err)
	}
	return cl, nil
}

// sourceFlags select where a command finds apps and keys: the local key
// store (--db, --postgres), or Wacht's API with --wacht.
type sourceFlags struct {
	store storeFlags
	wacht wachtFlags
}

func (f *sourceFlags) add(cmd *cobra.Command) {
	f.store.add(cmd)
	f.wacht.add(cmd)
}

// use calls atWacht with a Wacht client when --wacht is set, else local with
// the selected store (opened as storeFlags.open does with create), and
// closes the store when local returns.
func (f *sourceFlags) use(ctx context.Context, c *cli, create bool, atWacht func(*wacht.Client) error, local func(keystore.Store) error) error {
	if f.wacht.on {
		cl, err := f.wacht.client(c)
		if err != nil {
			return err
		}
		return atWacht(cl)
	}
	s, err := f.store.open(ctx, c, create)
	if err != nil {
		return err
	}
	defer closeStore(s)
	return local(s)
}

// storeError explains a keystore error and what to do about it.
func storeError(err error, what string) error {
	switch {
	case errors.Is(err, keystore.ErrNotFound):
		return refusedf("List what exists with 'keyportal apps list' or 'keyportal keys list'.", "%s: not found", what)
	case errors.Is(err, keystore.ErrConflict):
		return refusedf("Pick another slug, or look at it with 'keyportal apps get'.", "%s: already exists", what)
	case errors.Is(err, keystore.ErrInactive):
		return refusedf("Nothing to do; see its state with 'keyportal keys list --status all' or 'keyportal apps get'.", "%s: already inactive (revoked, disabled or deleted)", what)
	case errors.Is(err, keystore.ErrInvalid):
		return refusedf("Fix the value and run the command again.", "%s: %v", what, err)
	case errors.Is(err, wacht.ErrNotFound):
		return refusedf("List what exists with 'keyportal apps list --wacht'.", "%s: not found at Wacht", what)
	case errors.Is(err, wacht.ErrConflict):
		return refusedf("Pick another slug, or look at it with 'keyportal apps get --wacht'.", "%s: already exists at Wacht", what)
	case errors.Is(err, wacht.ErrUnauthorized):
		return failf("Check WACHT_BACKEND_API_KEY: Wacht refused it.", "%s: %v", what, err)
	case errors.Is(err, wacht.ErrBadRequest):
		return refusedf("Fix the value and run the command again.", "%s: %v", what, err)
	}
	return failf("Check the store or API is reachable, then retry.", "%s: %v", what, err)
}

// closeStore closes s, reporting nothing: the command's own result matters.
func closeStore(s keystore.Store) { _ = s.Close() }
