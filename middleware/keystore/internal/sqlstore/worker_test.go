package sqlstore

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestWorkerEvery: the calls come until Stop, and none after it returns.
func TestWorkerEvery(t *testing.T) {
	var calls atomic.Int64
	third := make(chan struct{})
	w := StartWorker(func(ctx context.Context) {
		Every(ctx, 0, time.Millisecond, func(context.Context) {
			if calls.Add(1) == 3 {
				close(third)
			}
		})
	})
	select {
	case <-third:
	case <-time.After(10 * time.Second):
		t.Fatal("Every did not call fn three times")
	}
	w.Stop()
	n := calls.Load()
	time.Sleep(20 * time.Millisecond)
	if calls.Load() != n {
		t.Fatal("fn was called after Stop returned")
	}
	var none *Worker
	none.Stop() // a nil Worker is stopped already
}
