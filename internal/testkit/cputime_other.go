//go:build !linux

package testkit

import "time"

var cpuStart = time.Now()

// ProcessCPU falls back to wall time where process CPU time is not
// available.
func ProcessCPU() time.Duration { return time.Since(cpuStart) }

// ThreadCPU falls back to wall time where thread CPU time is not available.
func ThreadCPU() time.Duration { return time.Since(cpuStart) }

// LockThread does nothing where ThreadCPU is wall time.
func LockThread() func() { return func() {} }
