package main

import (
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"testing"
)

// gcSettings reads the runtime's GOGC and memory limit, and restores them
// when the test ends.
func gcSettings(t *testing.T) (gogc int, limit int64) {
	t.Helper()
	gogc = debug.SetGCPercent(-1)
	debug.SetGCPercent(gogc)
	limit = debug.SetMemoryLimit(-1)
	return gogc, limit
}

func restoreGC(t *testing.T) {
	gogc, limit := gcSettings(t)
	t.Cleanup(func() {
		debug.SetGCPercent(gogc)
		debug.SetMemoryLimit(limit)
	})
}

func TestTuneGC(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Run("no limit changes nothing", func(t *testing.T) {
		restoreGC(t)
		t.Setenv("GOGC", "")
		t.Setenv("GOMEMLIMIT", "")
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
		tuneGC(0, quiet)
		if gogc, limit := gcSettings(t); gogc != 100 || limit != math.MaxInt64 {
			t.Fatalf("GOGC %d, limit %d after tuneGC(0)", gogc, limit)
		}
	})
	t.Run("limit sets both", func(t *testing.T) {
		restoreGC(t)
		t.Setenv("GOGC", "")
		t.Setenv("GOMEMLIMIT", "")
		tuneGC(256, quiet)
		if gogc, limit := gcSettings(t); gogc != gcPercentUnderLimit || limit != 256<<20 {
			t.Fatalf("GOGC %d, limit %d, want %d and %d", gogc, limit, gcPercentUnderLimit, 256<<20)
		}
	})
	t.Run("environment wins", func(t *testing.T) {
		restoreGC(t)
		t.Setenv("GOGC", "150")
		t.Setenv("GOMEMLIMIT", "1GiB")
		debug.SetGCPercent(150)
		debug.SetMemoryLimit(1 << 30)
		tuneGC(256, quiet)
		if gogc, limit := gcSettings(t); gogc != 150 || limit != 1<<30 {
			t.Fatalf("GOGC %d, limit %d: the environment's values were overridden", gogc, limit)
		}
	})
}
