package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Stats are the figures of a set of requests: all of a run, or one kind.
type Stats struct {
	Requests  int64         `json:"requests"` // answered or failed
	Succeeded int64         `json:"succeeded"`
	Failed    int64         `json:"failed"`
	PerSecond float64       `json:"requests_per_second"` // achieved: answered per second of the run
	OKPerSec  float64       `json:"succeeded_per_second"`
	P50       time.Duration `json:"p50_ns"`
	P90       time.Duration `json:"p90_ns"`
	P99       time.Duration `json:"p99_ns"`
	P999      time.Duration `json:"p999_ns"`
	Max       time.Duration `json:"max_ns"`
	// OKP50 and OKP99 are the percentiles of the succeeded requests alone
	// (a server that sheds answers its refusals fast; these say what the
	// admitted ones saw).
	OKP50  time.Duration  `json:"succeeded_p50_ns"`
	OKP99  time.Duration  `json:"succeeded_p99_ns"`
	Errors map[string]int `json:"errors"` // by status ("409", "transport", "200 not verified: revoked")
}

// Report is the outcome of a run.
type Report struct {
	Mode        string  `json:"mode"`
	URL         string  `json:"url"`
	Loop        string  `json:"loop"`                   // "closed" or "open"
	Concurrency int     `json:"concurrency"`            // closed loop: clients
	OfferedRate float64 `json:"offered_rate,omitempty"` // open loop: requests due per second
	Stats
	// Dropped counts open-loop requests that fell due while -max-inflight
	// were outstanding; they were never sent.
	Dropped int64 `json:"dropped"`
	// LateP50 and LateP99 (open loop) say how long after falling due the
	// requests were sent: the load tool's own share of the latencies.
	LateP50 time.Duration     `json:"sent_late_p50_ns,omitempty"`
	LateP99 time.Duration     `json:"sent_late_p99_ns,omitempty"`
	Elapsed time.Duration     `json:"elapsed_ns"`
	Kinds   map[string]*Stats `json:"kinds"`
	Stopped string            `json:"stopped"` // "n", "duration" or "interrupted"
}

func (r *Report) print(w io.Writer) {
	if r.Loop == "open" {
		fmt.Fprintf(w, "mode %s, %s, open loop at %.1f/s: %d requests in %s (stopped by %s)\n", r.Mode, r.URL, r.OfferedRate, r.Requests, r.Elapsed.Round(time.Millisecond), r.Stopped)
	} else {
		fmt.Fprintf(w, "mode %s, %s, %d clients: %d requests in %s (stopped by %s)\n", r.Mode, r.URL, r.Concurrency, r.Requests, r.Elapsed.Round(time.Millisecond), r.Stopped)
	}
	r.Stats.print(w, "")
	if r.Loop == "open" {
		fmt.Fprintf(w, "dropped:     %d\n", r.Dropped)
		fmt.Fprintf(w, "sent late:   p50 %s  p99 %s\n", r.LateP50, r.LateP99)
	}
	if len(r.Kinds) > 1 {
		names := make([]string, 0, len(r.Kinds))
		for k := range r.Kinds {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(w, "-- %s\n", k)
			r.Kinds[k].print(w, "   ")
		}
	}
}

func (s *Stats) print(w io.Writer, indent string) {
	fmt.Fprintf(w, "%srequests/s:  %.1f (succeeded/s %.1f)\n", indent, s.PerSecond, s.OKPerSec)
	fmt.Fprintf(w, "%slatency:     p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", indent, s.P50, s.P90, s.P99, s.P999, s.Max)
	if s.Failed > 0 && s.Succeeded > 0 {
		fmt.Fprintf(w, "%ssucceeded:   p50 %s  p99 %s\n", indent, s.OKP50, s.OKP99)
	}
	fmt.Fprintf(w, "%ssucceeded:   %d\n%sfailed:      %d\n", indent, s.Succeeded, indent, s.Failed)
	keys := make([]string, 0, len(s.Errors))
	for k := range s.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s  %-30s %d\n", indent, k, s.Errors[k])
	}
}

// sample is one answered request.
type sample struct {
	kind  int
	lat   time.Duration
	late  time.Duration // open loop: from falling due to being sent
	class string        // "" on success
}

// recorder collects samples from many goroutines.
type recorder struct {
	mu      sync.Mutex
	samples []sample
}

func (r *recorder) add(s sample) {
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.mu.Unlock()
}

// load sends the requests and measures them.
func load(ctx context.Context, o options, w *workload) *Report {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	client := newClient(o, w)
	defer client.CloseIdleConnections()

	rec := &recorder{}
	start := time.Now()
	var sent int64
	var dropped atomic.Int64
	if o.rate > 0 {
		sent = openLoop(ctx, o, w, client, rec, &dropped, start)
	} else {
		sent = closedLoop(ctx, o, w, client, rec)
	}
	elapsed := time.Since(start)

	rep := &Report{Mode: o.mode, URL: w.targets[0].url, Loop: "closed", Concurrency: o.c, Elapsed: elapsed, Stopped: "n", Dropped: dropped.Load(), Kinds: map[string]*Stats{}}
	if o.mode == "mix" {
		rep.URL = o.url
	}
	if o.rate > 0 {
		rep.Loop, rep.Concurrency, rep.OfferedRate = "open", 0, o.rate
		late := make([]time.Duration, len(rec.samples))
		for i, s := range rec.samples {
			late[i] = s.late
		}
		slices.Sort(late)
		rep.LateP50, rep.LateP99 = percentile(late, 50), percentile(late, 99)
	}
	switch {
	case sent >= int64(o.n):
	case errors.Is(ctx.Err(), context.DeadlineExceeded), ctx.Err() == nil && ended(ctx):
		rep.Stopped = "duration"
	default:
		rep.Stopped = "interrupted"
	}
	byKind := make([][]sample, len(w.targets))
	for _, s := range rec.samples {
		byKind[s.kind] = append(byKind[s.kind], s)
	}
	rep.Stats = summarize(rec.samples, elapsed)
	for k, t := range w.targets {
		st := summarize(byKind[k], elapsed)
		rep.Kinds[t.kind] = &st
	}
	return rep
}

