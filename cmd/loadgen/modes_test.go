package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// barrier answers 200 only once want requests are outstanding at the same
// time; a request still waiting after wait gets 503.
func barrier(want int, wait time.Duration) (http.Handler, *atomic.Int64) {
	var arrived atomic.Int64
	all := make(chan struct{})
	var once sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) >= int64(want) {
			once.Do(func() { close(all) })
		}
		select {
		case <-all:
			io.WriteString(w, `{}`)
		case <-time.After(wait):
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}), &arrived
}

// TestOpenLoopSendsOnSchedule: in open loop every request leaves when it is
// due, although none of the earlier ones has been answered; the same server
// in closed loop with one client never sees two requests at once (the
// first waits alone until it times out).
func TestOpenLoopSendsOnSchedule(t *testing.T) {
	dir := t.TempDir()
	body := filepath.Join(dir, "body.json")
	os.WriteFile(body, []byte(`{"a":1}`), 0o600)

	h, arrived := barrier(10, 10*time.Second)
	srv := httptest.NewServer(h)
	defer srv.Close()
	code, rep, _ := runJSON(t, "-url", srv.URL, "-mode", "post", "-body", body, "-path", "/x", "-rate", "500", "-n", "10")
	if code != 0 || rep.Loop != "open" || rep.OfferedRate != 500 || rep.Requests != 10 || rep.Succeeded != 10 || rep.Dropped != 0 || arrived.Load() != 10 {
		t.Fatalf("open loop: exit %d, %d arrived, report %+v", code, arrived.Load(), rep)
	}
	// Every latency is counted from the moment its request was due, so the
	// first request waited for the last: p50 <= max, and max covers the
	// whole schedule of ten requests at 500/s (18 ms).
	if rep.Max < 18*time.Millisecond || rep.P50 > rep.P999 || rep.P999 > rep.Max {
		t.Fatalf("open-loop latencies %+v", rep.Stats)
	}
	// How late each request left is part of its latency, never more.
	if rep.LateP50 <= 0 || rep.LateP50 > rep.LateP99 || rep.LateP99 > rep.P99 {
		t.Fatalf("sent late p50 %s p99 %s, latency p99 %s", rep.LateP50, rep.LateP99, rep.P99)
	}

	h, arrived = barrier(2, 300*time.Millisecond)
	srv2 := httptest.NewServer(h)
	defer srv2.Close()
	code, rep, _ = runJSON(t, "-url", srv2.URL, "-mode", "post", "-body", body, "-path", "/x", "-c", "1", "-n", "3")
	if code != 1 || rep.Loop != "closed" || rep.Errors["503"] != 1 || rep.Succeeded != 2 {
		t.Fatalf("closed loop with one client: exit %d, %d arrived, report %+v", code, arrived.Load(), rep)
	}
}

// TestOpenLoopDropsPastMaxInflight: requests that fall due while
// -max-inflight are outstanding are counted as dropped, never sent.
func TestOpenLoopDropsPastMaxInflight(t *testing.T) {
	release := make(chan struct{})
	var arrived atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		<-release
	}))
	defer srv.Close()
	defer close(release)
	dir := t.TempDir()
	body := filepath.Join(dir, "body.json")
	os.WriteFile(body, []byte(`{}`), 0o600)
	// The two in-flight requests are held until the run ends by -duration,
	// long after the schedule of ten at 10,000/s (1 ms) has passed.
	code, rep, _ := runJSON(t, "-url", srv.URL, "-mode", "post", "-body", body, "-path", "/x", "-rate", "10000", "-n", "10", "-max-inflight", "2", "-duration", "1s")
	if code != 1 || rep.Dropped != 8 || arrived.Load() != 2 || rep.Stopped != "n" {
		t.Fatalf("exit %d, %d arrived, report %+v", code, arrived.Load(), rep)
	}
}

