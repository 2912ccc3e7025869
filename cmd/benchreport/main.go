// Command benchreport is `make bench-report`: in one invocation it measures
// what issue 12's targets are about and rewrites the generated tables of
// docs/benchmarks.md (between the bench-report markers; everything else in
// the file stays as it is).
//
// It builds agentcert, loadgen and the test binaries of ./verifier,
// ./server and ./revocation into a temporary directory, then
//
//  1. runs, once each with a fixed iteration count, the in-process
//     benchmarks: verifier.BenchmarkVerifyOverRawSignatures (first and
//     repeat presentation beside the two raw signature checks, in turn in
//     every iteration), server.BenchmarkVerifyHandlerOverVerify,
//     server.BenchmarkRevokeToServed and the 1M-entry status list encoders;
//  2. starts the real `agentcert serve` on 127.0.0.1 (a free port, a
//     temporary data directory), takes an issuer token, issues an ES256
//     credential to an ES256 agent and presents it;
//  3. measures, back to back: server.BenchmarkVerifyParallel (Verify on
//     every core, in process), POST /v1/verify closed loop at -clients
//     (the max rate), open loop at 80% of that rate (p99), and durable
//     issuance closed loop at -issue-clients, with loadgen -json;
//  4. reads /proc/loadavg before and after, and the machine's facts.
//
// Usage (from the module root):
//
//	go run ./cmd/benchreport [-secs 10] [-clients 8] [-issue-clients 32] [-write=false] [-json FILE]
//
// -quick shrinks every run to seconds (for the end-to-end test; its
// figures mean nothing). Exit status: 0 when the report was written with
// every figure (whether or not the targets were met); 1 when something
// could not be measured (the report is still written, its rows say "not
// measured" and it lists why) or the run stopped; 2 on a usage error.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/agentcert/agentcert/internal/benchreport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed flags.
type options struct {
	root, doc, goCmd, jsonOut, command string
	secs                               time.Duration
	clients, issueClients, verifySlots int
	rawN, parallelN, handlerN          int
	revokeN, encodeN                   int
	quick, write, keep                 bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("benchreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.root, "root", ".", "module root (where go.mod is)")
	fs.StringVar(&o.doc, "doc", "docs/benchmarks.md", "document to rewrite between the bench-report markers (relative to -root)")
	fs.StringVar(&o.goCmd, "go", "go", "go command")
	fs.StringVar(&o.jsonOut, "json", "", "also write the figures as JSON to this file")
	fs.StringVar(&o.command, "command", "", "the command line to print in the report (default: this one)")
	o.secs = 10 * time.Second
	fs.Func("secs", "length of each loadgen run: seconds (10) or a duration (1m30s); default 10", func(v string) (err error) {
		o.secs, err = parseSecs(v)
		return err
	})
	fs.IntVar(&o.clients, "clients", 8, "verify, closed loop: concurrent clients for the max rate")
	fs.IntVar(&o.issueClients, "issue-clients", 32, "issue, closed loop: concurrent clients")
	fs.IntVar(&o.verifySlots, "verify-slots", 0, "the server's http.admission.verify.max_concurrent (0: its default, one fewer than GOMAXPROCS)")
	fs.IntVar(&o.rawN, "raw-n", 1000, "iterations of BenchmarkVerifyOverRawSignatures (each: first, repeat, raw2)")
	fs.IntVar(&o.parallelN, "parallel-n", 5000, "iterations of BenchmarkVerifyParallel")
	fs.IntVar(&o.handlerN, "handler-n", 1000, "iterations of BenchmarkVerifyHandlerOverVerify")
	fs.IntVar(&o.revokeN, "revoke-n", 300, "iterations of BenchmarkRevokeToServed")
	fs.IntVar(&o.encodeN, "encode-n", 20, "iterations of each status list encode benchmark")
	fs.BoolVar(&o.quick, "quick", false, "tiny runs everywhere (tests; the figures mean nothing)")
	fs.BoolVar(&o.write, "write", true, "rewrite -doc (false: print the generated tables)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binaries, server logs, loadgen reports)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if o.quick {
		o.secs, o.clients, o.issueClients = time.Second, 2, 4
		o.rawN, o.parallelN, o.handlerN, o.revokeN, o.encodeN = 10, 50, 10, 5, 1
	}
	if o.secs < 100*time.Millisecond {
		return o, fmt.Errorf("-secs %v: at least 100ms", o.secs)
	}
	for name, v := range map[string]int{"clients": o.clients, "issue-clients": o.issueClients, "raw-n": o.rawN, "parallel-n": o.parallelN, "handler-n": o.handlerN, "revoke-n": o.revokeN, "encode-n": o.encodeN} {
		if v <= 0 {
			return o, fmt.Errorf("-%s %d: must be positive", name, v)
		}
	}
	if o.verifySlots < 0 {
		return o, fmt.Errorf("-verify-slots %d: 0 (the server's default) or more", o.verifySlots)
	}
	if o.command == "" {
		o.command = strings.TrimSpace("go run ./cmd/benchreport " + strings.Join(args, " "))
	}
	if !filepath.IsAbs(o.doc) {
		o.doc = filepath.Join(o.root, o.doc)
	}
	return o, nil
}

// settings describes the run's lengths and iteration counts.
func (o options) settings() string {
	slots := "the server's default verify slots (one fewer than GOMAXPROCS)"
	if o.verifySlots > 0 {
		slots = fmt.Sprintf("%d verify slots (http.admission.verify.max_concurrent)", o.verifySlots)
	}
	return fmt.Sprintf("%v per HTTP run, verify at %d clients with %s, issue at %d; iterations: %d raw-signature rounds, %d parallel verifies, %d handler rounds, %d revocations, %d encodes of each list",
		o.secs, o.clients, slots, o.issueClients, o.rawN, o.parallelN, o.handlerN, o.revokeN, o.encodeN)
}

// parseSecs reads a number of seconds ("10", "2.5") or a duration ("1m").
func parseSecs(v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f <= 0 || f > 3600 || math.IsNaN(f) {
			return 0, fmt.Errorf("%q: between 0 and 3600 seconds", v)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q: seconds or a duration", v)
	}
	if d <= 0 || d > time.Hour {
		return 0, fmt.Errorf("%q: between 0 and an hour", v)
	}
	return d, nil
}

// run measures and writes the report; see the package comment for the
// exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(stderr, "benchreport:", err)
		}
		return 2
	}
	if _, err := os.Stat(filepath.Join(o.root, "go.mod")); err != nil {
		fmt.Fprintf(stderr, "benchreport: -root %s: no go.mod there\n", o.root)
		return 2
	}
	var doc []byte
	if o.write {
		// Refuse a document without markers before measuring anything.
		if doc, err = os.ReadFile(o.doc); err != nil {
			fmt.Fprintln(stderr, "benchreport:", err)
			return 2
		}
		if _, err := benchreport.Rewrite(string(doc), ""); err != nil {
			fmt.Fprintf(stderr, "benchreport: %s: %v\n", o.doc, err)
			return 2
		}
	}
	f, err := measure(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "benchreport:", err)
		return 1
	}
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(f, "", "  ")
		if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(stderr, "benchreport:", err)
			return 1
		}
	}
	rc := 0
	if len(f.Problems) > 0 {
		rc = 1 // the report is written, and says what was not measured
	}
	gen := benchreport.Render(*f)
	if !o.write {
		fmt.Fprint(stdout, gen)
		return rc
	}
	out, err := benchreport.Rewrite(string(doc), gen)
	if err != nil {
		fmt.Fprintf(stderr, "benchreport: %s: %v\n", o.doc, err)
		return 1
	}
	if err := os.WriteFile(o.doc, []byte(out), 0o644); err != nil {
		fmt.Fprintln(stderr, "benchreport:", err)
		return 1
	}
	fmt.Fprintf(stderr, "benchreport: wrote %s\n", o.doc)
	for _, r := range benchreport.Rows(*f) {
		fmt.Fprintf(stdout, "%-8s %s: %s (%s; target %s)\n", strings.Trim(r.Result, "*"), r.Measure, r.Measured, r.Ratio, r.Target)
	}
	for _, p := range f.Problems {
		fmt.Fprintf(stdout, "not measured: %s\n", p)
	}
	return rc
}

