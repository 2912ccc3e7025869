//go:build linux

package verifier

import (
	"time"

	"golang.org/x/sys/unix"
)

// threadTime is the CPU time of the calling OS thread (the caller locks
// its goroutine to it), so that a benchmark on a shared machine can count
// work apart from waiting for a core.
func threadTime() (time.Duration, bool) {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
