package server

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/agentcert/agentcert/internal/testkit"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestEveryRouteHasAnAdmissionClass: the fully wired server's routes are
// exactly the classified ones, health, readiness and metrics are never
// shed, and a route added without a class makes New's check fail.
func TestEveryRouteHasAnAdmissionClass(t *testing.T) {
	env := NewTestEnv(t, nil)
	served := map[string]bool{}
	_ = env.Server.router.Walk(func(r *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		if r.GetHandler() == nil {
			return nil
		}
		tmpl, _ := r.GetPathTemplate()
		methods, _ := r.GetMethods()
		for _, m := range methods {
			served[m+" "+tmpl] = true
		}
		return nil
	})
	for route := range routeClasses() {
		if !served[route] {
			t.Errorf("routeClasses lists %s, which the server does not serve", route)
		}
	}
	for _, route := range []string{"GET /healthz", "GET /readyz", "GET /metrics"} {
		if l, ok := env.Server.admission.routes[route]; !ok || l != nil {
			t.Errorf("%s must never be shed", route)
		}
	}
	env.Server.router.HandleFunc("/v1/unclassified", func(http.ResponseWriter, *http.Request) {}).Methods(http.MethodPut)
	if err := env.Server.admission.checkRoutes(env.Server.router); err == nil {
		t.Fatal("a route without a class passed the check")
	}
}

// count is a counter's value.
func count(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// holdSlot starts a POST /v1/verify whose body never ends, so that the
// request holds a verify slot until the returned function is called.
func holdSlot(t *testing.T, url string) func() {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/verify", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	return func() {
		pw.CloseWithError(io.ErrUnexpectedEOF)
		<-done
	}
}

// wantShed checks a 503 overloaded answer: Retry-After and problem+json.
func wantShed(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%s: status %d (%s), want 503", what, resp.StatusCode, body)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("%s: Retry-After %q, want whole seconds", what, resp.Header.Get("Retry-After"))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%s: Content-Type %q", what, ct)
	}
	var p Problem
	if err := json.Unmarshal(body, &p); err != nil || p.Code != errcode.Overloaded || p.Status != 503 {
		t.Fatalf("%s: problem %s (%v), want code overloaded", what, body, err)
	}
}

func get(t *testing.T, ctx context.Context, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return http.DefaultClient.Do(req)
}

// TestLoadSheddingOverHTTP: with one verify slot and a queue of one, a
// second request waits, a third is shed at once with 503 overloaded,
// Retry-After and problem+json; other classes and the health endpoints are
// unaffected; a waiter whose client goes away leaves the queue; once the
// slot is free the next request is served.
func TestLoadSheddingOverHTTP(t *testing.T) {
	env := NewTestEnv(t, func(c *config.Config) {
		c.HTTP.Admission.Verify = config.AdmissionClass{MaxConcurrent: 1, MaxQueue: 1, QueueTimeout: time.Hour}
	})
	s := env.Server
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	lim := s.admission.classes[classVerify]

	release := holdSlot(t, srv.URL)
	testkit.Eventually(t, "the held request has the slot", func() bool { return lim.Active() == 1 })

	ctx, cancel := context.WithCancel(context.Background())
	waiter := make(chan error, 1)
	go func() {
		resp, err := get(t, ctx, srv.URL+"/v1/nonce")
		if err == nil {
			resp.Body.Close()
		}
		waiter <- err
	}()
	testkit.Eventually(t, "the second request waits", func() bool { return lim.Waiting() == 1 })

	resp, err := get(t, context.Background(), srv.URL+"/v1/nonce")
	if err != nil {
		t.Fatal(err)
	}
	wantShed(t, "past the queue bound", resp)
	if n := count(s.metrics.shedded.WithLabelValues(classVerify, "queue_full")); n != 1 {
		t.Fatalf("shed queue_full %v, want 1", n)
	}

	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/openapi.yaml", "/.well-known/did.json"} {
		resp, err := get(t, context.Background(), srv.URL+path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s while verify is saturated: %d", path, resp.StatusCode)
		}
	}

	cancel()
	if err := <-waiter; err == nil {
		t.Fatal("the cancelled request got an answer")
	}
	testkit.Eventually(t, "the cancelled request left the queue", func() bool { return lim.Waiting() == 0 })
	testkit.Eventually(t, "counted as client_gone", func() bool {
		return count(s.metrics.shedded.WithLabelValues(classVerify, "client_gone")) == 1
	})
	if lim.Active() != 1 {
		t.Fatalf("active %d: the cancelled request took a slot", lim.Active())
	}

	release()
	testkit.Eventually(t, "the slot is free", func() bool { return lim.Active() == 0 })
	resp, err = get(t, context.Background(), srv.URL+"/v1/nonce")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after the load: %d, want 200", resp.StatusCode)
	}
	if n := count(s.metrics.admitted.WithLabelValues(classVerify)); n != 2 {
		t.Fatalf("admitted %v, want 2 (the held request and the last)", n)
	}
}

