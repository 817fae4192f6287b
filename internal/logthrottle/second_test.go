package logthrottle

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestSecondLetsOneLineThrough: many goroutines failing at once log once.
func TestSecondLetsOneLineThrough(t *testing.T) {
	var s Second
	var n atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if s.Allow() {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if got := n.Load(); got != 1 {
		t.Fatalf("%d lines let through within a second, want 1", got)
	}
	s.last.Add(-int64(2e9)) // as if that line were two seconds old
	if !s.Allow() {
		t.Fatal("no line let through a second after the last")
	}
}