// TestMixedWorkload: -mix sends each kind in its proportion, interleaved,
// and the report has figures per kind.
func TestMixedWorkload(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+r.URL.Path]++
		mu.Unlock()
		switch r.Method + " " + r.URL.Path {
		case "POST /v1/verify":
			io.WriteString(w, `{"verified":true,"errors":[]}`)
		case "POST /v1/credentials":
			w.WriteHeader(http.StatusCreated)
		case "GET /statuslists/1":
			if r.Header.Get("Accept") != "application/statuslist+jwt" {
				http.Error(w, "accept", http.StatusNotAcceptable)
				return
			}
			io.WriteString(w, "eyJ.x.y")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	pres := filepath.Join(dir, "pres.txt")
	os.WriteFile(pres, []byte("eyJ.x.y~"), 0o600)
	code, rep, stderr := runJSON(t, "-url", srv.URL, "-mode", "mix", "-mix", "verify=3,issue=1,status=1", "-token", "act",
		"-presentation", pres, "-aud", "https://v.example", "-status-path", "/statuslists/1", "-n", "50", "-c", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s %+v", code, stderr, rep)
	}
	if seen["POST /v1/verify"] != 30 || seen["POST /v1/credentials"] != 10 || seen["GET /statuslists/1"] != 10 {
		t.Fatalf("server saw %v, want 30 verify, 10 issue, 10 status", seen)
	}
	if rep.Requests != 50 || len(rep.Kinds) != 3 || rep.Kinds["verify"].Succeeded != 30 || rep.Kinds["issue"].Requests != 10 || rep.Kinds["status"].Requests != 10 {
		t.Fatalf("report %+v, kinds %v", rep, rep.Kinds)
	}
	if got := interleave([]int{3, 1, 1}); fmt.Sprint(got) != "[0 1 0 2 0]" {
		t.Fatalf("interleave(3,1,1) = %v", got)
	}
}

