package verifier

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// BenchmarkChainVsRawSignatures verifies a 2-hop delegation chain in full
// (root signature, disclosures, trust, status from cache, both hops with
// their signatures, links, schema and narrowing rules, the final KB-JWT,
// the decision; the same chain every time, so the root signature and the
// hops' schema validation are cache hits)
// and, alternating in the same loop, checks the four signatures it carries
// (issuer ES256, agent EdDSA, first delegate ES256, second delegate EdDSA)
// with jws.Verify alone. It reports both costs and their ratio.
func BenchmarkChainVsRawSignatures(b *testing.B) {
	e := newChainEnv(b, 2)
	p := e.v.p
	p.MaxStatusAge = time.Hour // the status list is fetched once, then cached
	v, err := New(p, e.opts...)
	if err != nil {
		b.Fatal(err)
	}
	e.v = v
	pres := e.chain(e.hop(1), e.hop(2))
	req := Request{Presentation: pres, Audience: chainAud, Nonce: "n-7", Action: "payments:initiate", Attributes: map[string]any{"amount": 150, "currency": "EUR"}}
	if r := e.v.Verify(context.Background(), req); !r.Allowed() {
		b.Fatalf("%+v %+v", r.Error, r.Decision)
	}
	// The four compact JWS and the keys that verify them.
	comps := strings.Split(pres, "~~")
	last := comps[2][strings.LastIndexByte(comps[2], '~')+1:]
	jwts := []string{firstJWS(comps[0]), firstJWS(comps[1]), firstJWS(comps[2]), last}
	signers := []jwk.Key{e.issuer, e.keys[0], e.keys[1], e.keys[2]}
	var checks []check
	for i, k := range signers {
		pub, _ := keyutil.Public(k)
		alg := jwa.ES256
		if pub.KeyType() == jwa.OKP {
			alg = jwa.EdDSA
		}
		c := check{tok: []byte(jwts[i]), opt: jws.WithKey(alg, pub)}
		if _, err := jws.Verify(c.tok, c.opt); err != nil {
			b.Fatalf("raw check %d: %v", i, err)
		}
		checks = append(checks, c)
	}
	b.Run("chain", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if r := e.v.Verify(context.Background(), req); !r.Allowed() {
				b.Fatal(r.Error)
			}
		}
	})
	b.Run("raw4", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			for _, c := range checks {
				if _, err := jws.Verify(c.tok, c.opt); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("alternating", func(b *testing.B) {
		alternate(b, e, req, checks)
	})
}

// alternate times one chain verification and then the four raw checks,
// b.N times, and reports the median of each (robust to the preemptions of a
// shared machine) and the ratio of the medians.
func alternate(b *testing.B, e *chainEnv, req Request, checks []check) {
	b.ReportAllocs()
	chain := make([]time.Duration, 0, b.N)
	raw := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if r := e.v.Verify(context.Background(), req); !r.Allowed() {
			b.Fatal(r.Error)
		}
		t1 := time.Now()
		for _, c := range checks {
			if _, err := jws.Verify(c.tok, c.opt); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		chain = append(chain, t1.Sub(t0))
		raw = append(raw, t2.Sub(t1))
	}
	b.StopTimer()
	mc, mr := median(chain), median(raw)
	b.ReportMetric(float64(mc.Nanoseconds()), "chain-median-ns")
	b.ReportMetric(float64(mr.Nanoseconds()), "raw4-median-ns")
	b.ReportMetric(float64(mc)/float64(mr), "chain/raw4")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func firstJWS(component string) string {
	if i := strings.IndexByte(component, '~'); i >= 0 {
		return component[:i]
	}
	return component
}

type check struct {
	tok []byte
	opt jws.VerifyOption
}
