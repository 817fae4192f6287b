package keystore

import "testing"

// TestSubscribers: each change reaches every function; a function may
// cancel itself while called; a second cancel does nothing.
func TestSubscribers(t *testing.T) {
	var s Subscribers
	var got []Change
	var cancelSelf func()
	cancelSelf = s.Subscribe(func(c Change) { cancelSelf() })
	cancel := s.Subscribe(func(c Change) { got = append(got, c) })
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2", s.Len())
	}
	s.Notify(Change{AppSlug: "a"}, Change{})
	if len(got) != 2 || got[0].AppSlug != "a" || got[1] != (Change{}) {
		t.Fatalf("got %v", got)
	}
	if s.Len() != 1 {
		t.Fatalf("after a self-cancel Len = %d, want 1", s.Len())
	}
	cancel()
	cancel()
	s.Notify(Change{AppSlug: "b"})
	if len(got) != 2 || s.Len() != 0 {
		t.Fatalf("after cancel: got %v, Len %d", got, s.Len())
	}
}
