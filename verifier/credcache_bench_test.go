package verifier

import (
	"context"
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
// metrics first/raw2 and repeat/raw2 are the ratios the targets are about.
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
			var first, repeat, raw time.Duration
			i := 0
			for b.Loop() {
				p := firsts[i%pool]
				t0 := time.Now()
				verify(p)
				t1 := time.Now()
				verify(repeats[i%len(repeats)])
				t2 := time.Now()
				issuerJWT := []byte(p[:strings.IndexByte(p, '~')])
				kbJWT := []byte(p[strings.LastIndexByte(p, '~')+1:])
				t3 := time.Now()
				if _, err := jws.Verify(issuerJWT, jws.WithKey(alg, issuerPub)); err != nil {
					b.Fatal(err)
				}
				if _, err := jws.Verify(kbJWT, jws.WithKey(alg, holderPub)); err != nil {
					b.Fatal(err)
				}
				t4 := time.Now()
				first += t1.Sub(t0)
				repeat += t2.Sub(t1)
				raw += t4.Sub(t3)
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
		})
	}
}
