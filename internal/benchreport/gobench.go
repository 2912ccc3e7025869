package benchreport

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// ErrNoResult is returned (wrapped) when a benchmark or one of its
// metrics is not in the output.
var ErrNoResult = errors.New("benchmark result not found")

// MaxBenchLine bounds one line of benchmark output; a longer line is an
// error rather than a silently truncated result.
const MaxBenchLine = 64 << 10

// Bench is one result line of `go test -bench` output:
//
//	BenchmarkVerifyOverRawSignatures/ES256-2   1000   912345 ns/op   1.31 first/raw2
type Bench struct {
	// Name is the full benchmark name, sub-benchmarks included, without
	// the -GOMAXPROCS suffix.
	Name string
	// Procs is the GOMAXPROCS suffix of the name (0 when there was none:
	// the test binary omits it when GOMAXPROCS is 1).
	Procs int
	// N is the number of iterations.
	N int64
	// Metrics maps each unit ("ns/op", "B/op", "first/raw2") to its value.
	Metrics map[string]float64
	// Units are the units in the order they were printed.
	Units []string
}

// String formats b as the testing package prints a result line (fields
// separated by tabs).
func (b Bench) String() string {
	var sb strings.Builder
	sb.WriteString(b.Name)
	if b.Procs > 0 {
		fmt.Fprintf(&sb, "-%d", b.Procs)
	}
	fmt.Fprintf(&sb, "\t%d", b.N)
	for _, u := range b.Units {
		fmt.Fprintf(&sb, "\t%s %s", strconv.FormatFloat(b.Metrics[u], 'g', -1, 64), u)
	}
	return sb.String()
}

// BenchOutput is one parsed run.
type BenchOutput struct {
	// Config holds the "key: value" lines (goos, goarch, pkg, cpu).
	Config map[string]string
	// Results are the result lines, in order.
	Results []Bench
	// Failed names the benchmarks reported as "--- FAIL: Name".
	Failed []string
}

// ParseBench reads `go test -bench` output. Lines that are neither a
// result, a configuration line nor a failure (logs, PASS, ok ...) are
// skipped; a line that starts like a result but is malformed (an
// iteration count that is not a positive integer, a value without a
// unit, a unit given twice) is an error, so a format change cannot pass
// for a missing figure.
func ParseBench(r io.Reader) (*BenchOutput, error) {
	out := &BenchOutput{Config: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxBenchLine)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if name, ok := strings.CutPrefix(strings.TrimSpace(text), "--- FAIL: "); ok {
			if f := strings.Fields(name); len(f) > 0 {
				out.Failed = append(out.Failed, f[0])
			}
			continue
		}
		if strings.HasPrefix(text, "Benchmark") {
			b, ok, err := parseResult(text)
			if err != nil {
				return nil, fmt.Errorf("benchmark output line %d: %w", line, err)
			}
			if ok {
				out.Results = append(out.Results, b)
			}
			continue
		}
		if k, v, ok := configLine(text); ok {
			out.Config[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("benchmark output line %d: %w", line+1, err)
	}
	return out, nil
}

// parseResult parses a line starting with "Benchmark". ok is false for a
// line that is only a name (the testing package prints the name alone
// before a benchmark's own output) or a name followed by text that is not
// an iteration count (log output).
func parseResult(text string) (Bench, bool, error) {
	f := strings.Fields(text)
	if len(f) < 2 {
		return Bench{}, false, nil
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		if f[1] == "" || (f[1][0] < '0' || f[1][0] > '9') && f[1][0] != '-' {
			return Bench{}, false, nil // "BenchmarkX some log text"
		}
		return Bench{}, false, fmt.Errorf("%s: iteration count %q: %w", f[0], f[1], err)
	}
	if n <= 0 {
		return Bench{}, false, fmt.Errorf("%s: iteration count %d is not positive", f[0], n)
	}
	if len(f) == 2 {
		return Bench{}, false, fmt.Errorf("%s: no measurements", f[0])
	}
	if (len(f)-2)%2 != 0 {
		return Bench{}, false, fmt.Errorf("%s: a value without a unit", f[0])
	}
	b := Bench{N: n, Metrics: make(map[string]float64, (len(f)-2)/2)}
	b.Name, b.Procs = splitProcs(f[0])
	for i := 2; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Bench{}, false, fmt.Errorf("%s: value %q: %w", f[0], f[i], err)
		}
		unit := f[i+1]
		if _, dup := b.Metrics[unit]; dup {
			return Bench{}, false, fmt.Errorf("%s: unit %q given twice", f[0], unit)
		}
		b.Metrics[unit] = v
		b.Units = append(b.Units, unit)
	}
	return b, true, nil
}

// splitProcs splits "BenchmarkX/sub-8" into "BenchmarkX/sub" and 8.
func splitProcs(name string) (string, int) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return name, 0
	}
	p, err := strconv.Atoi(name[i+1:])
	if err != nil || p <= 0 || name[i+1] == '+' || name[i+1] == '0' {
		return name, 0
	}
	return name[:i], p
}

// configLine recognizes "goos: linux", "cpu: AMD EPYC ...".
func configLine(text string) (string, string, bool) {
	k, v, ok := strings.Cut(text, ": ")
	if !ok || k == "" {
		return "", "", false
	}
	for _, c := range k {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return "", "", false
		}
	}
	return k, strings.TrimSpace(v), true
}

// Find returns the result named name (without the -GOMAXPROCS suffix); if
// the output holds it more than once (-count), the last.
func (o *BenchOutput) Find(name string) (Bench, error) {
	for i := len(o.Results) - 1; i >= 0; i-- {
		if o.Results[i].Name == name {
			return o.Results[i], nil
		}
	}
	have := make([]string, 0, len(o.Results))
	for _, r := range o.Results {
		have = append(have, r.Name)
	}
	sort.Strings(have)
	return Bench{}, fmt.Errorf("%w: %s (output has %v)", ErrNoResult, name, have)
}

// Metric returns the value of unit in the result named name. A value that
// is not finite is an error: it is a division by zero in the benchmark,
// not a figure.
func (o *BenchOutput) Metric(name, unit string) (float64, error) {
	b, err := o.Find(name)
	if err != nil {
		return 0, err
	}
	v, ok := b.Metrics[unit]
	if !ok {
		return 0, fmt.Errorf("%w: %s has no %q metric (units %v)", ErrNoResult, name, unit, b.Units)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s: %q is %v", name, unit, v)
	}
	return v, nil
}
