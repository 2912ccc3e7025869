package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// BenchmarkVerifyHandlerOverVerify measures what POST /v1/verify costs
// beyond verifier.Verify: the whole handler (request log, admission,
// routing, body decoding, the metrics, writing the result) against the
// same verifier called directly, alternating in every iteration in one
// run. The credential is this server's own (status from the local
// issuer), presented again with the same KB-JWT, an action decided, a
// receipt signed in both. It reports the median of each, their ratio and
// the handler's own median cost.
//
//	go test -run '^$' -bench VerifyHandlerOverVerify -benchtime 2000x -count 3 ./server/
func BenchmarkVerifyHandlerOverVerify(b *testing.B) {
	env, req, body := newVerifyBenchEnv(b)
	ctx := context.Background()
	h := env.Server.Handler()
	serve := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/v1/verify", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = "127.0.0.1:4000"
		h.ServeHTTP(rec, r)
		return rec
	}
	if rec := serve(); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"verified":true`) || !strings.Contains(rec.Body.String(), `"allowed":true`) {
		b.Fatalf("HTTP %d %s", rec.Code, rec.Body)
	}
	if r := env.Server.verifier.Verify(ctx, req); !r.Allowed() {
		b.Fatalf("%+v %+v", r.Error, r.Decision)
	}
	b.ReportAllocs()
	direct := make([]time.Duration, 0, b.N)
	handler := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if r := env.Server.verifier.Verify(ctx, req); !r.Allowed() {
			b.Fatal(r.Error)
		}
		t1 := time.Now()
		if rec := serve(); rec.Code != http.StatusOK {
			b.Fatalf("HTTP %d", rec.Code)
		}
		t2 := time.Now()
		direct, handler = append(direct, t1.Sub(t0)), append(handler, t2.Sub(t1))
	}
	b.StopTimer()
	md, mh := medianOf(direct), medianOf(handler)
	b.ReportMetric(float64(md.Nanoseconds()), "verify-median-ns")
	b.ReportMetric(float64(mh.Nanoseconds()), "handler-median-ns")
	b.ReportMetric(float64(mh-md)/1e3, "overhead-µs")
	b.ReportMetric(float64(mh)/float64(md), "handler/verify")
}

// BenchmarkVerifyLoopbackOverInProcess compares POST /v1/verify over
// loopback TCP (a real http.Server on 127.0.0.1, keep-alive connections,
// loopbackClients clients each sending its next request when the last was
// answered) with verifier.Verify called in process by GOMAXPROCS
// goroutines, on the same request and verifier. Every iteration runs one
// round of each, in turn, so that load on a shared machine hits both
// alike; it reports both rates and their ratio (the target is at least
// 0.7). The client's CPU is on the same cores, as loadgen's would be.
//
//	go test -run '^$' -bench VerifyLoopbackOverInProcess -benchtime 20x -count 3 ./server/
func BenchmarkVerifyLoopbackOverInProcess(b *testing.B) {
	const round, loopbackClients = 400, 8
	env, req, body := newVerifyBenchEnv(b)
	ctx := context.Background()
	srv := httptest.NewServer(env.Server.Handler())
	defer srv.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = loopbackClients, loopbackClients
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	post := func() error {
		r, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/verify", bytes.NewReader(body))
		if err != nil {
			return err
		}
		r.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(r)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || !bytes.Contains(out, []byte(`"allowed":true`)) {
			return fmt.Errorf("HTTP %d %s", resp.StatusCode, out)
		}
		return nil
	}
	direct := func() error {
		if r := env.Server.verifier.Verify(ctx, req); !r.Allowed() {
			return fmt.Errorf("%+v %+v", r.Error, r.Decision)
		}
		return nil
	}
	// runRound makes n calls of f from workers goroutines and returns how long they took.
	runRound := func(workers int, f func() error) time.Duration {
		var next atomic.Int64
		var failed atomic.Value
		var wg sync.WaitGroup
		t0 := time.Now()
		for range workers {
			wg.Go(func() {
				for next.Add(1) <= round {
					if err := f(); err != nil {
						failed.Store(err)
						return
					}
				}
			})
		}
		wg.Wait()
		d := time.Since(t0)
		if err, _ := failed.Load().(error); err != nil {
			b.Fatal(err)
		}
		return d
	}
	runRound(loopbackClients, post) // connections open, caches warm
	runRound(runtime.GOMAXPROCS(0), direct)
	var inProc, overHTTP time.Duration
	b.ResetTimer()
	for b.Loop() {
		inProc += runRound(runtime.GOMAXPROCS(0), direct)
		overHTTP += runRound(loopbackClients, post)
	}
	n := float64(b.N * round)
	b.ReportMetric(n/inProc.Seconds(), "inproc-verify/s")
	b.ReportMetric(n/overHTTP.Seconds(), "http-verify/s")
	b.ReportMetric(inProc.Seconds()/overHTTP.Seconds(), "http/inproc")
}

// newVerifyBenchEnv is a server whose verifier reads its own issuer's keys
// and status lists in process (as agentcert serve wires it), a credential
// it issued, and a verify request presenting it (the same KB-JWT each
// time, an action decided) with its JSON body.
func newVerifyBenchEnv(b *testing.B) (*TestEnv, verifier.Request, []byte) {
	b.Helper()
	env := newLocalIssuerEnv(b)
	issued, agentKey := issueLocal(b, env, map[string]any{
		"principal":    map[string]any{"id": "did:web:acme.example", "name": "ACME Corp", "type": "organization"},
		"agent":        map[string]any{"class": "bench-agent", "version": "1.0.0"},
		"permissions":  []any{map[string]any{"action": "invoices:read"}, map[string]any{"action": "invoices:list"}, map[string]any{"action": "payments:initiate", "constraints": map[string]any{"max_amount": json.Number("500"), "currency": "EUR"}}},
		"prohibitions": []any{"payments:approve"},
		"autonomy":     "supervised",
	})
	pres, err := sdjwt.Present(issued.Credential, []string{"/permissions/0", "/permissions/2"}, &sdjwt.KBOptions{Key: agentKey, Audience: "https://shop.example", Nonce: "n-1"})
	if err != nil {
		b.Fatal(err)
	}
	req := verifier.Request{Presentation: pres, Audience: "https://shop.example", Nonce: "n-1", Action: "payments:initiate", Attributes: map[string]any{"amount": json.Number("120"), "currency": "EUR"}}
	body, _ := json.Marshal(req)
	return env, req, body
}

func medianOf(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// newLocalIssuerEnv is a test server (log level warn) whose verifier reads
// its own issuer's keys and status lists in process, as `agentcert serve`
// wires it.
func newLocalIssuerEnv(b *testing.B) *TestEnv {
	b.Helper()
	return newTestEnv(b, func(c *config.Config) { c.LogLevel = "warn" }, func(cfg config.Config, parts *issuer.Parts) []verifier.Option {
		prefix := strings.TrimRight(cfg.PublicURL, "/") + "/statuslists/"
		return []verifier.Option{verifier.WithLocalIssuer(&verifier.LocalIssuer{
			DID: parts.Keys.Issuer(),
			Document: func(context.Context) (*did.Document, error) {
				return did.NewWebDocument(parts.Keys.Issuer(), parts.Keys.PublicKeys())
			},
			StatusList: func(ctx context.Context, uri string) (string, bool, error) {
				id, ok := strings.CutPrefix(uri, prefix)
				if !ok {
					return "", false, nil
				}
				p, err := parts.Statuses.Publish(ctx, id, "", "")
				if err != nil {
					return "", true, err
				}
				return p.Token, true, nil
			},
		})}
	})
}

// issueLocal issues, through env's issuer core, a certification with claims
// (its permissions selectively disclosable) to a new ES256 agent, and
// returns it and the agent's key.
func issueLocal(b *testing.B, env *TestEnv, claims map[string]any) (*issuer.Issued, jwk.Key) {
	b.Helper()
	agentKey, agent := testkeys.DIDKey(b, jwa.ES256)
	issued, err := env.Parts.Service.Issue(context.Background(), issuer.Actor{TokenID: "bench", Role: "issuer"}, issuer.IssueRequest{
		Subject:                agent,
		Claims:                 claims,
		SelectivelyDisclosable: []string{"/permissions/*"},
	}, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	return issued, agentKey
}
