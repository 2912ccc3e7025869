package benchreport

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// The targets of issue 12 (and the revocation goal of docs/benchmarks.md).
const (
	TargetRepeatOverRaw2 = 0.80                 // repeat presentation ÷ the two raw ES256 checks, at most
	TargetFirstOverRaw2  = 1.25                 // first presentation ÷ the two raw ES256 checks, at most
	TargetHTTPOverInProc = 0.70                 // /v1/verify max rate ÷ in-process Verify on every core, at least
	TargetOpenLoopP99    = 5 * time.Millisecond // p99 at 80% of the max rate, open loop, at most
	TargetIssuePerSecond = 8000.0               // durable issuances over HTTP at 32 clients, at least
	TargetRevokeToServed = time.Second          // revoke acknowledged -> the served list shows it, at most
	OpenLoopShare        = 0.80                 // the open-loop run is offered this share of the max rate
)

// RawSig is one algorithm's result of verifier.BenchmarkVerifyOverRawSignatures.
type RawSig struct {
	Alg                  string
	First, Repeat, Raw2  time.Duration // per operation
	FirstRatio, RepRatio float64       // first/raw2, repeat/raw2 as the benchmark reported them
	Iterations           int64
}

// Encode is one status list encoding benchmark.
type Encode struct {
	Name    string // "IETF (2 bits, zlib)"
	PerOp   time.Duration
	MBPerS  float64
	Entries int
}

// Figures are the measurements of one run.
type Figures struct {
	When       time.Time
	Commit     string
	Machine    Machine
	LoadBefore Loadavg
	LoadAfter  Loadavg
	Command    string // how the run was started
	Settings   string // run lengths and iteration counts, as the report prints them
	Quick      bool   // tiny runs (a test of the tool): the figures mean nothing
	// Problems says what could not be measured, and why.
	Problems []string

	Raw []RawSig // ES256 first: the targets are about it

	// InProcPerSecond is verifier.Verify on every core (b.RunParallel),
	// in verifications per second, InProcProcs its GOMAXPROCS.
	InProcPerSecond float64
	InProcProcs     int
	// HandlerOverVerify is the /v1/verify handler's median over Verify's
	// (server.BenchmarkVerifyHandlerOverVerify); 0 when not measured.
	HandlerOverVerify float64

	VerifyMax  *Load // closed loop, VerifyClients clients
	VerifyOpen *Load // open loop at OpenLoopShare of VerifyMax's rate
	Issue      *Load // closed loop, IssueClients clients

	RevokeToServed, RevokeAck, RevokeGet time.Duration
	Encodes                              []Encode
}

// Row is one line of the targets table.
type Row struct {
	Measure  string
	Target   string
	Measured string
	Ratio    string
	Result   string // "pass", "**miss**" or "—" (no target)
}

// Verdict words.
const (
	Pass     = "pass"
	Miss     = "**miss**"
	NoTarget = "—"
)

func verdict(ok bool) string {
	if ok {
		return Pass
	}
	return Miss
}

// atMost and atLeast are false for a value that is not a number.
func atMost(v, limit float64) bool  { return !math.IsNaN(v) && v <= limit }
func atLeast(v, limit float64) bool { return !math.IsNaN(v) && v >= limit }

