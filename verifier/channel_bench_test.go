package verifier_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/httpsig"
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
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					rec := httptest.NewRecorder()
					handler.ServeHTTP(rec, reqs[i])
					if rec.Code != 200 {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
				}
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
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					rec := httptest.NewRecorder()
					handler.ServeHTTP(rec, reqs[i])
					if rec.Code != 200 {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}

func (e *channelEnv) presentationFor(tb testing.TB, a *agent) string {
	n, _, _ := e.nonces.Issue()
	p, err := sdjwt.Present(a.cred, []string{""}, &sdjwt.KBOptions{Key: a.key, Audience: "aud", Nonce: n, IssuedAt: e.clock()})
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
	now := e.clock()
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
// session request in turn, b.N times each, and reports the mean time of
// each and their ratio (signed/presentation); alternating keeps a busy
// machine's load from favouring either side.
//
//	go test ./verifier -run '^$' -bench BenchmarkMiddlewareRatio -benchtime 1000x
func BenchmarkMiddlewareRatio(b *testing.B) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		b.Run(alg.String(), func(b *testing.B) {
			e := newChannelEnvTB(b, nil)
			a := e.agent(alg, "p1")
			handler := e.bare
			serve := func(req *http.Request) time.Duration {
				rec := httptest.NewRecorder()
				start := time.Now()
				handler.ServeHTTP(rec, req)
				d := time.Since(start)
				if rec.Code != 200 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
				return d
			}
			serve(e.signedRequest(b, a, 0, e.presentationFor(b, a)))
			pres := make([]*http.Request, b.N)
			signed := make([]*http.Request, b.N)
			for i := range pres {
				pres[i] = httptest.NewRequest(http.MethodPost, "http://api.example/invoices/inv-1?a=1", nil)
				pres[i].Header.Set(verifier.HeaderAgentCredential, e.presentationFor(b, a))
				signed[i] = e.signedRequest(b, a, i+1, "")
			}
			b.ResetTimer()
			var tp, ts time.Duration
			for i := 0; i < b.N; i++ {
				tp += serve(pres[i])
				ts += serve(signed[i])
			}
			b.StopTimer()
			b.ReportMetric(float64(tp.Nanoseconds())/float64(b.N), "presentation-ns/op")
			b.ReportMetric(float64(ts.Nanoseconds())/float64(b.N), "signed-ns/op")
			b.ReportMetric(float64(ts)/float64(tp), "signed/presentation")
		})
	}
}
