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
	for _, tc := range []struct {
		name      string
		env       string // GOMAXPROCS in the environment
		procs     int    // what the runtime had
		want      int
		wantInLog string // "" : nothing logged
	}{
		{"one is raised", "", 1, minServeProcs, "GOMAXPROCS raised"},
		{"the environment's choice is kept, with a warning", "1", 1, 1, "level=WARN"},
		{"two or more is left alone", "", 3, 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", tc.env)
			runtime.GOMAXPROCS(tc.procs)
			var buf bytes.Buffer
			got := ensureProcs(slog.New(slog.NewTextHandler(&buf, nil)))
			if got != tc.want || runtime.GOMAXPROCS(0) != tc.want {
				t.Fatalf("ensureProcs %d, GOMAXPROCS %d; want %d", got, runtime.GOMAXPROCS(0), tc.want)
			}
			if tc.wantInLog == "" && buf.Len() != 0 || !strings.Contains(buf.String(), tc.wantInLog) {
				t.Fatalf("log %q, want %q", buf.String(), tc.wantInLog)
			}
		})
	}
}
