package benchreport

import (
	"strings"
	"testing"
	"time"
)

// A report as loadgen -json prints it (cmd/loadgen, Report).
const openLoopReport = `{
  "mode": "verify",
  "url": "http://127.0.0.1:18600/v1/verify",
  "loop": "open",
  "concurrency": 0,
  "offered_rate": 4000,
  "requests": 40000,
  "succeeded": 39990,
  "failed": 10,
  "requests_per_second": 3999.1,
  "succeeded_per_second": 3998.1,
  "p50_ns": 1200000,
  "p90_ns": 2100000,
  "p99_ns": 4300000,
  "p999_ns": 9100000,
  "max_ns": 15000000,
  "succeeded_p50_ns": 1200000,
  "succeeded_p99_ns": 4200000,
  "errors": {"503": 7, "transport": 3},
  "dropped": 2,
  "elapsed_ns": 10002000000,
  "kinds": {"verify": {"requests": 40000}},
  "stopped": "n"
}
`

func TestParseLoadgen(t *testing.T) {
	l, err := ParseLoadgen([]byte(openLoopReport))
	if err != nil {
		t.Fatal(err)
	}
	if l.Mode != "verify" || l.Loop != "open" || l.OfferedRate != 4000 || l.Requests != 40000 || l.Failed != 10 || l.Dropped != 2 {
		t.Errorf("%+v", l)
	}
	if l.P99 != 4300*time.Microsecond || l.P999 != 9100*time.Microsecond || l.OKPerSecond != 3998.1 || l.Elapsed != 10002*time.Millisecond {
		t.Errorf("figures %+v", l)
	}
	if l.Clean() {
		t.Error("a run with failures and drops is clean")
	}
	if got, want := l.Trouble(), "10 failed, 503 ×7, transport ×3, 2 dropped"; got != want {
		t.Errorf("Trouble() = %q, want %q", got, want)
	}
}

func TestParseLoadgenClean(t *testing.T) {
	in := `{"mode":"issue","loop":"closed","concurrency":32,"requests":10,"succeeded":10,"failed":0,"requests_per_second":5,"succeeded_per_second":5,
		"p50_ns":1,"p90_ns":2,"p99_ns":3,"p999_ns":3,"max_ns":4,"errors":{},"dropped":0,"elapsed_ns":2000000000,"stopped":"duration"}`
	l, err := ParseLoadgen([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if !l.Clean() || l.Trouble() != "" || l.Concurrency != 32 {
		t.Errorf("%+v %q", l, l.Trouble())
	}
}

func TestParseLoadgenRefuses(t *testing.T) {
	good := openLoopReport
	for name, in := range map[string]string{
		"empty":             "",
		"not JSON":          "mode verify\n",
		"an array":          "[1]",
		"two values":        good + good,
		"no mode":           strings.Replace(good, `"mode": "verify"`, `"mode": ""`, 1),
		"unknown loop":      strings.Replace(good, `"loop": "open"`, `"loop": "half"`, 1),
		"no requests":       strings.NewReplacer(`"requests": 40000`, `"requests": 0`, `"succeeded": 39990`, `"succeeded": 0`, `"failed": 10`, `"failed": 0`).Replace(good),
		"counts off":        strings.Replace(good, `"succeeded": 39990`, `"succeeded": 39000`, 1),
		"negative failed":   strings.NewReplacer(`"failed": 10`, `"failed": -10`, `"succeeded": 39990`, `"succeeded": 40010`).Replace(good),
		"negative drops":    strings.Replace(good, `"dropped": 2`, `"dropped": -2`, 1),
		"negative rate":     strings.Replace(good, `"succeeded_per_second": 3998.1`, `"succeeded_per_second": -1`, 1),
		"open without rate": strings.Replace(good, `"offered_rate": 4000`, `"offered_rate": 0`, 1),
		"p99 below p90":     strings.Replace(good, `"p99_ns": 4300000`, `"p99_ns": 2000000`, 1),
		"max below p99.9":   strings.Replace(good, `"max_ns": 15000000`, `"max_ns": 9000000`, 1),
		"negative p50":      strings.Replace(good, `"p50_ns": 1200000`, `"p50_ns": -1`, 1),
		"no elapsed":        strings.Replace(good, `"elapsed_ns": 10002000000`, `"elapsed_ns": 0`, 1),
		"string count":      strings.Replace(good, `"requests": 40000`, `"requests": "40000"`, 1),
	} {
		if _, err := ParseLoadgen([]byte(in)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// FuzzParseLoadgen: any input is parsed or refused, never a panic; what
// parses satisfies the invariants the report relies on.
func FuzzParseLoadgen(f *testing.F) {
	f.Add([]byte(openLoopReport))
	f.Add([]byte(`{"mode":"issue","loop":"closed","requests":1,"succeeded":1,"p50_ns":1,"p90_ns":1,"p99_ns":1,"p999_ns":1,"max_ns":1,"elapsed_ns":1}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		l, err := ParseLoadgen(in)
		if err != nil {
			return
		}
		if l.Requests <= 0 || l.Succeeded+l.Failed != l.Requests || l.P50 > l.P99 || l.P99 > l.Max || l.OKPerSecond < 0 {
			t.Fatalf("accepted %+v", l)
		}
		if l.Clean() != (l.Trouble() == "") {
			t.Fatalf("Clean %v but Trouble %q", l.Clean(), l.Trouble())
		}
	})
}

func TestParseLoadavg(t *testing.T) {
	l, err := ParseLoadavg("0.52 1.58 12.59 1/467 12345\n")
	if err != nil {
		t.Fatal(err)
	}
	if l != (Loadavg{0.52, 1.58, 12.59}) || l.String() != "0.52 / 1.58 / 12.59" {
		t.Errorf("%+v %q", l, l)
	}
	for _, in := range []string{"", "0.5 0.6", "a b c", "-1 0 0", "NaN 0 0", "+Inf 1 1"} {
		if _, err := ParseLoadavg(in); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}

func TestCPUModel(t *testing.T) {
	info := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if got := CPUModel(info); got != "AMD EPYC 7B13" {
		t.Errorf("%q", got)
	}
	if got := CPUModel("processor : 0\n"); got != "" {
		t.Errorf("%q without a model name", got)
	}
}
