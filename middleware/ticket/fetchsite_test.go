package ticket

import (
	"fmt"
	"testing"
)

func TestSameOriginFetch(t *testing.T) {
	for value, want := range map[string]bool{
		"":             true, // no Fetch Metadata
		"same-origin":  true,
		"none":         true, // typed, bookmarked, opened from outside the browser
		"same-site":    false,
		"cross-site":   false,
		"Same-Origin":  false, // browsers send lower case; anything else is unknown
		"same-origin ": false,
		"other":        false,
	} {
		if got := SameOriginFetch(value); got != want {
			t.Errorf("SameOriginFetch(%q) = %v, want %v", value, got, want)
		}
	}
}

func ExampleSameOriginFetch() {
	for _, v := range []string{"same-origin", "none", "", "same-site", "cross-site"} {
		fmt.Printf("%q: %v\n", v, SameOriginFetch(v))
	}
	// Output:
	// "same-origin": true
	// "none": true
	// "": true
	// "same-site": false
	// "cross-site": false
}
