package benchreport

import (
	"fmt"
	"time"
)

// The benchmarks the report reads, and the metrics it takes from them.
const (
	BenchRawSignatures  = "BenchmarkVerifyOverRawSignatures" // ./verifier, one sub-benchmark per algorithm
	BenchVerifyParallel = "BenchmarkVerifyParallel"          // ./server
	BenchHandler        = "BenchmarkVerifyHandlerOverVerify" // ./server
	BenchRevoke         = "BenchmarkRevokeToServed"          // ./server
	BenchEncodeIETF     = "BenchmarkEncodeIETF"              // ./revocation
	BenchEncodeW3C      = "BenchmarkEncodeW3C"               // ./revocation

	// StatusListEntries is the size of the list the encode benchmarks use
	// (revocation/bench_test.go, benchEntries).
	StatusListEntries = 1 << 20
)

func ns(v float64) time.Duration { return time.Duration(v) }

// RawSigFrom reads the sub-benchmark for alg of BenchRawSignatures.
func RawSigFrom(o *BenchOutput, alg string) (RawSig, error) {
	name := BenchRawSignatures + "/" + alg
	r := RawSig{Alg: alg}
	b, err := o.Find(name)
	if err != nil {
		return r, err
	}
	r.Iterations = b.N
	for _, m := range []struct {
		unit string
		dst  *float64
	}{{"first/raw2", &r.FirstRatio}, {"repeat/raw2", &r.RepRatio}} {
		if *m.dst, err = o.Metric(name, m.unit); err != nil {
			return r, err
		}
	}
	for _, m := range []struct {
		unit string
		dst  *time.Duration
	}{{"first-ns/op", &r.First}, {"repeat-ns/op", &r.Repeat}, {"raw2-ns/op", &r.Raw2}} {
		v, err := o.Metric(name, m.unit)
		if err != nil {
			return r, err
		}
		*m.dst = ns(v)
	}
	if r.Raw2 <= 0 {
		return r, fmt.Errorf("%s: raw2-ns/op is %v", name, r.Raw2)
	}
	return r, nil
}

// InProcFrom reads BenchVerifyParallel: verifications per second and the
// GOMAXPROCS they ran with.
func InProcFrom(o *BenchOutput) (float64, int, error) {
	b, err := o.Find(BenchVerifyParallel)
	if err != nil {
		return 0, 0, err
	}
	v, err := o.Metric(BenchVerifyParallel, "verifies/s")
	if err != nil {
		return 0, 0, err
	}
	if v <= 0 {
		return 0, 0, fmt.Errorf("%s: verifies/s is %v", BenchVerifyParallel, v)
	}
	return v, b.Procs, nil
}

// HandlerFrom reads the handler/verify ratio of BenchHandler.
func HandlerFrom(o *BenchOutput) (float64, error) {
	return o.Metric(BenchHandler, "handler/verify")
}

// RevokeFrom reads BenchRevoke: the whole latency and its two parts.
func RevokeFrom(o *BenchOutput) (total, ack, get time.Duration, err error) {
	var v [3]float64
	for i, unit := range []string{"ns/op", "revoke-ns/op", "get-ns/op"} {
		if v[i], err = o.Metric(BenchRevoke, unit); err != nil {
			return 0, 0, 0, err
		}
	}
	return ns(v[0]), ns(v[1]), ns(v[2]), nil
}

// EncodeFrom reads one encode benchmark (ns/op and MB/s).
func EncodeFrom(o *BenchOutput, bench, label string) (Encode, error) {
	e := Encode{Name: label, Entries: StatusListEntries}
	v, err := o.Metric(bench, "ns/op")
	if err != nil {
		return e, err
	}
	e.PerOp = ns(v)
	if e.MBPerS, err = o.Metric(bench, "MB/s"); err != nil {
		return e, err
	}
	return e, nil
}
