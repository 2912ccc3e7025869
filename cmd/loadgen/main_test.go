package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
)

// runJSON runs loadgen with -json and returns the exit status and report.
func runJSON(t *testing.T, args ...string) (int, Report, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append(args, "-json"), &out, &errOut)
	var rep Report
	if code != 2 {
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("report: %v\n%s\nstderr: %s", err, out.String(), errOut.String())
		}
	}
	return code, rep, errOut.String()
}

func TestIssueMode(t *testing.T) {
	var n atomic.Int64
	var mu sync.Mutex
	keys := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/credentials" || r.Header.Get("Authorization") != "Bearer act_test" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "unexpected request", http.StatusTeapot)
			return
		}
		var req struct {
			Subject string         `json:"subject"`
			Claims  map[string]any `json:"claims"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Claims["autonomy"] != "supervised" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if _, err := did.PublicKey(req.Subject); err != nil {
			http.Error(w, "subject is not a did:key", http.StatusBadRequest)
			return
		}
		mu.Lock()
		if k := r.Header.Get("Idempotency-Key"); k != "" {
			keys[k] = true
		}
		mu.Unlock()
		if n.Add(1)%5 == 0 {
			w.WriteHeader(http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"x"}`)
	}))
	defer srv.Close()

	code, rep, _ := runJSON(t, "-url", srv.URL, "-token", "act_test", "-n", "50", "-c", "4", "-idempotency")
	if code != 1 || rep.Requests != 50 || rep.Succeeded != 40 || rep.Failed != 10 || rep.Errors["409"] != 10 || len(rep.Errors) != 1 || rep.Stopped != "n" {
		t.Fatalf("exit %d, report %+v", code, rep)
	}
	if n.Load() != 50 || len(keys) != 50 {
		t.Fatalf("server saw %d requests with %d distinct idempotency keys, want 50 and 50", n.Load(), len(keys))
	}
	if rep.P50 <= 0 || rep.P50 > rep.P90 || rep.P90 > rep.P99 || rep.P99 > rep.Max || rep.PerSecond <= 0 || rep.Concurrency != 4 {
		t.Fatalf("statistics %+v", rep)
	}

	// Text output names the numbers.
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-url", srv.URL, "-token", "act_test", "-n", "5", "-c", "1"}, &out, io.Discard); code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"requests/s:", "p50", "p90", "p99", "409", "succeeded:   4", "failed:      1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestVerifyAndPostModes(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/v1/verify":
			var req map[string]string
			if json.Unmarshal(b, &req) != nil || req["presentation"] != "eyJ.x.y~" || req["audience"] != "https://v.example" || req["nonce"] != "n1" {
				http.Error(w, "bad verify body "+string(b), http.StatusBadRequest)
				return
			}
			if n.Add(1)%2 == 0 {
				io.WriteString(w, `{"verified":false,"errors":[{"code":"revoked","message":"revoked"}]}`)
				return
			}
			io.WriteString(w, `{"verified":true,"errors":[]}`)
		case "/v1/other":
			if string(b) != `{"a":1}` {
				http.Error(w, "bad body", http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusOK)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	pres := filepath.Join(dir, "pres.txt")
	body := filepath.Join(dir, "body.json")
	os.WriteFile(pres, []byte("eyJ.x.y~\n"), 0o600)
	os.WriteFile(body, []byte(`{"a":1}`), 0o600)

	code, rep, _ := runJSON(t, "-url", srv.URL, "-mode", "verify", "-presentation", pres, "-aud", "https://v.example", "-nonce", "n1", "-n", "20", "-c", "3")
	if code != 1 || rep.Requests != 20 || rep.Succeeded != 10 || rep.Errors["200 not verified: revoked"] != 10 {
		t.Fatalf("verify: exit %d, report %+v", code, rep)
	}
	code, rep, _ = runJSON(t, "-url", srv.URL+"/", "-mode", "post", "-body", body, "-path", "/v1/other", "-n", "7", "-c", "2")
	if code != 0 || rep.Requests != 7 || rep.Succeeded != 7 || rep.Failed != 0 {
		t.Fatalf("post: exit %d, report %+v", code, rep)
	}
	code, rep, _ = runJSON(t, "-url", srv.URL, "-mode", "post", "-body", body, "-path", "/v1/missing", "-n", "3")
	if code != 1 || rep.Errors["404"] != 3 {
		t.Fatalf("post to a missing path: exit %d, report %+v", code, rep)
	}
}

// TestDurationBound: -duration ends a run whose requests never finish.
func TestDurationBound(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	code, rep, _ := runJSON(t, "-url", srv.URL, "-token", "t", "-n", "1000000", "-c", "2", "-duration", "200ms")
	if code != 1 || rep.Stopped != "duration" || rep.Requests != 0 || started.Load() == 0 || started.Load() > 2 {
		t.Fatalf("exit %d, %d started, report %+v", code, started.Load(), rep)
	}
}

// TestTransportErrors: a server that is gone counts as transport errors.
func TestTransportErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	code, rep, _ := runJSON(t, "-url", url, "-token", "t", "-n", "3", "-c", "1", "-timeout", "5s")
	if code != 1 || rep.Errors["transport"] != 3 || rep.Succeeded != 0 {
		t.Fatalf("exit %d, report %+v", code, rep)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "x.txt")
	os.WriteFile(notJSON, []byte("hello"), 0o600)
	for name, args := range map[string][]string{
		"issue without token":   {"-token", "", "-mode", "issue"},
		"unknown mode":          {"-token", "t", "-mode", "delete"},
		"zero requests":         {"-token", "t", "-n", "0"},
		"zero clients":          {"-token", "t", "-c", "0"},
		"zero duration":         {"-token", "t", "-duration", "0s"},
		"not a URL":             {"-token", "t", "-url", "ftp://x"},
		"no host":               {"-token", "t", "-url", "http://"},
		"verify without file":   {"-mode", "verify", "-aud", "a"},
		"verify without aud":    {"-mode", "verify", "-presentation", notJSON},
		"verify missing file":   {"-mode", "verify", "-presentation", filepath.Join(dir, "nope"), "-aud", "a"},
		"post without path":     {"-mode", "post", "-body", notJSON},
		"post relative path":    {"-mode", "post", "-body", notJSON, "-path", "v1/x"},
		"post body not JSON":    {"-mode", "post", "-body", notJSON, "-path", "/v1/x"},
		"unknown flag":          {"-bogus"},
		"positional arguments":  {"-token", "t", "extra"},
		"negative timeout":      {"-token", "t", "-timeout", "-1s"},
		"bad duration spelling": {"-token", "t", "-duration", "soon"},
	} {
		t.Run(name, func(t *testing.T) {
			var errOut bytes.Buffer
			if code := run(context.Background(), args, io.Discard, &errOut); code != 2 || errOut.Len() == 0 {
				t.Fatalf("exit %d, stderr %q; want 2 with a message", code, errOut.String())
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 90, 4 * time.Millisecond},
		{ms(hundred...), 50, 50 * time.Millisecond},
		{ms(hundred...), 90, 90 * time.Millisecond},
		{ms(hundred...), 99, 99 * time.Millisecond},
		{ms(hundred...), 100, 100 * time.Millisecond},
		{ms(hundred...), 99.9, 100 * time.Millisecond},
		{ms(1, 2), 99.9, 2 * time.Millisecond},
	} {
		if got := percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("p%v of %v = %v, want %v", tc.p, tc.in, got, tc.want)
		}
	}
}

// TestSucceededPercentiles: the succeeded-only percentiles leave out the
// failures, which a shedding server answers fast.
func TestSucceededPercentiles(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%4 != 0 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		time.Sleep(20 * time.Millisecond)
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	code, rep, _ := runJSON(t, "-url", srv.URL, "-token", "act_test", "-n", "40", "-c", "2")
	if code != 1 || rep.Succeeded != 10 || rep.Errors["503"] != 30 {
		t.Fatalf("exit %d, report %+v", code, rep)
	}
	if rep.OKP50 < 20*time.Millisecond || rep.OKP99 < rep.OKP50 || rep.OKP99 > rep.Max {
		t.Fatalf("succeeded p50 %s p99 %s (max %s), want the slow successes only", rep.OKP50, rep.OKP99, rep.Max)
	}
}
