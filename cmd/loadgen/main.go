// Command loadgen is agentcert's HTTP load tool. It sends a bounded number of
// requests (-n, and at most -duration) from -c concurrent clients to one
// agentcert service and prints requests/s, latency percentiles and errors by
// status.
//
// Modes:
//
//	-mode issue    POST /v1/credentials with a valid certification request for
//	               a fresh agent did:key (bearer -token, role issuer); with
//	               -idempotency each request carries its own Idempotency-Key
//	-mode verify   POST /v1/verify with the presentation in -presentation,
//	               -aud and -nonce; a 200 whose result is not verified counts
//	               as an error, by its first code
//	-mode post     POST the JSON file -body to -path, as is
//
// Example, against a local server:
//
//	loadgen -url http://127.0.0.1:8080 -token "$TOKEN" -mode issue -n 5000 -c 32
//
// It only ever talks to -url; it is meant for loopback and test deployments.
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed flags.
type options struct {
	url, token, mode           string
	n, c                       int
	duration, timeout          time.Duration
	presentation, aud, nonce   string
	action                     string
	body, path                 string
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
	fs.StringVar(&o.mode, "mode", "issue", "issue | verify | post")
	fs.IntVar(&o.n, "n", 1000, "total requests")
	fs.IntVar(&o.c, "c", 16, "concurrent clients")
	fs.DurationVar(&o.duration, "duration", time.Minute, "stop after this long even if -n requests were not sent")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.StringVar(&o.presentation, "presentation", "", "verify: file with the presentation")
	fs.StringVar(&o.aud, "aud", "", "verify: audience")
	fs.StringVar(&o.nonce, "nonce", "", "verify: nonce")
	fs.StringVar(&o.action, "action", "", "verify: action to authorize (optional)")
	fs.StringVar(&o.body, "body", "", "post: JSON file to send")
	fs.StringVar(&o.path, "path", "", "post: path to send it to (e.g. /v1/verify)")
	fs.BoolVar(&o.idempotency, "idempotency", false, "issue: send a unique Idempotency-Key with each request")
	fs.BoolVar(&o.asJSON, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen: unexpected arguments %v\n", fs.Args())
		return 2
	}
	target, err := newTarget(o)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	rep := load(ctx, o, target)
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		rep.print(stdout)
	}
	if rep.Failed > 0 || rep.Requests == 0 {
		return 1
	}
	return 0
}

// target builds the requests of one mode.
type target struct {
	method, url string
	body        func(i int64) []byte
	header      func(i int64) http.Header
	// check classifies a 2xx answer: "" is a success, anything else the
	// error class it is counted under.
	check func(status int, body []byte) string
}

