//go:build !linux

package verifier

import "time"

// threadTime is not available here: benchmarks report wall time only.
func threadTime() (time.Duration, bool) { return 0, false }
