package benchreport

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// A test binary's output for BenchmarkVerifyOverRawSignatures, as the
// testing package prints it (a name printed alone first because the
// benchmark logged, a log line, the result).
const rawSigOutput = `goos: linux
goarch: amd64
pkg: github.com/agentcert/agentcert/verifier
cpu: AMD EPYC
BenchmarkVerifyOverRawSignatures/ES256
    credcache_bench_test.go:42: some log line
BenchmarkVerifyOverRawSignatures/ES256-2         	    1000	   1041234 ns/op	    412345 first-ns/op	         1.310 first/raw2	    208000 raw2-ns/op	    137000 repeat-ns/op	         0.6587 repeat/raw2
BenchmarkVerifyOverRawSignatures/EdDSA-2         	    1000	    812345 ns/op	    330000 first-ns/op	         1.41 first/raw2	    234000 raw2-ns/op	    180000 repeat-ns/op	         0.77 repeat/raw2	   50123 B/op	     612 allocs/op
PASS
`

func TestParseBenchResults(t *testing.T) {
	o, err := ParseBench(strings.NewReader(rawSigOutput))
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Config["cpu"]; got != "AMD EPYC" {
		t.Errorf("cpu %q", got)
	}
	if got := o.Config["pkg"]; got != "github.com/agentcert/agentcert/verifier" {
		t.Errorf("pkg %q", got)
	}
	if len(o.Results) != 2 {
		t.Fatalf("%d results: %+v", len(o.Results), o.Results)
	}
	es := o.Results[0]
	if es.Name != "BenchmarkVerifyOverRawSignatures/ES256" || es.Procs != 2 || es.N != 1000 {
		t.Errorf("first result %q procs %d N %d", es.Name, es.Procs, es.N)
	}
	if want := []string{"ns/op", "first-ns/op", "first/raw2", "raw2-ns/op", "repeat-ns/op", "repeat/raw2"}; strings.Join(es.Units, " ") != strings.Join(want, " ") {
		t.Errorf("units %v", es.Units)
	}
	if v, err := o.Metric("BenchmarkVerifyOverRawSignatures/ES256", "repeat/raw2"); err != nil || v != 0.6587 {
		t.Errorf("repeat/raw2 = %v, %v", v, err)
	}
	if v, err := o.Metric("BenchmarkVerifyOverRawSignatures/EdDSA", "allocs/op"); err != nil || v != 612 {
		t.Errorf("allocs/op = %v, %v", v, err)
	}
	r, err := RawSigFrom(o, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	if r.First != 412345 || r.Repeat != 137000 || r.Raw2 != 208000 || r.FirstRatio != 1.31 || r.RepRatio != 0.6587 || r.Iterations != 1000 {
		t.Errorf("RawSigFrom: %+v", r)
	}
}

func TestParseBenchMissing(t *testing.T) {
	o, err := ParseBench(strings.NewReader(rawSigOutput))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Find("BenchmarkNope"); !errors.Is(err, ErrNoResult) {
		t.Errorf("Find of a missing benchmark: %v", err)
	}
	if _, err := o.Metric("BenchmarkVerifyOverRawSignatures/ES256", "verifies/s"); !errors.Is(err, ErrNoResult) {
		t.Errorf("Metric of a missing unit: %v", err)
	}
	if _, err := RawSigFrom(o, "RS256"); !errors.Is(err, ErrNoResult) {
		t.Errorf("RawSigFrom of a missing algorithm: %v", err)
	}
	if _, _, err := InProcFrom(o); !errors.Is(err, ErrNoResult) {
		t.Errorf("InProcFrom without the benchmark: %v", err)
	}
}

func TestParseBenchLastOfCount(t *testing.T) {
	o, err := ParseBench(strings.NewReader("BenchmarkA-2 10 5 ns/op\nBenchmarkA-2 10 7 ns/op\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := o.Metric("BenchmarkA", "ns/op"); v != 7 {
		t.Errorf("with -count, Metric gives %v, want the last (7)", v)
	}
}

func TestParseBenchNotFinite(t *testing.T) {
	o, err := ParseBench(strings.NewReader("BenchmarkA-2 10 5 ns/op NaN first/raw2 +Inf repeat/raw2\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, unit := range []string{"first/raw2", "repeat/raw2"} {
		if _, err := o.Metric("BenchmarkA", unit); err == nil {
			t.Errorf("%s: a value that is not finite passed as a figure", unit)
		}
	}
}

func TestParseBenchProcsSuffix(t *testing.T) {
	for _, c := range []struct {
		line, name string
		procs      int
	}{
		{"BenchmarkX-8 1 1 ns/op", "BenchmarkX", 8},
		{"BenchmarkX 1 1 ns/op", "BenchmarkX", 0}, // GOMAXPROCS 1 prints no suffix
		{"BenchmarkX/c-2-4 1 1 ns/op", "BenchmarkX/c-2", 4},
		{"BenchmarkX/a-b 1 1 ns/op", "BenchmarkX/a-b", 0},
		{"BenchmarkX- 1 1 ns/op", "BenchmarkX-", 0},
		{"BenchmarkX-0 1 1 ns/op", "BenchmarkX-0", 0},
		{"BenchmarkX-+3 1 1 ns/op", "BenchmarkX-+3", 0},
	} {
		o, err := ParseBench(strings.NewReader(c.line))
		if err != nil || len(o.Results) != 1 {
			t.Fatalf("%q: %v %+v", c.line, err, o)
		}
		if r := o.Results[0]; r.Name != c.name || r.Procs != c.procs {
			t.Errorf("%q: name %q procs %d, want %q %d", c.line, r.Name, r.Procs, c.name, c.procs)
		}
	}
}

func TestParseBenchSkipsWhatIsNotAResult(t *testing.T) {
	in := "BenchmarkX\nBenchmarkX logged something\n    bench_test.go:1: text\nPASS\nok  \tgithub.com/x\t1.0s\n--- BENCH: BenchmarkY\n"
	o, err := ParseBench(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Results) != 0 || len(o.Failed) != 0 {
		t.Errorf("results %+v, failed %v", o.Results, o.Failed)
	}
}

func TestParseBenchFailures(t *testing.T) {
	in := "BenchmarkRevokeToServed\n--- FAIL: BenchmarkRevokeToServed\n    status_bench_test.go:150: revoke: HTTP 500\nFAIL\n"
	o, err := ParseBench(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Failed) != 1 || o.Failed[0] != "BenchmarkRevokeToServed" {
		t.Errorf("failed %v", o.Failed)
	}
}

func TestParseBenchMalformed(t *testing.T) {
	for _, line := range []string{
		"BenchmarkX-2 0 5 ns/op",          // no iterations
		"BenchmarkX-2 -3 5 ns/op",         // negative
		"BenchmarkX-2 12abc 5 ns/op",      // not an integer
		"BenchmarkX-2 10",                 // no measurement
		"BenchmarkX-2 10 5 ns/op 7",       // a value without a unit
		"BenchmarkX-2 10 five ns/op",      // a value that is not a number
		"BenchmarkX-2 10 5 ns/op 6 ns/op", // a unit twice
		"BenchmarkX-2 99999999999999999999 5 ns/op",
	} {
		if o, err := ParseBench(strings.NewReader(line + "\n")); err == nil {
			t.Errorf("%q parsed: %+v", line, o.Results)
		}
	}
}

func TestParseBenchLongLine(t *testing.T) {
	long := "BenchmarkX-2 1 1 ns/op" + strings.Repeat(" 1 u", MaxBenchLine/4)
	if _, err := ParseBench(strings.NewReader(long)); err == nil {
		t.Error("a line over MaxBenchLine parsed")
	}
}

func TestBenchStringRoundTrip(t *testing.T) {
	o, err := ParseBench(strings.NewReader(rawSigOutput))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range o.Results {
		again, err := ParseBench(strings.NewReader(r.String()))
		if err != nil || len(again.Results) != 1 {
			t.Fatalf("%q: %v", r.String(), err)
		}
		if !sameBench(r, again.Results[0]) {
			t.Errorf("round trip: %+v != %+v", r, again.Results[0])
		}
	}
}

func sameBench(a, b Bench) bool {
	if a.Name != b.Name || a.Procs != b.Procs || a.N != b.N || len(a.Units) != len(b.Units) || len(a.Metrics) != len(b.Metrics) {
		return false
	}
	for i, u := range a.Units {
		if b.Units[i] != u || math.Float64bits(a.Metrics[u]) != math.Float64bits(b.Metrics[u]) {
			return false
		}
	}
	return true
}

// FuzzParseBench: any input is parsed or refused, never a panic; every
// result has a positive iteration count and one value per unit, and
// prints (String) as a line that parses back to the same result.
func FuzzParseBench(f *testing.F) {
	f.Add(rawSigOutput)
	f.Add("BenchmarkA-2 10 5 ns/op NaN x +Inf y -0 z\n")
	f.Add("BenchmarkX/c-2-4 1 1 ns/op\n--- FAIL: BenchmarkX\n")
	f.Add("BenchmarkX 1e3 5 ns/op\n")
	f.Fuzz(func(t *testing.T, in string) {
		o, err := ParseBench(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range o.Results {
			if r.N <= 0 || len(r.Units) == 0 || len(r.Units) != len(r.Metrics) || r.Procs < 0 {
				t.Fatalf("bad result %+v", r)
			}
			again, err := ParseBench(strings.NewReader(r.String()))
			if err != nil {
				t.Fatalf("%q (from %q) does not parse: %v", r.String(), in, err)
			}
			if len(again.Results) != 1 || !sameBench(r, again.Results[0]) {
				t.Fatalf("%q: round trip gives %+v, want %+v", r.String(), again.Results, r)
			}
		}
	})
}
