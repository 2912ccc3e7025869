// Command loadgen is agentcert's HTTP load tool. It sends a bounded number of
// requests (-n, and at most -duration) to one agentcert service and prints
// the achieved rate, latency percentiles (p50, p90, p99, p99.9, and p50 and
// p99 of the succeeded requests alone) and errors by status, overall and per
// kind of request.
//
// Two ways to send:
//
//	closed loop (default)  -c clients each send their next request when the
//	                       previous one was answered; the rate is whatever the
//	                       server sustains, and queueing hides in the clients
//	open loop (-rate N)    requests leave on a fixed schedule, N per second,
//	                       whatever the latency, and each latency is counted
//	                       from the moment its request was due: a server that
//	                       falls behind shows it in the percentiles. How
//	                       late the tool itself sent them is reported as
//	                       "sent late" (on Linux it sleeps on a thread of
//	                       its own with nanosleep, and sends within tens of
//	                       microseconds of the due time). At most
//	                       -max-inflight requests are outstanding; one that is
//	                       due while that many are is counted as "dropped"
//
// Modes:
//
//	-mode issue    POST /v1/credentials with a valid certification request for
//	               a fresh agent did:key (bearer -token, role issuer); with
//	               -idempotency each request carries its own Idempotency-Key
//	-mode verify   POST /v1/verify with the presentation in -presentation,
//	               -aud and -nonce; a 200 whose result is not verified counts
//	               as an error, by its first code. With -fresh, -presentation
//	               is a presentation without a KB-JWT (or an SD-JWT to present
//	               whole) and -key the holder's private JWK: every request
//	               carries its own KB-JWT (fresh iat and nonce; with
//	               -server-nonce the nonce comes from GET /v1/nonce, as an
//	               agent would ask for it, inside the measured time)
//	-mode status   GET -status-path (e.g. /statuslists/1)
//	-mode post     POST the JSON file -body to -path, as is
//	-mode mix      a mixed workload: -mix verify=8,issue=1,status=1 sends the
//	               kinds in those proportions, interleaved; each kind takes
//	               its own flags as above
//
// Example, against a local server:
//
//	loadgen -url http://127.0.0.1:8080 -token "$TOKEN" -mode issue -n 5000 -c 32
//	loadgen -mode verify -presentation p.txt -key agent.jwk -fresh -aud https://v.example -rate 2000 -n 20000
//
// It only ever talks to -url; it is meant for loopback and test deployments.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed flags.
type options struct {
	url, token, mode           string
	n, c, maxInflight          int
	rate                       float64
	duration, timeout          time.Duration
	presentation, aud, nonce   string
	key                        string
	fresh, serverNonce         bool
	action                     string
	body, path                 string
	statusPath                 string
	mix, client                string
	idempotency, asJSON, quiet bool
}

// run parses args, runs the load and prints the report. It returns the exit
// status: 0 when every request succeeded, 1 when some failed, 2 on a usage
// error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "base URL of the agentcert service")
	fs.StringVar(&o.token, "token", os.Getenv("AGENTCERT_TOKEN"), "bearer token (default $AGENTCERT_TOKEN)")
	fs.StringVar(&o.mode, "mode", "issue", "issue | verify | status | post | mix")
	fs.IntVar(&o.n, "n", 1000, "total requests")
	fs.IntVar(&o.c, "c", 16, "closed loop: concurrent clients")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: requests per second on a fixed schedule (0 = closed loop)")
	fs.IntVar(&o.maxInflight, "max-inflight", 4096, "open loop: most requests outstanding at once")
	fs.DurationVar(&o.duration, "duration", time.Minute, "stop after this long even if -n requests were not sent")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.StringVar(&o.presentation, "presentation", "", "verify: file with the presentation")
	fs.StringVar(&o.aud, "aud", "", "verify: audience")
	fs.StringVar(&o.nonce, "nonce", "", "verify: nonce (with -fresh: a prefix of each request's own nonce)")
	fs.StringVar(&o.key, "key", "", "verify -fresh: the holder's private JWK file")
	fs.BoolVar(&o.fresh, "fresh", false, "verify: a fresh KB-JWT for every request")
	fs.BoolVar(&o.serverNonce, "server-nonce", false, "verify -fresh: take each nonce from GET /v1/nonce")
	fs.StringVar(&o.action, "action", "", "verify: action to authorize (optional)")
	fs.StringVar(&o.body, "body", "", "post: JSON file to send")
	fs.StringVar(&o.path, "path", "", "post: path to send it to (e.g. /v1/verify)")
	fs.StringVar(&o.statusPath, "status-path", "", "status: path of the status list to GET (e.g. /statuslists/1)")
	fs.StringVar(&o.mix, "mix", "", "mix: kinds and weights, e.g. verify=8,issue=1,status=1")
	fs.BoolVar(&o.idempotency, "idempotency", false, "issue: send a unique Idempotency-Key with each request")
	fs.BoolVar(&o.asJSON, "json", false, "print the report as JSON")
	fs.StringVar(&o.client, "client", "lean", "HTTP client for http:// URLs: lean (keep-alive connections read and written on the sending goroutine) or std (net/http's Transport)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen: unexpected arguments %v\n", fs.Args())
		return 2
	}
	w, err := newWorkload(o)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	rep := load(ctx, o, w)
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		rep.print(stdout)
	}
	if rep.Failed > 0 || rep.Dropped > 0 || rep.Requests == 0 {
		return 1
	}
	return 0
}
