package main

import (
	"log/slog"
	"os"
	"runtime"
)

// minServeProcs is the fewest processors (GOMAXPROCS) serve runs with.
// Admission control (internal/admission) can refuse only the requests it
// sees waiting. With one processor the goroutine that holds the verify
// class's slot computes on the only processor there is: the next requests
// wait in the kernel and the runtime's run queue, never in the class's
// queue, so nothing is shed and latency grows without bound past capacity
// (p99 over a second at twice the capacity of a server on one CPU). A
// second processor, even on one CPU, reads those requests and refuses them
// while the first computes.
const minServeProcs = 2

// ensureProcs raises GOMAXPROCS to minServeProcs when the runtime chose
// fewer (one CPU, or a CPU limit of one or less). A GOMAXPROCS set in the
// environment is the operator's choice and kept, with a warning when it is
// below the minimum. It returns the GOMAXPROCS serve runs with.
func ensureProcs(log *slog.Logger) int {
	n := runtime.GOMAXPROCS(0)
	if n >= minServeProcs {
		return n
	}
	if env := os.Getenv("GOMAXPROCS"); env != "" {
		log.Warn("GOMAXPROCS from the environment is below the minimum for load shedding: past capacity requests wait unseen instead of being refused",
			"gomaxprocs", n, "minimum", minServeProcs)
		return n
	}
	runtime.GOMAXPROCS(minServeProcs)
	log.Info("GOMAXPROCS raised so that admission control sees the requests waiting", "from", n, "gomaxprocs", minServeProcs)
	return minServeProcs
}
