package testenv

import (
	"testing"
	"time"
)

// CPUClock counts the CPU time, user and system, the whole process spends
// from StartCPU on: a benchmark's own goroutines, its in-process servers
// and background writers together. On a machine shared with other work it
// is steadier than wall-clock ns/op, and it counts what parallel callers
// hide from ns/op.
type CPUClock struct {
	start time.Duration
	ok    bool
}

// StartCPU starts a CPUClock; call it right before the timed loop.
func StartCPU() CPUClock {
	start, ok := processCPU()
	return CPUClock{start: start, ok: ok}
}

// Report adds cpu-ns/op to b: the CPU time since StartCPU divided by ops
// (usually b.N). Where the platform cannot tell CPU time it adds nothing.
func (c CPUClock) Report(b *testing.B, ops int) {
	end, ok := processCPU()
	if !c.ok || !ok || ops <= 0 {
		return
	}
	b.ReportMetric(float64(end-c.start)/float64(ops), "cpu-ns/op")
}
