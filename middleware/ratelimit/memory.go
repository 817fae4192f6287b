package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Memory is the in-process Limiter: counts are kept per process, so N
// instances behind a load balancer admit up to N×Max. Its memory is bounded
// by the keys active in the last window: ended windows are swept as new
// requests arrive. The zero value is not usable; build it with NewMemory.
type Memory struct {
	now func() time.Time

	mu        sync.Mutex
	windows   map[string]*window
	nextSweep time.Time
}

type window struct {
	end   time.Time
	count int64
}

// NewMemory returns an in-process limiter reading the clock now; nil means
// time.Now.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, windows: make(map[string]*window)}
}

// sweepEvery is how often ended windows are dropped.
const sweepEvery = 10 * time.Second

// Allow counts one request of key against rule.
func (m *Memory) Allow(_ context.Context, key string, rule Rule) (Result, error) {
	if err := rule.Validate(); err != nil {
		return Result{}, err
	}
	now := m.now()
	k := rule.String() + "|" + key
	m.mu.Lock()
	defer m.mu.Unlock()
	if !now.Before(m.nextSweep) {
		for name, w := range m.windows {
			if !now.Before(w.end) {
				delete(m.windows, name)
			}
		}
		m.nextSweep = now.Add(sweepEvery)
	}
	w := m.windows[k]
	if w == nil || !now.Before(w.end) {
		w = &window{end: rule.windowEnd(now)}
		m.windows[k] = w
	}
	w.count++
	return rule.Result(w.count, w.end.Sub(now)), nil
}

// Len returns how many windows are held, to watch memory.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.windows)
}
