package audit

import "testing"

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		part, whole int64
		want        float64
	}{{0, 0, 0}, {3, 3, 100}, {1, 3, 33.33}, {2, 3, 66.66}, {0, 7, 0}} {
		if got := Percent(tc.part, tc.whole); got != tc.want {
			t.Errorf("Percent(%d, %d) = %v, want %v", tc.part, tc.whole, got, tc.want)
		}
	}
}
