//go:build linux

package testkit

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// ProcessCPU returns the CPU time the whole process has used (garbage
// collection and, in HTTP benchmarks, the client side included), so that a
// benchmark on a busy machine reports work, not waiting.
func ProcessCPU() time.Duration { return rusage(unix.RUSAGE_SELF) }

// ThreadCPU returns the CPU time the calling OS thread has used; the
// caller locks its goroutine to the thread (LockThread).
func ThreadCPU() time.Duration { return rusage(unix.RUSAGE_THREAD) }

// LockThread locks the calling goroutine to its OS thread and returns the
// unlock.
func LockThread() func() {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

func rusage(who int) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
