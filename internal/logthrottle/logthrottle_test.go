package logthrottle

import (
	"strconv"
	"testing"
	"time"
)

func TestAllowPerIP(t *testing.T) {
	th := New(1, 3, 1000, 0)
	now := time.Unix(1000, 0)
	got := 0
	for range 100 {
		if th.Allow("198.51.100.7", now) {
			got++
		}
	}
	if got != 3 {
		t.Fatalf("one IP, one instant: %d lines allowed, want the burst 3", got)
	}
	if !th.Allow("198.51.100.8", now) {
		t.Fatal("another IP was throttled by the first one's flood")
	}
	if !th.Allow("198.51.100.7", now.Add(time.Second)) {
		t.Fatal("a second later the IP got no line")
	}
}

func TestAllowTotalAndBound(t *testing.T) {
	th := New(1, 1, 10, 100)
	now := time.Unix(1000, 0)
	got := 0
	for i := range 10_000 {
		if th.Allow("ip"+strconv.Itoa(i), now) {
			got++
		}
	}
	if got != 10 {
		t.Fatalf("10,000 IPs at one instant: %d lines allowed, want the total cap 10", got)
	}
	if n := th.Len(); n > 100 {
		t.Fatalf("table holds %d IPs, want at most 100", n)
	}
}
