package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/keyportal/keyportal/middleware/keystore"
)

// pruneBatch is how many audit rows one DELETE removes at most, and
// pruneBatchPause the rest between two, so that pruning a large backlog
// never holds the (SQLite: only) write lock for long.
const (
	pruneBatch      = 1000
	pruneBatchPause = 10 * time.Millisecond
)

// PruneAudit deletes the audit events older than Options.AuditMaxAge (as
// of the store's clock), in batches of at most a thousand rows, each its own
// short statement, and returns how many it deleted. It does nothing when
// AuditMaxAge is negative. On Postgres, instances pruning at once skip the
// rows another is deleting (FOR UPDATE SKIP LOCKED) instead of waiting for
// them. The store calls it in the background every AuditPruneEvery.
func (s *Store) PruneAudit(ctx context.Context) (int64, error) {
	if s.auditMaxAge < 0 {
		return 0, nil
	}
	return s.pruneBatches(ctx, `DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE occurred_at < ?
		ORDER BY occurred_at LIMIT `+strconv.Itoa(pruneBatch)+s.d.SkipLocked+`)`, ns(s.now().Add(-s.auditMaxAge)))
}

// PruneAccess deletes the verification events older than
// Options.AccessMaxAge and the rollups older than AccessRollupMaxAge (as of
// the store's clock), in short batches as PruneAudit, and returns how many
// rows it deleted. A negative age keeps that table's rows.
func (s *Store) PruneAccess(ctx context.Context) (int64, error) {
	var total int64
	if s.accessMaxAge >= 0 {
		n, err := s.pruneBatches(ctx, `DELETE FROM access_events WHERE id IN (SELECT id FROM access_events
			WHERE occurred_at < ? ORDER BY occurred_at LIMIT `+strconv.Itoa(pruneBatch)+s.d.SkipLocked+`)`,
			ns(s.now().Add(-s.accessMaxAge)))
		total += n
		if err != nil {
			return total, err
		}
	}
	if s.rollupMaxAge >= 0 {
		// Rollups have no single-column key: delete them a minute at a
		// time from the oldest, each statement a bounded range.
		cutoff := ns(s.now().Add(-s.rollupMaxAge))
		for {
			var oldest sql.NullInt64
			if err := s.b.QueryRow(ctx, `SELECT MIN(minute) FROM access_rollups`).Scan(&oldest); err != nil {
				return total, dbErr(err)
			}
			if !oldest.Valid || oldest.Int64 >= cutoff {
				return total, nil
			}
			n, err := s.b.Exec(ctx, `DELETE FROM access_rollups WHERE minute < ?`, min(cutoff, oldest.Int64+int64(time.Hour)))
			total += n
			if err != nil {
				return total, dbErr(err)
			}
			select {
			case <-ctx.Done():
				return total, ctx.Err()
			case <-time.After(pruneBatchPause):
			}
		}
	}
	return total, nil
}

// pruneBatches runs the batched DELETE q (of at most pruneBatch rows) until
// one deletes fewer, pausing between them.
func (s *Store) pruneBatches(ctx context.Context, q string, args ...any) (int64, error) {
	var total int64
	for {
		n, err := s.b.Exec(ctx, q, args...)
		total += n
		if err != nil {
			return total, dbErr(err)
		}
		if n < pruneBatch {
			return total, nil
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(pruneBatchPause):
		}
	}
}

// StartPruning starts the background loop that calls PruneAudit and
// PruneAccess: first after min(AuditPruneEvery, a minute), then every
// AuditPruneEvery. The drivers call it once the schema is migrated; Close
// stops it. It does nothing when every retention is negative (keep
// forever).
func (s *Store) StartPruning() {
	if (s.auditMaxAge < 0 && s.accessMaxAge < 0 && s.rollupMaxAge < 0) || s.pruner != nil {
		return
	}
	s.pruner = StartWorker(func(ctx context.Context) {
		Every(ctx, min(s.pruneEvery, time.Minute), s.pruneEvery, s.pruneAll)
	})
}

// pruneAll runs PruneAudit and PruneAccess once, telling OnPruneError of
// their failures.
func (s *Store) pruneAll(ctx context.Context) {
	for _, prune := range []func(context.Context) (int64, error){s.PruneAudit, s.PruneAccess} {
		if _, err := prune(ctx); err != nil && ctx.Err() == nil && s.onPruneError != nil {
			s.onPruneError(err)
		}
	}
}

// stopPruning stops the loop StartPruning started and waits for it.
func (s *Store) stopPruning() {
	s.pruner.Stop()
	s.pruner = nil
}

// retention reads the retention options, with their defaults.
func retention(opts keystore.Options) (maxAge, every, access, rollups time.Duration) {
	maxAge, every, access, rollups = opts.AuditMaxAge, opts.AuditPruneEvery, opts.AccessMaxAge, opts.AccessRollupMaxAge
	if maxAge == 0 {
		maxAge = keystore.DefaultAuditMaxAge
	}
	if access == 0 {
		access = keystore.DefaultAccessMaxAge
	}
	if rollups == 0 {
		rollups = keystore.DefaultAccessRollupMaxAge
	}
	if every <= 0 {
		every = keystore.DefaultAuditPruneEvery
	}
	return maxAge, every, access, rollups
}