func newTarget(o options) (*target, error) {
	if o.n <= 0 || o.c <= 0 {
		return nil, errors.New("-n and -c must be positive")
	}
	if o.duration <= 0 || o.timeout <= 0 {
		return nil, errors.New("-duration and -timeout must be positive")
	}
	base, err := url.Parse(strings.TrimRight(o.url, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("-url %q is not an http(s) URL", o.url)
	}
	hdr := http.Header{"Content-Type": {"application/json"}}
	if o.token != "" {
		hdr.Set("Authorization", "Bearer "+o.token)
	}
	t := &target{method: http.MethodPost, header: func(int64) http.Header { return hdr }, check: func(int, []byte) string { return "" }}
	switch o.mode {
	case "issue":
		if o.token == "" {
			return nil, errors.New("-mode issue needs -token (role issuer)")
		}
		body, err := issueBody()
		if err != nil {
			return nil, err
		}
		t.url = base.String() + "/v1/credentials"
		t.body = func(int64) []byte { return body }
		if o.idempotency {
			prefix := randomHex(8)
			t.header = func(i int64) http.Header {
				h := hdr.Clone()
				h.Set("Idempotency-Key", fmt.Sprintf("loadgen-%s-%d", prefix, i))
				return h
			}
		}
	case "verify":
		if o.presentation == "" || o.aud == "" {
			return nil, errors.New("-mode verify needs -presentation and -aud")
		}
		p, err := os.ReadFile(o.presentation)
		if err != nil {
			return nil, err
		}
		body, err := json.Marshal(map[string]string{"presentation": strings.TrimSpace(string(p)), "audience": o.aud, "nonce": o.nonce, "action": o.action})
		if err != nil {
			return nil, err
		}
		t.url = base.String() + "/v1/verify"
		t.body = func(int64) []byte { return body }
		t.check = checkVerified
	case "post":
		if o.body == "" || !strings.HasPrefix(o.path, "/") {
			return nil, errors.New("-mode post needs -body FILE and -path /...")
		}
		body, err := os.ReadFile(o.body)
		if err != nil {
			return nil, err
		}
		if !json.Valid(body) {
			return nil, fmt.Errorf("%s is not JSON", o.body)
		}
		t.url = base.String() + o.path
		t.body = func(int64) []byte { return body }
	default:
		return nil, fmt.Errorf("-mode %q: use issue, verify or post", o.mode)
	}
	return t, nil
}

// checkVerified counts a /v1/verify answer that did not verify as an error.
func checkVerified(_ int, body []byte) string {
	var res struct {
		Verified bool `json:"verified"`
		Errors   []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return "bad verify answer"
	}
	if res.Verified {
		return ""
	}
	code := "unknown"
	if len(res.Errors) > 0 {
		code = res.Errors[0].Code
	}
	return "not verified: " + code
}

// issueBody is a valid issuance request for a fresh agent did:key, with
// every permission selectively disclosable.
func issueBody() ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := jwk.FromRaw(priv.Public())
	if err != nil {
		return nil, err
	}
	agent, err := did.KeyDID(key)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"subject": agent,
		"claims": map[string]any{
			"principal":    map[string]any{"id": "did:web:acme.example", "name": "ACME Corp", "type": "organization"},
			"agent":        map[string]any{"class": "loadgen-agent", "version": "1.0.0"},
			"permissions":  []any{map[string]any{"action": "invoices:read"}, map[string]any{"action": "invoices:list"}},
			"prohibitions": []any{"payments:initiate"},
			"autonomy":     "supervised",
		},
		"selectively_disclosable": []string{"/permissions/*"},
		"valid_for":               "24h",
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// Report is the outcome of a run.
type Report struct {
	Mode        string         `json:"mode"`
	URL         string         `json:"url"`
	Concurrency int            `json:"concurrency"`
	Requests    int64          `json:"requests"` // answered or failed
	Succeeded   int64          `json:"succeeded"`
	Failed      int64          `json:"failed"`
	Elapsed     time.Duration  `json:"elapsed_ns"`
	PerSecond   float64        `json:"requests_per_second"`
	OKPerSecond float64        `json:"succeeded_per_second"`
	P50         time.Duration  `json:"p50_ns"`
	P90         time.Duration  `json:"p90_ns"`
	P99         time.Duration  `json:"p99_ns"`
	Max         time.Duration  `json:"max_ns"`
	Errors      map[string]int `json:"errors"`  // by status ("409", "transport", "200 not verified: revoked")
	Stopped     string         `json:"stopped"` // "n", "duration" or "interrupted"
}

func (r *Report) print(w io.Writer) {
	fmt.Fprintf(w, "mode %s, %s, %d clients: %d requests in %s (stopped by %s)\n", r.Mode, r.URL, r.Concurrency, r.Requests, r.Elapsed.Round(time.Millisecond), r.Stopped)
	fmt.Fprintf(w, "requests/s:  %.1f (succeeded/s %.1f)\n", r.PerSecond, r.OKPerSecond)
	fmt.Fprintf(w, "latency:     p50 %s  p90 %s  p99 %s  max %s\n", r.P50, r.P90, r.P99, r.Max)
	fmt.Fprintf(w, "succeeded:   %d\nfailed:      %d\n", r.Succeeded, r.Failed)
	keys := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-30s %d\n", k, r.Errors[k])
	}
}

// load sends the requests and measures them.
func load(ctx context.Context, o options, t *target) *Report {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost, tr.MaxConnsPerHost = o.c, o.c, o.c
	client := &http.Client{Transport: tr, Timeout: o.timeout}
	defer tr.CloseIdleConnections()

	var next atomic.Int64
	type result struct {
		lat []time.Duration
		ok  int64
		err map[string]int
	}
	results := make([]result, o.c)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range o.c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[w]
			res.err = map[string]int{}
			for {
				i := next.Add(1)
				if i > int64(o.n) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				class := send(ctx, client, t, i)
				if class == "canceled" {
					return // the run ended while this request was in flight
				}
				res.lat = append(res.lat, time.Since(t0))
				if class == "" {
					res.ok++
				} else {
					res.err[class]++
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	rep := &Report{Mode: o.mode, URL: t.url, Concurrency: o.c, Elapsed: elapsed, Errors: map[string]int{}, Stopped: "n"}
	switch {
	case next.Load() > int64(o.n):
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		rep.Stopped = "duration"
	default:
		rep.Stopped = "interrupted"
	}
	var lat []time.Duration
	for _, r := range results {
		lat = append(lat, r.lat...)
		rep.Succeeded += r.ok
		for k, v := range r.err {
			rep.Errors[k] += v
			rep.Failed += int64(v)
		}
	}
	rep.Requests = int64(len(lat))
	if s := elapsed.Seconds(); s > 0 {
		rep.PerSecond = float64(rep.Requests) / s
		rep.OKPerSecond = float64(rep.Succeeded) / s
	}
	slices.Sort(lat)
	rep.P50, rep.P90, rep.P99 = percentile(lat, 50), percentile(lat, 90), percentile(lat, 99)
	if len(lat) > 0 {
		rep.Max = lat[len(lat)-1]
	}
	return rep
}

// percentile returns the p-th percentile (nearest rank) of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// send makes request i and returns its error class ("" on success,
// "canceled" when the run ended first).
func send(ctx context.Context, client *http.Client, t *target, i int64) string {
	req, err := http.NewRequestWithContext(ctx, t.method, t.url, bytes.NewReader(t.body(i)))
	if err != nil {
		return "request"
	}
	req.Header = t.header(i)
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "canceled"
		}
		return "transport"
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		if ctx.Err() != nil {
			return "canceled"
		}
		return "transport"
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Sprint(resp.StatusCode)
	}
	if c := t.check(resp.StatusCode, body); c != "" {
		return fmt.Sprintf("%d %s", resp.StatusCode, c)
	}
	return ""
}
