package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyportal/keyportal/internal/testenv"
)

func newClock() *testenv.Clock { return testenv.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

func TestBucketsBurstThenRate(t *testing.T) {
	clock := newClock()
	b := NewBuckets(30, 10)
	for i := range 10 {
		if ok, _ := b.Allow("alice", clock.Now()); !ok {
			t.Fatalf("event %d of the burst refused", i+1)
		}
	}
	ok, wait := b.Allow("alice", clock.Now())
	if ok || wait != 2*time.Second {
		t.Fatalf("11th event: ok=%v wait=%v, want refused for 2s (30 a minute)", ok, wait)
	}
	if ok, _ := b.Allow("bob", clock.Now()); !ok {
		t.Fatal("another key is limited too")
	}
	clock.Advance(2 * time.Second)
	if ok, _ := b.Allow("alice", clock.Now()); !ok {
		t.Fatal("refused after the wait it named")
	}
}

func TestBucketsEvictIdle(t *testing.T) {
	clock := newClock()
	b := NewBuckets(10, 5)
	for i := range 1000 {
		b.Allow(fmt.Sprint("user-", i), clock.Now())
	}
	if n := b.Len(); n != 1000 {
		t.Fatalf("Len = %d, want 1000", n)
	}
	// One user stays active; the others go idle.
	for range 3 {
		clock.Advance(b.period)
		b.Allow("user-7", clock.Now())
	}
	if n := b.Len(); n != 1 {
		t.Errorf("after idle periods Len = %d, want 1 (the active user)", n)
	}
}

func TestBucketsForgetOnlyFullBuckets(t *testing.T) {
	clock := newClock()
	b := NewBuckets(10, 5)
	for range 5 {
		if ok, _ := b.Allow("alice", clock.Now()); !ok {
			t.Fatal("burst refused")
		}
	}
	// Rotations while alice's bucket refills must not hand her a new one
	// early: just before the period ends she is still limited.
	clock.Advance(b.period - time.Second)
	b.Allow("bob", clock.Now())
	clock.Advance(time.Second)
	b.Allow("bob", clock.Now()) // rotates: alice moves to the previous generation
	n := 0
	for {
		ok, _ := b.Allow("alice", clock.Now())
		if !ok {
			break
		}
		n++
	}
	if n != 5 {
		t.Errorf("after one full period alice got %d events, want a full bucket of 5", n)
	}
}

// TestBucketsConcurrent: with a frozen clock, each key gets exactly its
// burst however the calls interleave (run with -race).
func TestBucketsConcurrent(t *testing.T) {
	clock := newClock()
	b := NewBuckets(10, 3)
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for u := range 8 {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := fmt.Sprint("user-", u)
				for range 5 {
					if ok, _ := b.Allow(key, clock.Now()); ok {
						mu.Lock()
						got[key]++
						mu.Unlock()
					}
				}
			}()
		}
	}
	wg.Wait()
	for u := range 8 {
		if n := got[fmt.Sprint("user-", u)]; n != 3 {
			t.Errorf("user-%d got %d, want its burst of 3", u, n)
		}
	}
}

func TestCeilSeconds(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want int64
	}{
		{"zero is one", 0, 1},
		{"a millisecond is one", time.Millisecond, 1},
		{"exact", 6 * time.Second, 6},
		{"rounded up", 6*time.Second + 1, 7},
	}
	for _, tt := range tests {
		if got := CeilSeconds(tt.d); got != tt.want {
			t.Errorf("%s: CeilSeconds(%v) = %d, want %d", tt.name, tt.d, got, tt.want)
		}
	}
}
