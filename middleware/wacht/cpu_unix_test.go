//go:build unix

package wacht

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the test process has used:
// client and in-process server together.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
