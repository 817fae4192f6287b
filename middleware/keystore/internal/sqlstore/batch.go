package sqlstore

import (
	"context"
	"sync"

	"github.com/keyportal/keyportal/middleware/keystore"
)

// Group commit. Audit events and used tickets are small independent inserts
// that arrive concurrently (one per ticket request); committing each on its
// own costs an fsync apiece, which caps SQLite at about a thousand a second.
// Instead, callers queue their insert; the first caller leads and commits
// everything queued in one transaction, then hands the lead to the first
// caller that queued meanwhile. Every caller still returns only after its
// own insert has committed, and a lone caller pays no extra latency.

// batchOp is one queued insert. run returns the caller's own outcome (for
// example ErrTicketUsed), which does not affect the others, or a database
// error, which fails the whole batch.
type batchOp struct {
	run  func(ctx context.Context, tx Querier) (outcome, dbErr error)
	done chan error    // the outcome, after commit
	lead chan struct{} // closed when this caller must lead the next batch
}

type batcher struct {
	mu      sync.Mutex
	pending []*batchOp
	leading bool
}

// maxBatch bounds one transaction, so that a leader returns in bounded time.
const maxBatch = 512

func (s *Store) batched(ctx context.Context, run func(ctx context.Context, tx Querier) (error, error)) error {
	op := &batchOp{run: run, done: make(chan error, 1), lead: make(chan struct{})}
	b := &s.batch
	b.mu.Lock()
	b.pending = append(b.pending, op)
	lead := !b.leading
	b.leading = true
	b.mu.Unlock()
	if !lead {
		select {
		case err := <-op.done:
			return err
		case <-op.lead:
		case <-ctx.Done():
			// The caller stops waiting (a locked database must not hold
			// it past its deadline); its insert stays queued and may still
			// commit. Should the lead come to it, pass it on.
			go func() {
				select {
				case <-op.done:
				case <-op.lead:
					s.leadBatch(ctx)
				}
			}()
			return dbErr(ctx.Err())
		}
	}
	// Leading: commit what is queued (our op included) on a goroutine of
	// its own, so that the caller can leave at its deadline while the batch,
	// which carries other callers' inserts too, runs to its end.
	go s.leadBatch(ctx)
	select {
	case err := <-op.done:
		return err
	case <-ctx.Done():
		return dbErr(ctx.Err())
	}
}

// leadBatch commits what is queued, without the leader's cancellation, then
// passes the lead to the first caller that queued meanwhile.
func (s *Store) leadBatch(ctx context.Context) {
	b := &s.batch
	b.mu.Lock()
	n := min(len(b.pending), maxBatch)
	batch := b.pending[:n:n]
	b.pending = b.pending[n:]
	b.mu.Unlock()
	s.flush(context.WithoutCancel(ctx), batch)
	b.mu.Lock()
	if len(b.pending) > 0 {
		close(b.pending[0].lead)
	} else {
		b.leading = false
	}
	b.mu.Unlock()
}

func (s *Store) flush(ctx context.Context, batch []*batchOp) {
	outcomes := make([]error, len(batch))
	err := s.write(ctx, func(tx Querier) ([]keystore.Change, error) {
		for i, op := range batch {
			outcome, err := op.run(ctx, tx)
			if err != nil {
				return nil, err
			}
			outcomes[i] = outcome
		}
		return nil, nil
	})
	for i, op := range batch {
		if err != nil {
			op.done <- err
		} else {
			op.done <- outcomes[i]
		}
	}
}
