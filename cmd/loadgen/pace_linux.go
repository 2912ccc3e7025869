package main

import (
	"context"
	"runtime"
	"syscall"
	"time"
)

// newPacer locks the calling goroutine to its OS thread until release, so
// that the nanosleep in nap blocks only that thread.
func newPacer() *pacer {
	runtime.LockOSThread()
	return &pacer{release: runtime.UnlockOSThread}
}

// nap sleeps d on this thread; an interrupted sleep returns early and the
// caller's loop sleeps again.
func (p *pacer) nap(_ context.Context, d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}