// newClient is the run's HTTP client: connTransport for http:// (the
// default; -client std picks net/http's Transport), net/http's Transport
// for https://. Either keeps as many connections as requests can be
// outstanding: -c in a closed loop, -max-inflight in an open one, where
// connections must not become a client-side queue.
func newClient(o options, w *workload) *http.Client {
	idle := o.c
	if o.rate > 0 {
		idle = o.maxInflight
	}
	if w.host != "" && o.client == "lean" {
		return &http.Client{Transport: newConnTransport(w.host, o.timeout, idle)}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = idle, idle
	if o.rate == 0 {
		tr.MaxConnsPerHost = o.c
	}
	return &http.Client{Transport: tr, Timeout: o.timeout}
}

// closedLoop runs o.c clients, each sending its next request when the last
// was answered. It returns how many requests were taken.
func closedLoop(ctx context.Context, o options, w *workload, client *http.Client, rec *recorder) int64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range o.c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(o.n) || ended(ctx) {
					return
				}
				k := w.cycle[(i-1)%int64(len(w.cycle))]
				t0 := time.Now()
				class := send(ctx, client, w.targets[k], i)
				if class == "canceled" {
					return // the run ended while this request was in flight
				}
				rec.add(sample{kind: k, lat: time.Since(t0), class: class})
			}
		}()
	}
	wg.Wait()
	return min(next.Load(), int64(o.n))
}

// openLoop sends request i when it falls due, start + (i-1)/rate, whether or
// not earlier ones were answered, and measures each from that moment. It
// returns how many requests fell due.
func openLoop(ctx context.Context, o options, w *workload, client *http.Client, rec *recorder, dropped *atomic.Int64, start time.Time) int64 {
	interval := float64(time.Second) / o.rate
	var inflight atomic.Int64
	var wg sync.WaitGroup
	var due int64
	p := newPacer()
	defer p.release()
	for i := int64(1); i <= int64(o.n); i++ {
		at := start.Add(time.Duration(math.Round(float64(i-1) * interval)))
		if time.Until(at) > 0 {
			if !p.sleepUntil(ctx, at) {
				wg.Wait()
				return due
			}
		} else if ended(ctx) {
			break
		}
		due = i
		if inflight.Load() >= int64(o.maxInflight) {
			dropped.Add(1)
			continue
		}
		inflight.Add(1)
		wg.Add(1)
		k := w.cycle[(i-1)%int64(len(w.cycle))]
		go func(i int64, k int, at time.Time) {
			defer wg.Done()
			defer inflight.Add(-1)
			late := time.Since(at)
			class := send(ctx, client, w.targets[k], i)
			if class == "canceled" {
				return
			}
			rec.add(sample{kind: k, lat: time.Since(at), late: late, class: class})
		}(i, k, at)
	}
	wg.Wait()
	return due
}

func summarize(samples []sample, elapsed time.Duration) Stats {
	st := Stats{Errors: map[string]int{}}
	lat := make([]time.Duration, 0, len(samples))
	var ok []time.Duration
	for _, s := range samples {
		lat = append(lat, s.lat)
		if s.class == "" {
			ok = append(ok, s.lat)
			st.Succeeded++
		} else {
			st.Errors[s.class]++
			st.Failed++
		}
	}
	st.Requests = int64(len(lat))
	if s := elapsed.Seconds(); s > 0 {
		st.PerSecond = float64(st.Requests) / s
		st.OKPerSec = float64(st.Succeeded) / s
	}
	slices.Sort(lat)
	slices.Sort(ok)
	st.OKP50, st.OKP99 = percentile(ok, 50), percentile(ok, 99)
	st.P50, st.P90, st.P99, st.P999 = percentile(lat, 50), percentile(lat, 90), percentile(lat, 99), percentile(lat, 99.9)
	if len(lat) > 0 {
		st.Max = lat[len(lat)-1]
	}
	return st
}

// percentile returns the p-th percentile (nearest rank) of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

// ended reports whether the run is over: its context is done, or its
// deadline has passed (a socket deadline taken from the context can expire
// a moment before the context's own timer marks it done).
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// send makes request i and returns its error class ("" on success,
// "canceled" when the run ended first).
func send(ctx context.Context, client *http.Client, t *target, i int64) string {
	body, err := t.body(ctx, client, i)
	if err != nil {
		if ended(ctx) {
			return "canceled"
		}
		if errors.Is(err, errNonce) {
			return "nonce"
		}
		return "request"
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, t.method, t.url, rd)
	if err != nil {
		return "request"
	}
	req.Header = t.header(i)
	resp, err := client.Do(req)
	if err != nil {
		if ended(ctx) {
			return "canceled"
		}
		return "transport"
	}
	defer resp.Body.Close()
	var b []byte
	if ab, ok := resp.Body.(answerBody); ok {
		b = ab.b // read whole by connTransport
	} else if b, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer)); err != nil {
		if ended(ctx) {
			return "canceled"
		}
		return "transport"
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Sprint(resp.StatusCode)
	}
	if c := t.check(resp.StatusCode, b); c != "" {
		return fmt.Sprintf("%d %s", resp.StatusCode, c)
	}
	return ""
}
