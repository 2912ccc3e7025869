package main

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// gcPercentUnderLimit is the GOGC that serve sets when memory_limit_mb is
// configured: the heap may grow to five times the live data between
// collections, which cuts the CPU spent collecting (an issuance allocates
// about 80 KB), and the limit bounds that growth.
const gcPercentUnderLimit = 400

// tuneGC applies memory_limit_mb: a soft memory limit, and with it a
// higher GOGC. GOMEMLIMIT and GOGC set in the environment are the
// operator's choice and left alone. Without a limit nothing changes.
func tuneGC(limitMB int64, log *slog.Logger) {
	if limitMB <= 0 {
		return
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limitMB << 20)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercentUnderLimit)
	}
	gogc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gogc)
	log.Info("garbage collector", "memory_limit_bytes", debug.SetMemoryLimit(-1), "gogc", gogc)
}
