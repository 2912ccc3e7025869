//go:build !linux

package verifier_test

import "time"

var start = time.Now()

// threadCPU falls back to wall time where per-thread CPU time is not
// available.
func threadCPU() time.Duration { return time.Since(start) }

func lockThread() func() { return func() {} }

func processCPU() time.Duration { return time.Since(start) }
