package verifier

import (
	"context"
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
// their links, schema and narrowing rules, the final KB-JWT, the decision)
// and, alternating in the same loop, checks the four signatures it carries
// (issuer ES256, agent EdDSA, first delegate ES256, second delegate EdDSA)
// with jws.Verify alone. It reports both costs and their ratio.
func BenchmarkChainVsRawSignatures(b *testing.B) {
	e := newChainEnv(b, 2)
	p := e.v.p
	p.MaxStatusAge = time.Hour // the status list is fetched once, then cached
	v, err := New(p, e.v.o)
	if err != nil {
		b.Fatal(err)
	}
	e.v = v
	pres := e.chain(e.hop(1), e.hop(2))
	req := Request{Presentation: pres, Audience: chainAud, Nonce: "n-7", Action: "payments:initiate", Attributes: map[string]any{"amount": 150, "currency": "EUR"}}
	if r := e.v.Verify(context.Background(), req); !r.Allowed() {
		b.Fatalf("%+v %+v", r.Errors, r.Decision)
	}
	// The four compact JWS and the keys that verify them.
	comps := strings.Split(pres, "~~")
	last := comps[2][strings.LastIndexByte(comps[2], '~')+1:]
	jwts := []string{firstJWS(comps[0]), firstJWS(comps[1]), firstJWS(comps[2]), last}
	signers := []jwk.Key{e.issuer, e.keys[0], e.keys[1], e.keys[2]}
	type check struct {
		tok []byte
		opt jws.VerifyOption
	}
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
	b.ReportAllocs()
	b.ResetTimer()
	var chainNS, rawNS time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if r := e.v.Verify(context.Background(), req); !r.Allowed() {
			b.Fatal(r.Errors)
		}
		t1 := time.Now()
		for _, c := range checks {
			if _, err := jws.Verify(c.tok, c.opt); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		chainNS += t1.Sub(t0)
		rawNS += t2.Sub(t1)
	}
	b.StopTimer()
	b.ReportMetric(float64(chainNS.Nanoseconds())/float64(b.N), "chain-ns/op")
	b.ReportMetric(float64(rawNS.Nanoseconds())/float64(b.N), "raw4-ns/op")
	b.ReportMetric(float64(chainNS)/float64(rawNS), "chain/raw4")
}

func firstJWS(component string) string {
	if i := strings.IndexByte(component, '~'); i >= 0 {
		return component[:i]
	}
	return component
}
