package main

import (
	"testing"
	"time"
)

func TestAuditMaxAgeFlag(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"400d": 400 * 24 * time.Hour, "1d": 24 * time.Hour, "9600h": 9600 * time.Hour, "forever": -1,
	} {
		var a ageValue
		if err := a.Set(in); err != nil || time.Duration(a) != want {
			t.Errorf("Set(%q) = %v, %v; want %v", in, time.Duration(a), err, want)
		}
	}
	for _, in := range []string{"", "0d", "-3d", "x", "0", "-1h", "1.5d"} {
		var a ageValue
		if err := a.Set(in); err == nil {
			t.Errorf("Set(%q) accepted %v", in, time.Duration(a))
		}
	}
	a := ageValue(400 * 24 * time.Hour)
	if a.String() != "400d" {
		t.Errorf("String() = %q, want 400d", a.String())
	}
}
