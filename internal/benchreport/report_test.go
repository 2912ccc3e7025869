package benchreport

import (
	"strings"
	"testing"
	"time"
)

func figures() Figures {
	ok := func(l Load) *Load { l.Succeeded = l.Requests; return &l }
	return Figures{
		When:       time.Date(2026, 12, 2, 7, 30, 0, 0, time.UTC),
		Commit:     "abc123",
		Settings:   "10s per HTTP run",
		Machine:    Machine{CPUs: 2, CPUModel: "AMD EPYC", OS: "linux", Arch: "amd64", GoVersion: "go1.26.8"},
		LoadBefore: Loadavg{3.1, 2, 1},
		LoadAfter:  Loadavg{4.2, 2.5, 1.2},
		Raw: []RawSig{
			{Alg: "ES256", First: 330 * time.Microsecond, Repeat: 160 * time.Microsecond, Raw2: 250 * time.Microsecond, FirstRatio: 1.32, RepRatio: 0.64, Iterations: 1000},
			{Alg: "EdDSA", First: 300 * time.Microsecond, Repeat: 180 * time.Microsecond, Raw2: 230 * time.Microsecond, FirstRatio: 1.30, RepRatio: 0.78, Iterations: 1000},
		},
		InProcPerSecond: 8000, InProcProcs: 2, HandlerOverVerify: 1.3,
		VerifyMax:      ok(Load{Mode: "verify", Loop: "closed", Concurrency: 8, Requests: 60000, OKPerSecond: 6000, P50: time.Millisecond, P90: 2 * time.Millisecond, P99: 4 * time.Millisecond, P999: 8 * time.Millisecond}),
		VerifyOpen:     ok(Load{Mode: "verify", Loop: "open", OfferedRate: 4800, Requests: 48000, OKPerSecond: 4800, P99: 6 * time.Millisecond}),
		Issue:          ok(Load{Mode: "issue", Loop: "closed", Concurrency: 32, Requests: 50000, OKPerSecond: 5000}),
		RevokeToServed: 5 * time.Millisecond, RevokeAck: 2 * time.Millisecond, RevokeGet: 3 * time.Millisecond,
		Encodes: []Encode{{Name: "IETF", PerOp: 11 * time.Millisecond, MBPerS: 23.3, Entries: StatusListEntries}},
	}
}

func results(rows []Row) map[string]string {
	m := map[string]string{}
	for _, r := range rows {
		key := r.Measure
		if i := strings.Index(key, " ("); i > 0 && !strings.HasPrefix(key, "repeat") && !strings.HasPrefix(key, "first") {
			key = key[:i]
		}
		m[key] = r.Result
	}
	return m
}

func TestRowsJudgeEachTarget(t *testing.T) {
	rows := Rows(figures())
	if len(rows) != 7 {
		t.Fatalf("%d rows: %+v", len(rows), rows)
	}
	want := []struct{ prefix, result, ratio string }{
		{"repeat presentation", Pass, "0.64"},
		{"first presentation", Miss, "1.32"},
		{"`POST /v1/verify` max rate", Pass, "75%"},
		{"`POST /v1/verify` p99", Miss, "1.20 of the target"},
		{"durable issuance", Miss, "0.62 of the target"},
		{"revoke → served", Pass, "0.005 of the target"},
		{"encode a 1,048,576-entry status list", NoTarget, NoTarget},
	}
	for i, w := range want {
		r := rows[i]
		if !strings.HasPrefix(r.Measure, w.prefix) || r.Result != w.result || r.Ratio != w.ratio {
			t.Errorf("row %d: %+v, want %s / %s / %s", i, r, w.prefix, w.result, w.ratio)
		}
	}
	if rows[2].Measured != "6,000/s ÷ 8,000/s" || rows[3].Measure != "`POST /v1/verify` p99, open loop at 80% of the max rate (4,800/s offered)" {
		t.Errorf("%q / %q", rows[2].Measured, rows[3].Measure)
	}
}

func TestRowsBoundaries(t *testing.T) {
	f := figures()
	f.Raw[0].RepRatio, f.Raw[0].FirstRatio = TargetRepeatOverRaw2, TargetFirstOverRaw2
	f.VerifyMax.OKPerSecond = TargetHTTPOverInProc * f.InProcPerSecond
	f.VerifyOpen.P99 = TargetOpenLoopP99
	f.Issue.OKPerSecond = TargetIssuePerSecond
	for i, r := range Rows(f)[:6] {
		if r.Result != Pass {
			t.Errorf("row %d exactly at its target: %+v", i, r)
		}
	}
	f.Raw[0].RepRatio, f.Raw[0].FirstRatio = 0.8001, 1.2501
	f.VerifyMax.OKPerSecond = TargetHTTPOverInProc*f.InProcPerSecond - 1
	f.VerifyOpen.P99 = TargetOpenLoopP99 + 1
	f.Issue.OKPerSecond = TargetIssuePerSecond - 1
	f.RevokeToServed = TargetRevokeToServed + 1
	for i, r := range Rows(f)[:6] {
		if r.Result != Miss {
			t.Errorf("row %d just past its target: %+v", i, r)
		}
	}
}

