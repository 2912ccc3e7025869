package main

import (
	"bytes"
	"log/slog"
	"runtime"
	"strings"
	"testing"
)

func TestEnsureProcs(t *testing.T) {
	was := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(was) })
	logTo := func(buf *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(buf, nil)) }

	t.Run("one is raised", func(t *testing.T) {
		t.Setenv("GOMAXPROCS", "")
		runtime.GOMAXPROCS(1)
		var buf bytes.Buffer
		if got := ensureProcs(logTo(&buf)); got != minServeProcs || runtime.GOMAXPROCS(0) != minServeProcs {
			t.Fatalf("ensureProcs %d, GOMAXPROCS %d; want %d", got, runtime.GOMAXPROCS(0), minServeProcs)
		}
		if !strings.Contains(buf.String(), "GOMAXPROCS raised") {
			t.Fatalf("log %q", buf.String())
		}
	})
	t.Run("the environment's choice is kept, with a warning", func(t *testing.T) {
		t.Setenv("GOMAXPROCS", "1")
		runtime.GOMAXPROCS(1)
		var buf bytes.Buffer
		if got := ensureProcs(logTo(&buf)); got != 1 || runtime.GOMAXPROCS(0) != 1 {
			t.Fatalf("ensureProcs %d, GOMAXPROCS %d; want 1", got, runtime.GOMAXPROCS(0))
		}
		if !strings.Contains(buf.String(), "level=WARN") {
			t.Fatalf("log %q", buf.String())
		}
	})
	t.Run("two or more is left alone", func(t *testing.T) {
		t.Setenv("GOMAXPROCS", "")
		runtime.GOMAXPROCS(3)
		var buf bytes.Buffer
		if got := ensureProcs(logTo(&buf)); got != 3 || buf.Len() != 0 {
			t.Fatalf("ensureProcs %d, log %q; want 3 and nothing logged", got, buf.String())
		}
	})
}
