//go:build !unix

package testenv

import "time"

// processCPU cannot tell CPU time on this platform.
func processCPU() (time.Duration, bool) { return 0, false }
