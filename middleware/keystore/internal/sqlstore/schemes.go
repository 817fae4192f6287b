package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keyportal/keyportal/middleware/keystore"
	"github.com/keyportal/keyportal/middleware/ratelimit"
)

// Rate-limit schemes. A scheme change reaches subscribers as Change{}
// (drop everything): verified-key caches hold each app's compiled rules,
// and a scheme may be named by any number of apps. Schemes change rarely;
// the next request of each key reads the store once.
//
// Whether an app may name a scheme is decided in the app's transaction,
// with the scheme's row locked (ShareRow), and DeleteScheme locks the row
// (LockRow) before it looks for apps naming it: of a concurrent create or
// update of an app and a delete of its scheme, one waits for the other, so
// no app is left naming a scheme that is gone.

const schemeCols = `slug, id, deployment_id, name, description, rules, created_at, updated_at`

type schemeScan struct {
	s                keystore.Scheme
	rules            string
	created, updated int64
}

func (s *schemeScan) dest() []any {
	x := &s.s
	return []any{&x.Slug, &x.ID, &x.DeploymentID, &x.Name, &x.Description, &s.rules, &s.created, &s.updated}
}

func (s *schemeScan) value() (keystore.Scheme, error) {
	x := s.s
	if err := decodeRules(s.rules, &x.Rules); err != nil {
		return keystore.Scheme{}, err
	}
	x.CreatedAt, x.UpdatedAt = fromNS(s.created), fromNS(s.updated)
	return x, nil
}

func encodeRules(r []ratelimit.SchemeRule) string {
	if r == nil {
		r = []ratelimit.SchemeRule{}
	}
	b, _ := json.Marshal(r) // plain fields always encode
	return string(b)
}

func decodeRules(s string, into *[]ratelimit.SchemeRule) error {
	*into = []ratelimit.SchemeRule{}
	if err := json.Unmarshal([]byte(s), into); err != nil {
		return fmt.Errorf("keystore: corrupt rules column %q: %w", s, err)
	}
	return nil
}

// sameRule reports whether two rules are equal.
func sameRule(a, b ratelimit.SchemeRule) bool {
	return a.Unit == b.Unit && a.Duration == b.Duration && a.MaxRequests == b.MaxRequests &&
		a.Mode == b.Mode && a.Priority == b.Priority && slices.Equal(a.Endpoints, b.Endpoints)
}

// validRules is ratelimit.ValidateRules as ErrInvalid.
func validRules(field string, rules []ratelimit.SchemeRule) error {
	if err := ratelimit.ValidateRules(field, rules); err != nil {
		return invalid("%s", strings.TrimPrefix(err.Error(), ratelimit.ErrBadRule.Error()+": "))
	}
	return nil
}

func validScheme(x *keystore.Scheme, create bool) error {
	if create && !slugRE.MatchString(x.Slug) {
		return invalid("slug %q must be 1-64 characters of a-z, 0-9, _ and -", x.Slug)
	}
	if err := validName("name", x.Name); err != nil {
		return err
	}
	if err := validLines("description", x.Description, maxDescriptionLen); err != nil {
		return err
	}
	return validRules("rules", x.Rules)
}

func (s *Store) getScheme(ctx context.Context, q Querier, slug, lock string) (keystore.Scheme, error) {
	notFound := fmt.Errorf("%w: rate-limit scheme %q", keystore.ErrNotFound, slug)
	if !slugRE.MatchString(slug) {
		return keystore.Scheme{}, notFound
	}
	return getRow[keystore.Scheme, schemeScan](ctx, q, notFound, `SELECT `+schemeCols+` FROM rate_limit_schemes WHERE slug = ?`+lock, slug)
}

// schemeExists checks, in tx, that an app may name slug: "" (none) or an
// existing scheme, whose row it locks against a concurrent delete.
func (s *Store) schemeExists(ctx context.Context, tx Querier, slug string) error {
	if slug == "" {
		return nil
	}
	_, err := s.getScheme(ctx, tx, slug, s.d.ShareRow)
	if errors.Is(err, keystore.ErrNotFound) {
		return invalid("rate_limit_scheme_slug %q names no rate-limit scheme", slug)
	}
	return err
}

