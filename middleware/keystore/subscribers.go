package keystore

import "sync"

// Subscribers is the set of functions a Store calls on every change (what
// Store.Subscribe adds to): the drivers keep one, and so can a fake store
// in a test. The zero value is ready; it is safe for concurrent use.
type Subscribers struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(Change)
}

// Subscribe adds fn; the returned function removes it, and does nothing
// when called again.
func (s *Subscribers) Subscribe(fn func(Change)) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fns == nil {
		s.fns = map[int]func(Change){}
	}
	id := s.next
	s.next++
	s.fns[id] = fn
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.fns, id)
			s.mu.Unlock()
		})
	}
}

// Notify calls every subscribed function with each change, in the calling
// goroutine and outside the lock (so a function may subscribe or cancel).
func (s *Subscribers) Notify(changes ...Change) {
	if len(changes) == 0 {
		return
	}
	s.mu.Lock()
	fns := make([]func(Change), 0, len(s.fns))
	for _, fn := range s.fns {
		fns = append(fns, fn)
	}
	s.mu.Unlock()
	for _, c := range changes {
		for _, fn := range fns {
			fn(c)
		}
	}
}

// Len returns how many functions are subscribed.
func (s *Subscribers) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.fns)
}
