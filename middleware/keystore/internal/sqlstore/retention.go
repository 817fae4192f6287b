package sqlstore

import (
	"context"
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
	cutoff := ns(s.now().Add(-s.auditMaxAge))
	q := `DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE occurred_at < ?
		ORDER BY occurred_at LIMIT ` + strconv.Itoa(pruneBatch) + s.d.SkipLocked + `)`
	var total int64
	for {
		n, err := s.b.Exec(ctx, q, cutoff)
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

// StartPruning starts the background loop that calls PruneAudit: first
// after min(AuditPruneEvery, a minute), then every AuditPruneEvery. The
// drivers call it once the schema is migrated; Close stops it. It does
// nothing when AuditMaxAge is negative.
func (s *Store) StartPruning() {
	if s.auditMaxAge < 0 || s.stopPrune != nil {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stopPrune, s.pruneDone = stop, make(chan struct{})
	go func() {
		defer close(s.pruneDone)
		t := time.NewTimer(min(s.pruneEvery, time.Minute))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := s.PruneAudit(ctx); err != nil && ctx.Err() == nil && s.onPruneError != nil {
				s.onPruneError(err)
			}
			t.Reset(s.pruneEvery)
		}
	}()
}

// stopPruning stops the loop StartPruning started and waits for it.
func (s *Store) stopPruning() {
	if s.stopPrune != nil {
		s.stopPrune()
		<-s.pruneDone
		s.stopPrune = nil
	}
}

// retention reads the retention options, with their defaults.
func retention(opts keystore.Options) (maxAge, every time.Duration) {
	maxAge, every = opts.AuditMaxAge, opts.AuditPruneEvery
	if maxAge == 0 {
		maxAge = keystore.DefaultAuditMaxAge
	}
	if every <= 0 {
		every = keystore.DefaultAuditPruneEvery
	}
	return maxAge, every
}
