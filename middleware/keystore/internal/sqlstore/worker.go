package sqlstore

import (
	"context"
	"time"
)

// Worker is a background goroutine of a store (the audit pruning, a change
// feed) that runs until Stop.
type Worker struct {
	stop context.CancelFunc
	done chan struct{}
}

// StartWorker runs fn in a goroutine of its own; fn must return once its
// ctx is done, which Stop cancels.
func StartWorker(fn func(ctx context.Context)) *Worker {
	ctx, stop := context.WithCancel(context.Background())
	w := &Worker{stop: stop, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		fn(ctx)
	}()
	return w
}

// Stop cancels the worker and waits for it to return. A nil Worker is
// stopped already.
func (w *Worker) Stop() {
	if w == nil {
		return
	}
	w.stop()
	<-w.done
}

// Every calls fn first after first, then every interval after the previous
// call returned, until ctx is done.
func Every(ctx context.Context, first, every time.Duration, fn func(ctx context.Context)) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn(ctx)
		t.Reset(every)
	}
}
