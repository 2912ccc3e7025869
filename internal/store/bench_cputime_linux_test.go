//go:build linux

package store_test

import (
	"time"

	"golang.org/x/sys/unix"
)

// processCPU returns the CPU time the whole process has used (garbage
// collection and, in the HTTP benchmarks, the client side included), so
// that a benchmark on a busy machine reports work, not waiting.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