// Rows judges f against the targets. A figure that was not measured (nil
// or zero) is a miss, never a pass; a load run with failed or dropped
// requests misses whatever its rate, since it did not measure a service
// that answered.
func Rows(f Figures) []Row {
	var rows []Row
	if r, ok := f.rawFor("ES256"); ok {
		rows = append(rows,
			Row{"repeat presentation ÷ the two raw ES256 checks (in process)", fmt.Sprintf("≤ %.2f", TargetRepeatOverRaw2),
				fmt.Sprintf("%s ÷ %s", Dur(r.Repeat), Dur(r.Raw2)), fmt.Sprintf("%.2f", r.RepRatio), verdict(r.Repeat > 0 && atMost(r.RepRatio, TargetRepeatOverRaw2))},
			Row{"first presentation ÷ the two raw ES256 checks (in process)", fmt.Sprintf("≤ %.2f", TargetFirstOverRaw2),
				fmt.Sprintf("%s ÷ %s", Dur(r.First), Dur(r.Raw2)), fmt.Sprintf("%.2f", r.FirstRatio), verdict(r.First > 0 && atMost(r.FirstRatio, TargetFirstOverRaw2))},
		)
	} else {
		rows = append(rows,
			Row{"repeat presentation ÷ the two raw ES256 checks (in process)", fmt.Sprintf("≤ %.2f", TargetRepeatOverRaw2), "not measured", NoTarget, Miss},
			Row{"first presentation ÷ the two raw ES256 checks (in process)", fmt.Sprintf("≤ %.2f", TargetFirstOverRaw2), "not measured", NoTarget, Miss})
	}

	httpRow := Row{Measure: "`POST /v1/verify` max rate ÷ in-process `Verify` on every core", Target: fmt.Sprintf("≥ %.0f%%", TargetHTTPOverInProc*100)}
	if f.VerifyMax != nil && f.InProcPerSecond > 0 {
		ratio := f.VerifyMax.OKPerSecond / f.InProcPerSecond
		httpRow.Measured = fmt.Sprintf("%s/s ÷ %s/s", Count(f.VerifyMax.OKPerSecond), Count(f.InProcPerSecond))
		httpRow.Ratio = fmt.Sprintf("%.0f%%", ratio*100)
		httpRow.Result = verdict(f.VerifyMax.Clean() && atLeast(ratio, TargetHTTPOverInProc))
		if t := f.VerifyMax.Trouble(); t != "" {
			httpRow.Measured += " (" + t + ")"
		}
	} else {
		httpRow.Measured, httpRow.Ratio, httpRow.Result = "not measured", NoTarget, Miss
	}
	rows = append(rows, httpRow)

	openRow := Row{Measure: fmt.Sprintf("`POST /v1/verify` p99, open loop at %.0f%% of the max rate", OpenLoopShare*100), Target: "≤ " + Dur(TargetOpenLoopP99)}
	if o := f.VerifyOpen; o != nil {
		openRow.Measure = fmt.Sprintf("`POST /v1/verify` p99, open loop at %.0f%% of the max rate (%s/s offered)", OpenLoopShare*100, Count(o.OfferedRate))
		openRow.Measured = Dur(o.P99)
		openRow.Ratio = fmt.Sprintf("%.2f of the target", float64(o.P99)/float64(TargetOpenLoopP99))
		openRow.Result = verdict(o.Clean() && o.P99 > 0 && o.P99 <= TargetOpenLoopP99)
		if t := o.Trouble(); t != "" {
			openRow.Measured += " (" + t + ")"
		}
	} else {
		openRow.Measured, openRow.Ratio, openRow.Result = "not measured", NoTarget, Miss
	}
	rows = append(rows, openRow)

	issueRow := Row{Measure: "durable issuance over HTTP", Target: "≥ " + Count(TargetIssuePerSecond) + "/s"}
	if is := f.Issue; is != nil {
		issueRow.Measure = fmt.Sprintf("durable issuance over HTTP, %d clients", is.Concurrency)
		issueRow.Measured = Count(is.OKPerSecond) + "/s"
		issueRow.Ratio = fmt.Sprintf("%.2f of the target", is.OKPerSecond/TargetIssuePerSecond)
		issueRow.Result = verdict(is.Clean() && atLeast(is.OKPerSecond, TargetIssuePerSecond))
		if t := is.Trouble(); t != "" {
			issueRow.Measured += " (" + t + ")"
		}
	} else {
		issueRow.Measured, issueRow.Ratio, issueRow.Result = "not measured", NoTarget, Miss
	}
	rows = append(rows, issueRow)

	revRow := Row{Measure: "revoke → served (the first GET after the 200 shows it)", Target: "≤ " + Dur(TargetRevokeToServed)}
	if f.RevokeToServed > 0 {
		revRow.Measured = fmt.Sprintf("%s (revoke %s + GET %s)", Dur(f.RevokeToServed), Dur(f.RevokeAck), Dur(f.RevokeGet))
		revRow.Ratio = fmt.Sprintf("%.3f of the target", float64(f.RevokeToServed)/float64(TargetRevokeToServed))
		revRow.Result = verdict(f.RevokeToServed <= TargetRevokeToServed)
	} else {
		revRow.Measured, revRow.Ratio, revRow.Result = "not measured", NoTarget, Miss
	}
	rows = append(rows, revRow)

	for _, e := range f.Encodes {
		rows = append(rows, Row{fmt.Sprintf("encode a %s-entry status list, %s", Count(float64(e.Entries)), e.Name), "none",
			fmt.Sprintf("%s (%.1f MB/s)", Dur(e.PerOp), e.MBPerS), NoTarget, NoTarget})
	}
	return rows
}

func (f Figures) rawFor(alg string) (RawSig, bool) {
	for _, r := range f.Raw {
		if r.Alg == alg {
			return r, true
		}
	}
	return RawSig{}, false
}