// CreateScheme stores a new scheme; ErrConflict if the slug is taken.
func (s *Store) CreateScheme(ctx context.Context, x keystore.Scheme) (keystore.Scheme, error) {
	if x.Rules == nil {
		x.Rules = []ratelimit.SchemeRule{}
	}
	if err := validScheme(&x, true); err != nil {
		return keystore.Scheme{}, err
	}
	now := s.now()
	x.ID, x.DeploymentID, x.CreatedAt, x.UpdatedAt = NewID("rls_"), "", now.UTC(), now.UTC()
	err := s.write(ctx, func(tx Querier) ([]keystore.Change, error) {
		n, err := tx.Exec(ctx, `INSERT INTO rate_limit_schemes (`+schemeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (slug) DO NOTHING`,
			x.Slug, x.ID, x.DeploymentID, x.Name, x.Description, encodeRules(x.Rules), ns(now), ns(now))
		if err != nil {
			return nil, dbErr(err)
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: rate-limit scheme %q", keystore.ErrConflict, x.Slug)
		}
		// An app created before may name this slug already.
		return []keystore.Change{{}}, nil
	})
	if err != nil {
		return keystore.Scheme{}, err
	}
	return x, nil
}

// GetScheme returns the scheme; ErrNotFound if there is none.
func (s *Store) GetScheme(ctx context.Context, slug string) (keystore.Scheme, error) {
	return s.getScheme(ctx, s.b, slug, "")
}

// ListSchemes returns every scheme, oldest first.
func (s *Store) ListSchemes(ctx context.Context) ([]keystore.Scheme, error) {
	return queryAll(ctx, s.b, `SELECT `+schemeCols+` FROM rate_limit_schemes ORDER BY created_at, slug`, nil,
		scanRow[keystore.Scheme, schemeScan])
}

// UpdateScheme applies p; ErrNotFound for an unknown scheme.
func (s *Store) UpdateScheme(ctx context.Context, slug string, p keystore.SchemePatch) (keystore.Scheme, error) {
	var out keystore.Scheme
	err := s.write(ctx, func(tx Querier) ([]keystore.Change, error) {
		x, err := s.getScheme(ctx, tx, slug, s.d.LockRow)
		if err != nil {
			return nil, err
		}
		if p.Name != nil {
			x.Name = *p.Name
		}
		if p.Description != nil {
			x.Description = *p.Description
		}
		if p.Rules != nil {
			x.Rules = append([]ratelimit.SchemeRule{}, *p.Rules...)
		}
		if err := validScheme(&x, false); err != nil {
			return nil, err
		}
		now := s.now()
		x.UpdatedAt = now.UTC()
		if _, err := tx.Exec(ctx, `UPDATE rate_limit_schemes SET name = ?, description = ?, rules = ?, updated_at = ?
			WHERE slug = ?`, x.Name, x.Description, encodeRules(x.Rules), ns(now), slug); err != nil {
			return nil, dbErr(err)
		}
		out = x
		return []keystore.Change{{}}, nil
	})
	return out, err
}

// maxInUseNamed bounds the apps a SchemeInUseError names.
const maxInUseNamed = 5

// DeleteScheme deletes the scheme unless an app that is not deleted names
// it (a *keystore.SchemeInUseError).
func (s *Store) DeleteScheme(ctx context.Context, slug string) error {
	return s.write(ctx, func(tx Querier) ([]keystore.Change, error) {
		if _, err := s.getScheme(ctx, tx, slug, s.d.LockRow); err != nil {
			return nil, err
		}
		apps, err := queryAll(ctx, tx, `SELECT slug FROM apps WHERE rate_limit_scheme_slug = ? AND deleted_at IS NULL
			ORDER BY slug LIMIT ?`, []any{slug, maxInUseNamed}, func(r Row) (string, error) {
			var a string
			return a, dbErr(r.Scan(&a))
		})
		if err != nil {
			return nil, err
		}
		if len(apps) > 0 {
			return nil, &keystore.SchemeInUseError{Slug: slug, Apps: apps}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM rate_limit_schemes WHERE slug = ?`, slug); err != nil {
			return nil, dbErr(err)
		}
		return []keystore.Change{{}}, nil
	})
}