// TestLoadSheddingQueueTimeout: a request that waits the whole queue
// timeout is answered 503 overloaded.
func TestLoadSheddingQueueTimeout(t *testing.T) {
	env := NewTestEnv(t, func(c *config.Config) {
		c.HTTP.Admission.Verify = config.AdmissionClass{MaxConcurrent: 1, MaxQueue: 4, QueueTimeout: 20 * time.Millisecond}
		c.HTTP.Admission.RetryAfter = 2500 * time.Millisecond
	})
	s := env.Server
	var logs testkit.Buffer
	s.log = slog.New(slog.NewJSONHandler(&logs, nil))
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	release := holdSlot(t, srv.URL)
	defer release()
	testkit.Eventually(t, "the held request has the slot", func() bool { return s.admission.classes[classVerify].Active() == 1 })
	resp, err := get(t, context.Background(), srv.URL+"/v1/nonce")
	if err != nil {
		t.Fatal(err)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "3" {
		t.Errorf("Retry-After %q, want retry_after rounded up to 3", ra)
	}
	wantShed(t, "after the queue timeout", resp)
	if n := count(s.metrics.shedded.WithLabelValues(classVerify, "queue_timeout")); n != 1 {
		t.Fatalf("shed queue_timeout %v, want 1", n)
	}
	// The shed request is logged at WARN, not as a server error.
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"route":"/v1/nonce"`) {
			line = l
		}
	}
	if !strings.Contains(line, `"level":"WARN"`) || !strings.Contains(line, `"status":503`) {
		t.Fatalf("log line of the shed request: %q", line)
	}
}

// TestTokenRateLimit: a token past its burst is answered 429 rate_limited
// with Retry-After; another token is not affected; without token_rate
// nothing is limited.
func TestTokenRateLimit(t *testing.T) {
	env := NewTestEnv(t, func(c *config.Config) {
		c.HTTP.Admission.TokenRate, c.HTTP.Admission.TokenBurst = 0.001, 2 // a token a quarter hour
	})
	s := env.Server
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	ctx := context.Background()
	a, _, err := tokens.Create(ctx, s.store, tokens.RoleAdmin, "a", "test", s.now())
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := tokens.Create(ctx, s.store, tokens.RoleAdmin, "b", "test", s.now())
	if err != nil {
		t.Fatal(err)
	}
	call := func(secret string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/admin/tokens", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for i := 0; i < 2; i++ {
		resp := call(a)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d of the burst: %d", i, resp.StatusCode)
		}
	}
	resp := call(a)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var p Problem
	_ = json.Unmarshal(body, &p)
	if resp.StatusCode != http.StatusTooManyRequests || p.Code != errcode.RateLimited || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("past the burst: %d %s, want 429 rate_limited", resp.StatusCode, body)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 100 {
		t.Fatalf("Retry-After %q, want the bucket's refill time", resp.Header.Get("Retry-After"))
	}
	if n := count(s.metrics.shedded.WithLabelValues(classAdmin, "token_rate")); n != 1 {
		t.Fatalf("shed token_rate %v, want 1", n)
	}
	if resp := call(b); resp.StatusCode != http.StatusOK {
		t.Fatalf("another token: %d", resp.StatusCode)
	}

	plain := NewTestEnv(t, nil)
	if plain.Server.admission.tokenRate != nil {
		t.Fatal("token_rate 0 must not limit")
	}
}

// TestDerivedSlots: max_concurrent 0 leaves one of the runtime's procs
// free for the work before admission (at least one slot); a configured
// value is kept; the server publishes the bounds it runs with.
func TestDerivedSlots(t *testing.T) {
	for _, c := range []struct{ configured, procs, want int }{
		{0, 1, 1}, {0, 2, 1}, {0, 8, 7}, {5, 2, 5}, {1, 64, 1},
	} {
		if got := slots(c.configured, c.procs); got != c.want {
			t.Errorf("slots(%d, %d procs) = %d, want %d", c.configured, c.procs, got, c.want)
		}
	}
	env := NewTestEnv(t, func(c *config.Config) {
		c.HTTP.Admission.Verify.MaxConcurrent = 0
		c.HTTP.Admission.Issue.MaxConcurrent = 3
	})
	want := max(1, runtime.GOMAXPROCS(0)-1)
	if got := env.Server.admission.classes[classVerify].Limits().MaxConcurrent; got != want {
		t.Fatalf("verify slots %d with max_concurrent 0, want %d", got, want)
	}
	srv := httptest.NewServer(env.Server.Handler())
	defer srv.Close()
	resp, err := get(t, context.Background(), srv.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{
		fmt.Sprintf(`agentcert_admission_max_concurrent{class="verify"} %d`, want),
		`agentcert_admission_max_concurrent{class="issue"} 3`,
		`agentcert_admission_max_queue{class="verify"} 512`,
		`agentcert_admission_overloaded{class="verify"} 0`,
	} {
		if !strings.Contains(string(b), line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}

// TestOverloadedClassServesNewestFirst: over HTTP, a verify queue longer
// than its slots that has stayed long for overload_after is reported
// overloaded and its waits are cut to overload_wait: the waiters and a
// request arriving then are shed (queue_timeout) long before
// queue_timeout, while the slot is still held.
func TestOverloadedClassServesNewestFirst(t *testing.T) {
	env := NewTestEnv(t, func(c *config.Config) {
		c.HTTP.Admission.Verify = config.AdmissionClass{MaxConcurrent: 1, MaxQueue: 8, QueueTimeout: time.Hour}
		c.HTTP.Admission.OverloadAfter, c.HTTP.Admission.OverloadWait = time.Millisecond, time.Millisecond
	})
	s := env.Server
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	lim := s.admission.classes[classVerify]
	release := holdSlot(t, srv.URL)
	defer release()
	testkit.Eventually(t, "the held request has the slot", func() bool { return lim.Active() == 1 })

	// Two waiters for the one slot join with the hour-long timeout; once
	// the queue has stood for overload_after, the next arrival drops them,
	// and that arrival itself waits only overload_wait.
	// Every wait is bounded, so that a request the rule failed to shed
	// fails the test instead of waiting out the hour.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	early := make(chan *http.Response, 2)
	for i := range 2 {
		go func() {
			resp, err := get(t, ctx, srv.URL+"/v1/nonce")
			if err != nil {
				resp = &http.Response{StatusCode: -1, Body: io.NopCloser(strings.NewReader(err.Error()))}
			}
			early <- resp
		}()
		testkit.Eventually(t, "the waiter is queued", func() bool { return lim.Waiting() == i+1 })
	}
	testkit.Eventually(t, "the class is overloaded", func() bool { return lim.Overloaded() })
	resp, err := get(t, ctx, srv.URL+"/v1/nonce")
	if err != nil {
		t.Fatalf("a request arriving while overloaded was not shed: %v (overloaded %v, waiting %d)", err, lim.Overloaded(), lim.Waiting())
	}
	wantShed(t, "a request arriving while overloaded", resp)
	wantShed(t, "a waiter from before the overload", <-early)
	wantShed(t, "a waiter from before the overload", <-early)
	if n := count(s.metrics.shedded.WithLabelValues(classVerify, "queue_timeout")); n != 3 {
		t.Fatalf("shed queue_timeout %v, want 3", n)
	}
	if lim.Active() != 1 || lim.Waiting() != 0 {
		t.Fatalf("active %d waiting %d, want 1 and 0", lim.Active(), lim.Waiting())
	}
	testkit.Eventually(t, "the overload ends once the queue has stayed short for overload_after", func() bool { return !lim.Overloaded() })
}
