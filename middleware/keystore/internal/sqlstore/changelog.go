package sqlstore

import (
	"context"

	"github.com/keyportal/keyportal/middleware/keystore"
)

// The change log lets processes that share a database but cannot notify
// each other (SQLite) hear each other's key and app changes. With
// Dialect.ChangeLog, write appends every change to the table changes in the
// change's own transaction, so a row exists exactly when its change
// committed; each process reads the rows past the last one it saw
// (ChangesSince), skips its own and hands the rest to its subscribers, as
// the Postgres feed does with its notifications. A row is a
// keystore.Change plus seq (the commit order: write transactions are
// exclusive), src (the store that made it) and at (when, unix ns).

// ChangeLogKeep is how many rows the change log keeps: each write that
// logs a change deletes the rows older than the last ChangeLogKeep. A reader
// that fell further behind (a process paused for long) is told to drop
// everything.
const ChangeLogKeep = 10_000

// changeReadMax bounds the rows one ChangesSince reads; a reader further
// behind is told to drop everything instead of being handed each change.
const changeReadMax = 1000

// logChanges appends changes to the log in tx and prunes it.
func (s *Store) logChanges(ctx context.Context, tx Querier, changes []keystore.Change) error {
	at := ns(s.now())
	for _, c := range changes {
		if _, err := tx.Exec(ctx, `INSERT INTO changes (src, app_slug, key_hash, at) VALUES (?, ?, ?, ?)`,
			s.instance, c.AppSlug, c.KeyHash, at); err != nil {
			return dbErr(err)
		}
	}
	_, err := tx.Exec(ctx, `DELETE FROM changes WHERE seq <= (SELECT MAX(seq) FROM changes) - ?`, ChangeLogKeep)
	return dbErr(err)
}

// LastChange returns the seq of the latest logged change (0 for none): where
// a new reader of the log starts.
func (s *Store) LastChange(ctx context.Context, q Querier) (int64, error) {
	var seq int64
	err := q.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM changes`).Scan(&seq)
	return seq, dbErr(err)
}

// ChangesSince reads, on q, the changes logged after seq by other stores, in
// commit order, and returns them with the seq to pass next time. When the
// rows right after seq are gone (pruned) or more than changeReadMax are
// waiting, it returns the one Change{} instead: anything may have changed.
func (s *Store) ChangesSince(ctx context.Context, q Querier, seq int64) ([]keystore.Change, int64, error) {
	r, err := q.Query(ctx, `SELECT seq, src, app_slug, key_hash FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`,
		seq, changeReadMax+1)
	if err != nil {
		return nil, seq, dbErr(err)
	}
	defer r.Close()
	var changes []keystore.Change
	next, n, gap := seq, 0, false
	for r.Next() {
		var row int64
		var src string
		var c keystore.Change
		if err := r.Scan(&row, &src, &c.AppSlug, &c.KeyHash); err != nil {
			return nil, seq, dbErr(err)
		}
		if n == 0 && row != seq+1 {
			gap = true
		}
		n++
		next = row
		if src != s.instance {
			changes = append(changes, c)
		}
	}
	if err := r.Err(); err != nil {
		return nil, seq, dbErr(err)
	}
	r.Close()
	if !gap && n <= changeReadMax {
		return changes, next, nil
	}
	last, err := s.LastChange(ctx, q)
	if err != nil {
		return nil, seq, err
	}
	return []keystore.Change{{}}, last, nil
}
