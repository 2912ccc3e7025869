package receipt_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/agentcert/agentcert/receipt"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// BenchmarkSign: one receipt, ES256 and EdDSA, with the request and policy
// digests a verifier computes (JCS).
func BenchmarkSign(b *testing.B) {
	req := map[string]any{"amount": 120, "currency": "EUR", "invoice": "INV-2026-0042"}
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		s, _ := newSigner(&testing.T{}, alg)
		b.Run(alg.String(), func(b *testing.B) {
			for b.Loop() {
				c := sample()
				d, err := receipt.JSONDigest(req)
				if err != nil {
					b.Fatal(err)
				}
				c.RequestDigest = d
				if _, err := s.Sign(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFileSinkPut: one record appended and synced to the log.
func BenchmarkFileSinkPut(b *testing.B) {
	s, _ := newSigner(&testing.T{}, jwa.EdDSA)
	jwt, err := s.Sign(sample())
	if err != nil {
		b.Fatal(err)
	}
	c, _ := receipt.Unverified(jwt)
	sink, err := receipt.OpenFileSink(filepath.Join(b.TempDir(), "r.jsonl"), 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	for b.Loop() {
		if err := sink.Put(context.Background(), receipt.Record{Receipt: jwt, Claims: *c}); err != nil {
			b.Fatal(err)
		}
	}
}