// measure runs everything and returns the figures. A step that fails
// (a benchmark renamed, a metric missing, the server not starting) is
// listed in the figures' Problems and its rows say "not measured"; the
// other steps still run. The error is for what stops the whole run: no
// temporary directory, a build that fails, an interrupt.
func measure(ctx context.Context, o options, stderr io.Writer) (*benchreport.Figures, error) {
	tmp, err := os.MkdirTemp("", "bench-report-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		fmt.Fprintf(stderr, "benchreport: keeping %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	e := &env{o: o, tmp: tmp, log: stderr}
	f := &benchreport.Figures{When: time.Now(), Command: o.command, Quick: o.quick, Settings: o.settings()}
	f.Machine = e.machine(ctx)
	f.Commit = e.commit(ctx)
	problem := func(what string, err error) {
		e.logf("%s: %v", what, err)
		f.Problems = append(f.Problems, fmt.Sprintf("%s: %v", what, firstLine(err)))
	}

	if err := e.build(ctx); err != nil {
		return nil, err
	}
	if f.LoadBefore, err = readLoadavg(); err != nil {
		problem("load average", err)
	}

	// In process, one benchmark at a time.
	if raw, err := e.bench(ctx, "verifier", "^"+benchreport.BenchRawSignatures+"$", o.rawN); err != nil {
		problem(benchreport.BenchRawSignatures, err)
	} else {
		for _, alg := range []string{"ES256", "EdDSA"} {
			if r, err := benchreport.RawSigFrom(raw, alg); err != nil {
				problem(benchreport.BenchRawSignatures, err)
			} else {
				f.Raw = append(f.Raw, r)
			}
		}
		if f.Machine.CPUModel == "" {
			f.Machine.CPUModel = raw.Config["cpu"]
		}
	}
	if h, err := e.bench(ctx, "server", "^"+benchreport.BenchHandler+"$", o.handlerN); err != nil {
		problem(benchreport.BenchHandler, err)
	} else if f.HandlerOverVerify, err = benchreport.HandlerFrom(h); err != nil {
		problem(benchreport.BenchHandler, err)
	}
	if rv, err := e.bench(ctx, "server", "^"+benchreport.BenchRevoke+"$", o.revokeN); err != nil {
		problem(benchreport.BenchRevoke, err)
	} else if f.RevokeToServed, f.RevokeAck, f.RevokeGet, err = benchreport.RevokeFrom(rv); err != nil {
		problem(benchreport.BenchRevoke, err)
	}
	if enc, err := e.bench(ctx, "revocation", "^("+benchreport.BenchEncodeIETF+"|"+benchreport.BenchEncodeW3C+")$", o.encodeN); err != nil {
		problem("status list encoding", err)
	} else {
		for _, x := range []struct{ bench, label string }{
			{benchreport.BenchEncodeIETF, "IETF Token Status List (2 bits, zlib)"},
			{benchreport.BenchEncodeW3C, "W3C Bitstring Status List (1 bit, GZIP)"},
		} {
			if en, err := benchreport.EncodeFrom(enc, x.bench, x.label); err != nil {
				problem(x.bench, err)
			} else {
				f.Encodes = append(f.Encodes, en)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// The real server.
	if srv, err := e.startServer(ctx); err != nil {
		problem("agentcert serve", err)
	} else {
		e.http(ctx, srv, f, problem)
		srv.stop(stderr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.LoadAfter, err = readLoadavg(); err != nil {
		problem("load average", err)
	}
	return f, nil
}

// firstLine is the first line of err's text (a failing command's output
// goes to the log, not into the document).
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// http runs the measurements against the real server: in-process Verify
// on every core right before the HTTP max rate, so the two share the
// machine's conditions as closely as two runs can. Without a credential
// and a clean warm-up nothing over HTTP is measured; each later step that
// fails is a problem of its own.
func (e *env) http(ctx context.Context, srv *server, f *benchreport.Figures, problem func(string, error)) {
	o := e.o
	issuerToken, err := srv.token(ctx, "issuer")
	if err != nil {
		problem("issuer token", err)
		return
	}
	if err := e.credential(ctx, srv, issuerToken); err != nil {
		problem("credential", err)
		return
	}
	pres, err := e.present(ctx)
	if err != nil {
		problem("presentation", err)
		return
	}
	verify := []string{"-mode", "verify", "-presentation", pres, "-aud", audience, "-nonce", nonce, "-action", action}
	// Warm up (issuer document, status list and credential cached); it
	// must be clean, or the setup is wrong and no verify figure counts.
	verifyOK := true
	if warm, err := e.loadgen(ctx, srv, "warmup", append(verify, "-n", "200", "-c", "1")); err != nil {
		problem("verify warm-up", err)
		verifyOK = false
	} else if !warm.Clean() {
		problem("verify warm-up", fmt.Errorf("verifications failed: %s", warm.Trouble()))
		verifyOK = false
	}

	if par, err := e.bench(ctx, "server", "^"+benchreport.BenchVerifyParallel+"$", o.parallelN); err != nil {
		problem(benchreport.BenchVerifyParallel, err)
	} else if f.InProcPerSecond, f.InProcProcs, err = benchreport.InProcFrom(par); err != nil {
		problem(benchreport.BenchVerifyParallel, err)
	}

	const long = "100000000"
	if verifyOK {
		if f.VerifyMax, err = e.loadgen(ctx, srv, "verify-max", append(verify, "-c", fmt.Sprint(o.clients), "-n", long, "-duration", o.secs.String())); err != nil {
			problem("verify, closed loop", err)
		}
	}
	if f.VerifyMax != nil {
		rate := benchreport.OpenLoopShare * f.VerifyMax.OKPerSecond
		if rate < 1 {
			problem("verify, open loop", fmt.Errorf("max rate %.1f/s: too low to run an open loop at %.0f%% of it", f.VerifyMax.OKPerSecond, benchreport.OpenLoopShare*100))
		} else if pres, err = e.present(ctx); err != nil { // a KB-JWT younger than the verifier's max age
			problem("presentation", err)
		} else {
			verify[3] = pres
			n := max(1, int(rate*o.secs.Seconds()))
			if f.VerifyOpen, err = e.loadgen(ctx, srv, "verify-open", append(verify, "-rate", fmt.Sprintf("%.1f", rate), "-n", fmt.Sprint(n), "-max-inflight", "4096", "-duration", (2*o.secs+10*time.Second).String())); err != nil {
				problem("verify, open loop", err)
			}
		}
	}
	if f.Issue, err = e.loadgen(ctx, srv, "issue", []string{"-mode", "issue", "-token", issuerToken, "-c", fmt.Sprint(o.issueClients), "-n", long, "-duration", o.secs.String()}); err != nil {
		problem("issue, closed loop", err)
	}
}

// machine describes this machine.
func (e *env) machine(ctx context.Context) benchreport.Machine {
	m := benchreport.Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = benchreport.CPUModel(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if v, err := e.output(ctx, e.o.root, e.o.goCmd, "env", "GOVERSION"); err == nil && strings.TrimSpace(v) != "" {
		m.GoVersion = strings.TrimSpace(v) // the toolchain that builds the binaries
	}
	return m
}

// commit is the short hash of HEAD, "-dirty" when the work tree differs
// from it (the generated document aside), "" outside git.
func (e *env) commit(ctx context.Context) string {
	h, err := e.output(ctx, e.o.root, "git", "rev-parse", "--short=12", "HEAD")
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(h)
	st, err := e.output(ctx, e.o.root, "git", "status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return c
	}
	rel, _ := filepath.Rel(e.o.root, e.o.doc)
	for _, line := range strings.Split(st, "\n") {
		if len(line) > 3 && filepath.ToSlash(strings.TrimSpace(line[3:])) != filepath.ToSlash(rel) {
			return c + "-dirty"
		}
	}
	return c
}

func readLoadavg() (benchreport.Loadavg, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return benchreport.Loadavg{}, fmt.Errorf("load average: %w", err)
	}
	return benchreport.ParseLoadavg(string(b))
}