// TestFreshKeyBinding: with -fresh every verify request carries its own
// KB-JWT, signed by the holder key over the same disclosures, with its own
// nonce (from GET /v1/nonce with -server-nonce).
func TestFreshKeyBinding(t *testing.T) {
	issuerKey, issuerDID := testkeys.DIDKey(t, jwa.ES256)
	holderKey, _ := testkeys.DIDKey(t, jwa.ES256)
	holderPub, err := keyutil.Public(holderKey)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := sdjwt.Issue(map[string]any{
		"iss": issuerDID, "exp": time.Now().Add(time.Hour).Unix(), "cnf": map[string]any{"jwk": holderPub},
		"permissions": []any{map[string]any{"action": "invoices:read"}, map[string]any{"action": "invoices:list"}},
	}, []string{"/permissions/*"}, issuerKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	pres, err := sdjwt.Present(cred, []string{"/permissions/0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	presFile, keyFile := filepath.Join(dir, "pres.txt"), filepath.Join(dir, "agent.jwk")
	os.WriteFile(presFile, []byte(pres+"\n"), 0o600)
	if err := keyutil.WriteFile(keyFile, holderKey); err != nil {
		t.Fatal(err)
	}
	issuerPub, _ := keyutil.Public(issuerKey)

	var mu sync.Mutex
	handedOut, used := map[string]bool{}, map[string]bool{}
	var minted atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/nonce":
			n := fmt.Sprintf("srv-%d", minted.Add(1))
			mu.Lock()
			handedOut[n] = true
			mu.Unlock()
			json.NewEncoder(w).Encode(map[string]string{"nonce": n})
		case "/v1/verify":
			var req map[string]string
			json.NewDecoder(r.Body).Decode(&req)
			res, err := sdjwt.Verify(r.Context(), req["presentation"], sdjwt.VerifyOptions{
				IssuerKey: func(context.Context, string, jws.Headers) (jwk.Key, error) { return issuerPub, nil },
				RequireKB: true, Audience: "https://v.example", Nonce: req["nonce"],
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil || len(res.Disclosures) != 1 || used[req["nonce"]] {
				io.WriteString(w, `{"verified":false,"errors":[{"code":"bad"}]}`)
				return
			}
			if len(handedOut) > 0 && !handedOut[req["nonce"]] {
				io.WriteString(w, `{"verified":false,"errors":[{"code":"foreign_nonce"}]}`)
				return
			}
			used[req["nonce"]] = true
			io.WriteString(w, `{"verified":true,"errors":[]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	code, rep, stderr := runJSON(t, "-url", srv.URL, "-mode", "verify", "-presentation", presFile, "-key", keyFile, "-fresh", "-aud", "https://v.example", "-n", "20", "-c", "4")
	if code != 0 || rep.Succeeded != 20 || len(used) != 20 {
		t.Fatalf("fresh: exit %d (%s), %d distinct nonces, report %+v", code, stderr, len(used), rep)
	}
	used = map[string]bool{}
	code, rep, stderr = runJSON(t, "-url", srv.URL, "-mode", "verify", "-presentation", presFile, "-key", keyFile, "-fresh", "-server-nonce", "-aud", "https://v.example", "-n", "12", "-rate", "200")
	if code != 0 || rep.Succeeded != 12 || len(used) != 12 || minted.Load() != 12 {
		t.Fatalf("fresh with server nonces: exit %d (%s), %d used, %d minted, report %+v", code, stderr, len(used), minted.Load(), rep)
	}
	// Without -fresh the same presentation file verifies once, then replays.
	used = map[string]bool{}
	handedOut = map[string]bool{}
	bound, _ := sdjwt.AddKeyBinding(pres, &sdjwt.KBOptions{Key: holderKey, Audience: "https://v.example", Nonce: "once"})
	os.WriteFile(presFile, []byte(bound), 0o600)
	code, rep, _ = runJSON(t, "-url", srv.URL, "-mode", "verify", "-presentation", presFile, "-aud", "https://v.example", "-nonce", "once", "-n", "5", "-c", "1")
	if code != 1 || rep.Succeeded != 1 || rep.Errors["200 not verified: bad"] != 4 {
		t.Fatalf("replayed presentation: exit %d, report %+v", code, rep)
	}
	// -fresh refuses a presentation that already carries a KB-JWT.
	if code, _, stderr := runJSON(t, "-url", srv.URL, "-mode", "verify", "-presentation", presFile, "-key", keyFile, "-fresh", "-aud", "a"); code != 2 || stderr == "" {
		t.Fatalf("-fresh with a bound presentation: exit %d %q", code, stderr)
	}
}

func TestNewFlagUsageErrors(t *testing.T) {
	dir := t.TempDir()
	pres := filepath.Join(dir, "p.txt")
	os.WriteFile(pres, []byte("eyJ.x.y~"), 0o600)
	for name, args := range map[string][]string{
		"negative rate":          {"-token", "t", "-rate", "-5"},
		"zero max-inflight":      {"-token", "t", "-rate", "5", "-max-inflight", "0"},
		"mix without -mix":       {"-mode", "mix"},
		"mix kind unknown":       {"-mode", "mix", "-mix", "delete=1"},
		"mix weight zero":        {"-mode", "mix", "-token", "t", "-mix", "issue=0"},
		"mix weight not numeric": {"-mode", "mix", "-token", "t", "-mix", "issue=x"},
		"mix kind twice":         {"-mode", "mix", "-token", "t", "-mix", "issue=1,issue=2"},
		"mix too heavy":          {"-mode", "mix", "-token", "t", "-mix", "issue=1001"},
		"mix kind lacks flags":   {"-mode", "mix", "-token", "t", "-mix", "issue=1,status=1"},
		"-mix without mode mix":  {"-token", "t", "-mix", "issue=1"},
		"status without path":    {"-mode", "status"},
		"fresh without key":      {"-mode", "verify", "-presentation", pres, "-aud", "a", "-fresh"},
		"key without fresh":      {"-mode", "verify", "-presentation", pres, "-aud", "a", "-key", pres},
		"fresh key not a JWK":    {"-mode", "verify", "-presentation", pres, "-aud", "a", "-fresh", "-key", pres},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runJSON(t, args...)
			if code != 2 || stderr == "" {
				t.Fatalf("exit %d, stderr %q; want 2 with a message", code, stderr)
			}
		})
	}
}
