package verifier_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// BenchmarkMiddleware compares, in one run, what the counterparty's
// middleware spends on one request: with a full presentation (SD-JWT
// signature, disclosures, KB-JWT, nonce, status from cache, authorization)
// and with a request signature against an established session (RFC 9421
// signature, Content-Digest, nonce replay, authorization). Making the
// presentation or the signature is the agent's work and is not timed.
// cpu-ns/op is the process's CPU time per request, garbage collection of
// what the loop allocated included: on a shared machine it moves less with
// load than ns/op.
//
//	go test ./verifier -run '^$' -bench BenchmarkMiddleware -benchtime 2000x
func BenchmarkMiddleware(b *testing.B) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		b.Run(alg.String(), func(b *testing.B) {
			e := newChannelEnvTB(b, nil)
			a := e.agent(alg, "p1")
			handler := e.bare
			b.Run("presentation", func(b *testing.B) {
				reqs := make([]*http.Request, b.N)
				for i := range reqs {
					reqs[i] = httptest.NewRequest(http.MethodPost, "http://api.example/invoices/inv-1?a=1", nil)
					reqs[i].Header.Set(verifier.HeaderAgentCredential, e.presentationFor(b, a))
				}
				serveAll(b, handler, reqs)
			})
			// Establish the session once.
			req := e.signedRequest(b, a, 0, e.presentationFor(b, a))
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("establish: %d %s", rec.Code, rec.Body)
			}
			b.Run("signed-session", func(b *testing.B) {
				reqs := make([]*http.Request, b.N)
				for i := range reqs {
					reqs[i] = e.signedRequest(b, a, i+1, "")
				}
				serveAll(b, handler, reqs)
			})
		})
	}
}

// serveAll is the timed loop of BenchmarkMiddleware: handler serves each
// of reqs (one an iteration) and must answer 200; it reports the process
// CPU time an iteration took, the garbage collection it caused included.
func serveAll(b *testing.B, handler http.Handler, reqs []*http.Request) {
	b.Helper()
	runtime.GC()
	b.ResetTimer()
	cpu := testkit.ProcessCPU()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, reqs[i])
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	runtime.GC() // the garbage this loop made is its cost
	b.ReportMetric(float64((testkit.ProcessCPU()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func (e *channelEnv) presentationFor(tb testing.TB, a *agent) string {
	n, _, _ := e.nonces.Issue()
	p, err := sdjwt.Present(a.cred, []string{""}, &sdjwt.KBOptions{Key: a.key, Audience: "aud", Nonce: n, IssuedAt: e.clk.Now()})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

var benchSeq atomic.Int64

// signedRequest is a POST with a small JSON body, signed by a the way
// agentclient signs.
func (e *channelEnv) signedRequest(tb testing.TB, a *agent, i int, pres string) *http.Request {
	body := `{"note":"benchmark"}`
	req := httptest.NewRequest(http.MethodPost, "http://api.example/invoices/inv-1?a=1", strings.NewReader(body))
	cd, _ := httpsig.ContentDigest([]byte(body), httpsig.DigestSHA256)
	req.Header.Set("Content-Digest", cd)
	if pres != "" {
		req.Header.Set(verifier.HeaderAgentCredential, pres)
	}
	alg, _ := httpsig.KeyAlg(a.key)
	now := e.clk.Now()
	in, sig, err := httpsig.Sign(httpsig.Outgoing(req), "sig1", httpsig.Components("@method", "@authority", "@path", "@query", "content-digest"),
		httpsig.Params{Created: now, Expires: now.Add(time.Minute), Nonce: "bench-" + strconv.Itoa(i) + "-" + strconv.FormatInt(benchSeq.Add(1), 10), Alg: alg, KeyID: a.kid, Tag: verifier.TagWebBotAuth}, a.key)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Signature-Input", in)
	req.Header.Set("Signature", sig)
	return req
}

// BenchmarkMiddlewareRatio serves a presentation request and a signed
// session request in turn, b.N times each, and reports the mean wall time
// and the mean CPU time of the serving thread for each, and their ratios
// (signed/presentation). Alternating keeps a busy machine's load from
// favouring either side; the CPU time of the one locked thread leaves out
// time spent waiting for a core (and garbage collection on other threads,
// which the presentation causes more of, so the CPU ratio errs against the
// signed side).
//
//	go test ./verifier -run '^$' -bench BenchmarkMiddlewareRatio -benchtime 1000x
func BenchmarkMiddlewareRatio(b *testing.B) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		b.Run(alg.String(), func(b *testing.B) {
			e := newChannelEnvTB(b, nil)
			a := e.agent(alg, "p1")
			handler := e.bare
			defer testkit.LockThread()()
			serve := func(req *http.Request) (time.Duration, time.Duration) {
				rec := httptest.NewRecorder()
				start, cpu := time.Now(), testkit.ThreadCPU()
				handler.ServeHTTP(rec, req)
				d, c := time.Since(start), testkit.ThreadCPU()-cpu
				if rec.Code != 200 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
				return d, c
			}
			_, _ = serve(e.signedRequest(b, a, 0, e.presentationFor(b, a)))
			pres := make([]*http.Request, b.N)
			signed := make([]*http.Request, b.N)
			for i := range pres {
				pres[i] = httptest.NewRequest(http.MethodPost, "http://api.example/invoices/inv-1?a=1", nil)
				pres[i].Header.Set(verifier.HeaderAgentCredential, e.presentationFor(b, a))
				signed[i] = e.signedRequest(b, a, i+1, "")
			}
			b.ResetTimer()
			var tp, ts, cp, cs time.Duration
			for i := 0; i < b.N; i++ {
				d, c := serve(pres[i])
				tp, cp = tp+d, cp+c
				d, c = serve(signed[i])
				ts, cs = ts+d, cs+c
			}
			b.StopTimer()
			n := float64(b.N)
			b.ReportMetric(float64(tp.Nanoseconds())/n, "presentation-ns/op")
			b.ReportMetric(float64(ts.Nanoseconds())/n, "signed-ns/op")
			b.ReportMetric(float64(ts)/float64(tp), "signed/presentation")
			b.ReportMetric(float64(cp.Nanoseconds())/n, "presentation-cpu-ns/op")
			b.ReportMetric(float64(cs.Nanoseconds())/n, "signed-cpu-ns/op")
			b.ReportMetric(float64(cs)/float64(cp), "cpu-signed/presentation")
		})
	}
}