// Render writes the generated section: a header with the run's facts,
// the targets table and the detail tables behind it.
func Render(f Figures) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("_Generated by `make bench-report` on %s UTC", f.When.UTC().Format("2006-01-02 15:04"))
	if f.Commit != "" {
		w(" at commit `%s`", f.Commit)
	}
	w("; do not edit by hand._\n\n")
	if f.Quick {
		w("**A quick run (`-quick`): every measurement shrunk to a few iterations; the figures mean nothing.**\n\n")
	}
	w("Machine: %s. **Load average (1 / 5 / 15 min): %s when measuring began (after the build), %s at the end**", f.Machine, f.LoadBefore, f.LoadAfter)
	if f.Machine.CPUs > 0 && f.LoadBefore.One > float64(f.Machine.CPUs) {
		w(" — more runnable work than CPUs, so absolute figures are low; the ratios, measured side by side, hold up better")
	}
	w(".\n")
	if f.Command != "" {
		w("Command: `%s`.\n", f.Command)
	}
	if f.Settings != "" {
		w("Settings: %s.\n", f.Settings)
	}
	w("\n| measure | target | measured | ratio | result |\n|---|---|---|---|---|\n")
	for _, r := range Rows(f) {
		w("| %s | %s | %s | %s | %s |\n", r.Measure, r.Target, r.Measured, r.Ratio, r.Result)
	}

	if len(f.Problems) > 0 {
		w("\nNot measured in this run:\n\n")
		for _, p := range f.Problems {
			w("- %s\n", strings.ReplaceAll(p, "|", "\\|"))
		}
	}
	if len(f.Raw) > 0 {
		w("\nIn process, `verifier.BenchmarkVerifyOverRawSignatures` (each iteration: a first presentation, a repeat presentation and the two raw `jws.Verify` checks, in turn):\n\n")
		w("| issuer and agent | iterations | first | repeat | two raw checks | first ÷ raw | repeat ÷ raw |\n|---|---|---|---|---|---|---|\n")
		for _, r := range f.Raw {
			w("| %s | %d | %s | %s | %s | %.2f | %.2f |\n", r.Alg, r.Iterations, Dur(r.First), Dur(r.Repeat), Dur(r.Raw2), r.FirstRatio, r.RepRatio)
		}
	}
	if f.InProcPerSecond > 0 || f.HandlerOverVerify > 0 {
		w("\n")
		if f.InProcPerSecond > 0 {
			w("In process on every core (`server.BenchmarkVerifyParallel`, GOMAXPROCS %d, the server's own credential as `POST /v1/verify` gets it): %s verifications/s. ", f.InProcProcs, Count(f.InProcPerSecond))
		}
		if f.HandlerOverVerify > 0 {
			w("The handler's median over `Verify`'s (`server.BenchmarkVerifyHandlerOverVerify`): %.2f.", f.HandlerOverVerify)
		}
		w("\n")
	}

	loads := []struct {
		what string
		l    *Load
	}{{"verify, closed loop (max rate)", f.VerifyMax}, {"verify, open loop", f.VerifyOpen}, {"issue, closed loop", f.Issue}}
	var any bool
	for _, x := range loads {
		any = any || x.l != nil
	}
	if any {
		w("\nOver HTTP (the real `agentcert serve` on loopback, `cmd/loadgen -json` on the same machine):\n\n")
		w("| run | clients / offered | requests | succeeded/s | p50 | p90 | p99 | p99.9 | failed | dropped |\n|---|---|---|---|---|---|---|---|---|---|\n")
		for _, x := range loads {
			l := x.l
			if l == nil {
				continue
			}
			load := fmt.Sprintf("%d clients", l.Concurrency)
			if l.Loop == "open" {
				load = Count(l.OfferedRate) + "/s"
			}
			w("| %s | %s | %s | %s | %s | %s | %s | %s | %d | %d |\n", x.what, load, Count(float64(l.Requests)), Count(l.OKPerSecond), Dur(l.P50), Dur(l.P90), Dur(l.P99), Dur(l.P999), l.Failed, l.Dropped)
		}
	}
	return b.String()
}

// Dur formats d with three significant figures in the unit that suits it.
func Dur(d time.Duration) string {
	switch ad := max(d, -d); {
	case ad >= time.Second:
		return sig3(d.Seconds()) + " s"
	case ad >= time.Millisecond:
		return sig3(float64(d)/1e6) + " ms"
	case ad >= time.Microsecond:
		return sig3(float64(d)/1e3) + " µs"
	default:
		return fmt.Sprintf("%d ns", d.Nanoseconds())
	}
}

func sig3(v float64) string {
	switch av := math.Abs(v); {
	case av >= 100:
		return fmt.Sprintf("%.0f", v)
	case av >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// Count formats a count or rate as an integer with thousands separators
// ("7,204").
func Count(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprint(v)
	}
	n := int64(math.Round(v))
	neg := n < 0
	if neg {
		n = -n
	}
	s := fmt.Sprint(n)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
