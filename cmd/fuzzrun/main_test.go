package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// raceLog is what CI printed when the coordinator's deadline race failed a
// target that had found nothing.
const raceLog = `fuzz: elapsed: 0s, gathering baseline coverage: 0/5 completed
fuzz: elapsed: 0s, gathering baseline coverage: 5/5 completed, now fuzzing with 2 workers
fuzz: elapsed: 3s, execs: 39876 (13292/sec), new interesting: 43 (total: 48)
fuzz: elapsed: 9s, execs: 79438 (10540/sec), new interesting: 55 (total: 60)
--- FAIL: FuzzAppendString (8.91s)
    context deadline exceeded
FAIL
exit status 1
FAIL	github.com/agentcert/agentcert/internal/jsonval	8.928s
`

func TestClassify(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
		log  string
		want verdict
	}{
		{"passed", true, "fuzz: elapsed: 8s\nPASS\nok  \tpkg\t8.0s\n", passed},
		{"deadline race", false, raceLog, deadlineRace},
		{"crasher written", false, `fuzz: elapsed: 2s, execs: 100 (50/sec)
--- FAIL: FuzzParse (2.01s)
    --- FAIL: FuzzParse (0.00s)
        parse_test.go:20: round trip differs

    Failing input written to testdata/fuzz/FuzzParse/582528ddfad69eb5
    To re-run:
    go test -run=FuzzParse/582528ddfad69eb5
FAIL
`, failedRun},
		{"panic", false, "--- FAIL: FuzzParse (1.00s)\n    context deadline exceeded\npanic: runtime error: index out of range\n", failedRun},
		{"deadline after a test error", false, "--- FAIL: FuzzParse (1.00s)\n    context deadline exceeded\n    parse_test.go:9: wrong\nFAIL\n", failedRun},
		{"seed corpus failure", false, "--- FAIL: FuzzParse (0.00s)\n    --- FAIL: FuzzParse/seed#0 (0.00s)\n        parse_test.go:9: wrong\nFAIL\n", failedRun},
		{"build failure", false, "# pkg\n./x.go:3:1: syntax error\nFAIL\tpkg [build failed]\n", failedRun},
		{"hung worker", false, "--- FAIL: FuzzParse (10.00s)\n    fuzzing process hung or terminated unexpectedly: exit status 2\nFAIL\n", failedRun},
		{"two targets fail", false, raceLog + "--- FAIL: FuzzOther (1.00s)\n    context deadline exceeded\n", failedRun},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := classify(c.ok, c.log); got != c.want {
				t.Fatalf("classify = %d, want %d", got, c.want)
			}
		})
	}
}

func TestFuzzTargets(t *testing.T) {
	got := fuzzTargets("FuzzA\nFuzzB\nok  \tpkg\t0.01s\n")
	if strings.Join(got, ",") != "FuzzA,FuzzB" {
		t.Fatalf("targets = %q", got)
	}
}

// fakeGo writes a go command that lists one package with the given targets
// and answers each `go test -fuzz` run with the next of the given outcomes
// ("race", "crash" or "pass"; the last one repeats).
func fakeGo(t *testing.T, targets string, outcomes ...string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake go command is a shell script")
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "runs")
	script := `#!/bin/sh
case "$1 $2" in
"list ./...") echo example.com/p; exit 0;;
"test -list") printf '` + targets + `\nok  \texample.com/p\t0.01s\n'; exit 0;;
esac
n=$(cat "` + state + `" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "` + state + `"
set -- ` + strings.Join(outcomes, " ") + `
i=1; last=pass; for o in "$@"; do last=$o; [ $i -eq $n ] && break; i=$((i+1)); done
case $last in
race) printf -- '--- FAIL: FuzzA (8.91s)\n    context deadline exceeded\nFAIL\n'; exit 1;;
crash) printf -- '--- FAIL: FuzzA (1.00s)\n    Failing input written to testdata/fuzz/FuzzA/1\nFAIL\n'; exit 1;;
*) echo PASS; exit 0;;
esac
`
	path := filepath.Join(dir, "go")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunRetriesTheDeadlineRace(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-go", fakeGo(t, "FuzzA", "race", "pass"), "-fuzztime", "1s"}, &out, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "== example.com/p FuzzA"); n != 2 {
		t.Fatalf("FuzzA ran %d times, want 2:\n%s", n, out.String())
	}
}

func TestRunFailsOnARepeatedDeadlineRace(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"-go", fakeGo(t, "FuzzA", "race", "race", "race"), "-retries", "2"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "FuzzA") {
		t.Fatalf("run = %v, want FuzzA to fail after three races\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "== example.com/p FuzzA"); n != 3 {
		t.Fatalf("FuzzA ran %d times, want 3", n)
	}
}

func TestRunNeverRetriesACrasher(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"-go", fakeGo(t, "FuzzA", "crash", "pass")}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "1 fuzz target(s) failed") {
		t.Fatalf("run = %v, want the crasher to fail the run\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "== example.com/p FuzzA"); n != 1 {
		t.Fatalf("FuzzA ran %d times, want 1", n)
	}
}

func TestRunRefusesNegativeRetries(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-retries", "-1"}, &out, &out); err == nil {
		t.Fatal("run accepted -retries -1")
	}
}
