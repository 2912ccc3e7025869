package verifier

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// BenchmarkVerifyOverRawSignatures measures, in turn within every
// iteration so that machine load hits all sides alike:
//
//   - first: a full verify of a credential the verifier has not seen (a
//     cycle of 512 credentials through a 64-entry cache, so every one is a
//     miss);
//   - repeat: a full verify of a credential presented before, with its own
//     KB-JWT (a hit: one signature check instead of two);
//   - raw2: the two signature checks of a presentation with jws.Verify
//     alone, the floor of a verify without the cache.
//
// Each is a complete verifier.Verify: disclosures, KB-JWT, trust, status
// (from the status client's cache) and the authorization of res0:read. The
// metrics first/raw2 and repeat/raw2 (sums of wall time) are the ratios the
// targets are about. Because the machine may be shared, the same ratios
// are also reported from the medians of the per-iteration times (-med:
// an iteration that lost its core weighs no more than any other) and, on
// Linux, from the CPU time of the benchmark's own thread (-cpu: work, not
// waiting; garbage collection on other threads is not in it).
func BenchmarkVerifyOverRawSignatures(b *testing.B) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		b.Run(alg.String(), func(b *testing.B) {
			f := newVCFixture(b, alg)
			const pool = 512
			firsts := make([]string, pool)
			for i := range firsts {
				firsts[i] = f.present(f.credential(100+i, time.Hour), f.agentKey, "n")
			}
			hot := f.credential(99, time.Hour)
			repeats := make([]string, 64)
			for i := range repeats {
				repeats[i] = f.present(hot, f.agentKey, "n")
			}
			issuerPub, _ := keyutil.Public(f.issKey)
			holderPub, _ := keyutil.Public(f.agentKey)
			ctx := context.Background()
			verify := func(pres string) {
				if r := f.v.Verify(ctx, Request{Presentation: pres, Audience: "aud", Nonce: "n", Action: "res0:read"}); !r.Allowed() {
					b.Fatalf("not allowed: %+v", r.Error)
				}
			}
			for _, p := range firsts[:pool/2] { // warm the status list and key caches; evicted again below
				verify(p)
			}
			verify(repeats[0])
			stats := f.v.CredentialCacheStats()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var first, repeat, raw, firstCPU, repeatCPU, rawCPU time.Duration
			var firsts1, repeats1, raws1 []time.Duration
			_, haveCPU := threadTime()
			i := 0
			for b.Loop() {
				p := firsts[i%pool]
				issuerJWT := []byte(p[:strings.IndexByte(p, '~')])
				kbJWT := []byte(p[strings.LastIndexByte(p, '~')+1:])
				c0, _ := threadTime()
				t0 := time.Now()
				verify(p)
				t1 := time.Now()
				c1, _ := threadTime()
				verify(repeats[i%len(repeats)])
				t2 := time.Now()
				c2, _ := threadTime()
				t3 := time.Now()
				if _, err := jws.Verify(issuerJWT, jws.WithKey(alg, issuerPub)); err != nil {
					b.Fatal(err)
				}
				if _, err := jws.Verify(kbJWT, jws.WithKey(alg, holderPub)); err != nil {
					b.Fatal(err)
				}
				t4 := time.Now()
				c3, _ := threadTime()
				first += t1.Sub(t0)
				repeat += t2.Sub(t1)
				raw += t4.Sub(t3)
				firstCPU += c1 - c0
				repeatCPU += c2 - c1
				rawCPU += c3 - c2
				firsts1, repeats1, raws1 = append(firsts1, t1.Sub(t0)), append(repeats1, t2.Sub(t1)), append(raws1, t4.Sub(t3))
				i++
			}
			after := f.v.CredentialCacheStats()
			if hits, misses := after.Hits-stats.Hits, after.Misses-stats.Misses; hits != int64(b.N) || misses != int64(b.N) {
				b.Fatalf("%d hits and %d misses in %d iterations: the cache did not do what the benchmark says", hits, misses, b.N)
			}
			n := float64(b.N)
			b.ReportMetric(float64(first.Nanoseconds())/n, "first-ns/op")
			b.ReportMetric(float64(repeat.Nanoseconds())/n, "repeat-ns/op")
			b.ReportMetric(float64(raw.Nanoseconds())/n, "raw2-ns/op")
			b.ReportMetric(float64(first)/float64(raw), "first/raw2")
			b.ReportMetric(float64(repeat)/float64(raw), "repeat/raw2")
			mf, mr, mw := median(firsts1), median(repeats1), median(raws1)
			b.ReportMetric(float64(mf)/float64(mw), "first/raw2-med")
			b.ReportMetric(float64(mr)/float64(mw), "repeat/raw2-med")
			if haveCPU && rawCPU > 0 {
				b.ReportMetric(float64(firstCPU)/float64(rawCPU), "first/raw2-cpu")
				b.ReportMetric(float64(repeatCPU)/float64(rawCPU), "repeat/raw2-cpu")
			}
		})
	}
}
