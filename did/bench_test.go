package did

import (
	"context"
	"testing"
)

const (
	benchEd  = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
	benchP   = "did:key:zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv"
	benchJWK = "did:jwk:eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6ImFjYklRaXVNczNpOF91c3pFakoydHBUdFJNNEVVM3l6OTFQSDZDZEgyVjAiLCJ5IjoiX0tjeUxqOXZXTXB0bm1LdG00NkdxRHo4d2Y3NEk1TEtncmwyR3pIM25TRSJ9"
)

func BenchmarkParseURL(b *testing.B) {
	for b.Loop() {
		if _, err := ParseURL(benchP + "#" + benchP[8:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPublicKey(b *testing.B) {
	for _, did := range []string{benchEd, benchP, benchJWK} {
		b.Run(did[:12], func(b *testing.B) {
			for b.Loop() {
				if _, err := PublicKey(did); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAssertionKeyCached(b *testing.B) {
	r := NewCachingResolver(NewResolver(nil), 0, 0, nil)
	kid := benchP + "#" + benchP[8:]
	ctx := context.Background()
	for b.Loop() {
		if _, err := AssertionKey(ctx, r, kid); err != nil {
			b.Fatal(err)
		}
	}
}
