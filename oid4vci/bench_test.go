package oid4vci

import (
	"context"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// BenchmarkVerifyProof measures one jwt key proof check, by jwk and by a
// did:key kid (resolved offline).
func BenchmarkVerifyProof(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	pol := ProofPolicy{Audience: "https://issuer.example", Algorithms: []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA}, Now: now, MaxAge: time.Minute, Resolver: did.NewResolver(nil)}
	k := newKey(b)
	byJWK, err := SignProof(k, pol.Audience, "n", now)
	if err != nil {
		b.Fatal(err)
	}
	d, _ := did.KeyDID(k)
	vm, _ := did.VerificationMethodID(d)
	kk, _ := k.Clone()
	_ = kk.Set("kid", vm)
	byKID, err := SignProof(kk, pol.Audience, "n", now)
	if err != nil {
		b.Fatal(err)
	}
	for name, p := range map[string]string{"jwk": byJWK, "kid": byKID} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				if _, err := VerifyProof(context.Background(), p, pol); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