func TestRowsUncleanRunsMiss(t *testing.T) {
	f := figures()
	f.VerifyMax.Failed, f.VerifyMax.Succeeded = 3, f.VerifyMax.Requests-3
	f.VerifyMax.Errors = map[string]int{"503": 3}
	f.VerifyOpen.P99 = time.Millisecond
	f.VerifyOpen.Dropped = 1
	f.Issue.OKPerSecond = 9000
	f.Issue.Failed, f.Issue.Succeeded = 1, f.Issue.Requests-1
	rows := Rows(f)
	for _, i := range []int{2, 3, 4} {
		if rows[i].Result != Miss {
			t.Errorf("row %d with failed or dropped requests: %+v", i, rows[i])
		}
	}
	if !strings.Contains(rows[2].Measured, "3 failed, 503 ×3") || !strings.Contains(rows[3].Measured, "1 dropped") {
		t.Errorf("the trouble is not shown: %q / %q", rows[2].Measured, rows[3].Measured)
	}
}

func TestRowsNotMeasuredMiss(t *testing.T) {
	rows := Rows(Figures{})
	if len(rows) != 6 {
		t.Fatalf("%d rows", len(rows))
	}
	for i, r := range rows {
		if r.Result != Miss || r.Measured != "not measured" {
			t.Errorf("row %d of empty figures: %+v", i, r)
		}
	}
}

func TestRender(t *testing.T) {
	out := Render(figures())
	for _, want := range []string{
		"on 2026-12-02 07:30 UTC at commit `abc123`",
		"Machine: 2 CPUs, AMD EPYC, linux/amd64, go1.26.8.",
		"**Load average (1 / 5 / 15 min): 3.10 / 2.00 / 1.00 when measuring began (after the build), 4.20 / 2.50 / 1.20 at the end** — more runnable work than CPUs",
		"Settings: 10s per HTTP run.\n",
		"| measure | target | measured | ratio | result |",
		"| repeat presentation ÷ the two raw ES256 checks (in process) | ≤ 0.80 | 160 µs ÷ 250 µs | 0.64 | pass |",
		"| ES256 | 1000 | 330 µs | 160 µs | 250 µs | 1.32 | 0.64 |",
		"8,000 verifications/s",
		"| verify, closed loop (max rate) | 8 clients | 60,000 | 6,000 | 1.00 ms | 2.00 ms | 4.00 ms | 8.00 ms | 0 | 0 |",
		"| verify, open loop | 4,800/s |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, BeginMarker) || strings.Contains(out, EndMarker) {
		t.Error("Render writes a marker")
	}
	// Every table row has as many cells as its header.
	cells := 0
	for _, line := range strings.Split(out, "\n") {
		switch {
		case !strings.HasPrefix(line, "|"):
			cells = 0
		case cells == 0:
			cells = strings.Count(line, "|")
		case strings.Count(line, "|") != cells:
			t.Errorf("%d cells, header has %d: %q", strings.Count(line, "|"), cells, line)
		}
	}
	f := figures()
	f.LoadBefore.One = 0.5
	if strings.Contains(Render(f), "more runnable work") {
		t.Error("a quiet machine is called busy")
	}
	if strings.Contains(out, "quick run") {
		t.Error("a full run is called quick")
	}
	if strings.Contains(out, "Not measured") {
		t.Error("problems listed for a complete run")
	}
	f.Problems = []string{"BenchmarkX: not found"}
	if !strings.Contains(Render(f), "Not measured in this run:\n\n- BenchmarkX: not found\n") {
		t.Error("problems not listed")
	}
	f.Quick = true
	if !strings.Contains(Render(f), "the figures mean nothing") {
		t.Error("a quick run is not marked")
	}
}

func TestFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		999:                      "999 ns",
		1500:                     "1.50 µs",
		250 * time.Microsecond:   "250 µs",
		12345 * time.Microsecond: "12.3 ms",
		3 * time.Second:          "3.00 s",
	} {
		if got := Dur(d); got != want {
			t.Errorf("Dur(%d) = %q, want %q", d, got, want)
		}
	}
	for v, want := range map[float64]string{0: "0", 999.4: "999", 1000: "1,000", 1234567.6: "1,234,568", -4700: "-4,700"} {
		if got := Count(v); got != want {
			t.Errorf("Count(%v) = %q, want %q", v, got, want)
		}
	}
}
