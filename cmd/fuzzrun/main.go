// Command fuzzrun runs every fuzz target of the given packages for a fixed
// time each, as `make fuzz` and CI do.
//
// A target fails when fuzzing finds a failing input (Go writes it under the
// package's testdata/fuzz/<Target>/ and prints where) or when the run fails
// in any other way, with one exception: Go 1.26's fuzzing coordinator can end
// a duration-bounded run with a bare "context deadline exceeded" when a worker
// is still busy as -fuzztime runs out (go.dev/issue/75804). That run found
// nothing and wrote nothing, so fuzzrun runs the target again, up to -retries
// times, and fails if it keeps happening.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fuzzrun:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fuzzrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	goBin := fs.String("go", "go", "the go command")
	fuzzTime := fs.String("fuzztime", "10s", "how long each target is fuzzed (go test -fuzztime)")
	minimize := fs.String("fuzzminimizetime", "2s", "how long a failing input is minimized (go test -fuzzminimizetime)")
	retries := fs.Int("retries", 2, "how many times a target is run again after the coordinator's deadline race")
	match := fs.String("run", "", "only targets whose name contains this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pkgs := fs.Args()
	if len(pkgs) == 0 {
		pkgs = []string{"./..."}
	}
	if *retries < 0 {
		return errors.New("-retries must not be negative")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	r := runner{goBin: *goBin, fuzzTime: *fuzzTime, minimize: *minimize, retries: *retries, out: stdout}
	list, err := r.output(ctx, append([]string{"list"}, pkgs...)...)
	if err != nil {
		return fmt.Errorf("listing packages: %w", err)
	}
	var failed []string
	for _, pkg := range strings.Fields(list) {
		names, err := r.output(ctx, "test", "-list", "^Fuzz", pkg)
		if err != nil {
			return fmt.Errorf("listing the fuzz targets of %s: %w", pkg, err)
		}
		for _, target := range fuzzTargets(names) {
			if !strings.Contains(target, *match) {
				continue
			}
			if err := r.fuzz(ctx, pkg, target); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				failed = append(failed, pkg+" "+target)
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d fuzz target(s) failed:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}

type runner struct {
	goBin, fuzzTime, minimize string
	retries                   int
	out                       io.Writer
}

func (r runner) output(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, r.goBin, args...)
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", r.goBin, strings.Join(args, " "), err, strings.TrimSpace(errBuf.String()))
	}
	return string(out), nil
}

// fuzz runs one target, again after the coordinator's deadline race, and
// returns an error when the target failed.
func (r runner) fuzz(ctx context.Context, pkg, target string) error {
	for attempt := 0; ; attempt++ {
		fmt.Fprintf(r.out, "== %s %s\n", pkg, target)
		var log bytes.Buffer
		cmd := exec.CommandContext(ctx, r.goBin, "test", "-run", "^$", "-fuzz", "^"+target+"$",
			"-fuzztime", r.fuzzTime, "-fuzzminimizetime", r.minimize, pkg)
		w := io.MultiWriter(r.out, &log)
		cmd.Stdout, cmd.Stderr = w, w
		err := cmd.Run()
		switch verdict := classify(err == nil, log.String()); verdict {
		case passed:
			return nil
		case deadlineRace:
			if attempt < r.retries {
				fmt.Fprintf(r.out, "fuzzrun: %s ended with the fuzzing coordinator's deadline race (go.dev/issue/75804) and found nothing; running it again\n", target)
				continue
			}
			return fmt.Errorf("%s: the deadline race %d times in a row", target, attempt+1)
		default:
			return fmt.Errorf("%s: %v", target, err)
		}
	}
}

// fuzzTargets picks the target names out of `go test -list` output.
func fuzzTargets(list string) []string {
	var out []string
	for _, line := range strings.Split(list, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "Fuzz") && !strings.ContainsAny(line, " \t") {
			out = append(out, line)
		}
	}
	return out
}

type verdict int

const (
	passed verdict = iota
	failedRun
	deadlineRace
)

// classify reads one `go test -fuzz` run. The deadline race is recognised
// only in its exact shape: the run failed, the only failure is one
// "--- FAIL: FuzzX" line followed by a bare "context deadline exceeded", and
// nothing says an input failed, panicked or was written to the corpus.
// Everything else that failed is a failure.
func classify(ok bool, log string) verdict {
	if ok {
		return passed
	}
	if strings.Contains(log, "Failing input written to") || strings.Contains(log, "panic:") ||
		strings.Contains(log, "testdata/fuzz/") {
		return failedRun
	}
	lines := strings.Split(log, "\n")
	fails := 0
	race := false
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "--- FAIL:") {
			fails++
			if i+1 < len(lines) && strings.TrimSpace(lines[i+1]) == "context deadline exceeded" &&
				(i+2 >= len(lines) || !strings.HasPrefix(lines[i+2], "    ")) {
				race = true
			}
		}
	}
	if fails == 1 && race {
		return deadlineRace
	}
	return failedRun
}
