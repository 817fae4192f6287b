package testenv

import "testing"

// ListedOnce checks one listing followed across its pages, while the list
// changed between them: seen counts how often each id came. Every id of
// before (what was there when the listing began, and still is) must have
// come exactly once, and no id more than once.
func ListedOnce(t testing.TB, before []string, seen map[string]int) {
	t.Helper()
	for _, id := range before {
		if seen[id] != 1 {
			t.Errorf("%s listed %d times, want once", id, seen[id])
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s listed %d times", id, n)
		}
	}
}
