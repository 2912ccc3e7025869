package jose

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

func TestSign(t *testing.T) {
	raw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k := key(t, raw, jwa.ES256)
	pub, _ := k.PublicKey()
	out, err := Sign([]byte(`{"a":1}`), jwa.ES256, k, map[string]any{jws.TypeKey: "x+jwt", jws.KeyIDKey: "k-1", "extra": "v"})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify(out, jws.WithKey(jwa.ES256, pub))
	if err != nil || string(payload) != `{"a":1}` {
		t.Fatalf("Verify = %q, %v", payload, err)
	}
	msg, _ := jws.Parse(out)
	h := msg.Signatures()[0].ProtectedHeaders()
	extra, _ := h.Get("extra")
	if h.Type() != "x+jwt" || h.KeyID() != "k-1" || h.Algorithm() != jwa.ES256 || extra != "v" {
		t.Fatalf("header = typ %q kid %q alg %q extra %v", h.Type(), h.KeyID(), h.Algorithm(), extra)
	}
	// A header member of the wrong type is refused, and nothing is signed.
	if out, err := Sign([]byte("{}"), jwa.ES256, k, map[string]any{jws.KeyIDKey: 7}); err == nil {
		t.Fatalf("Sign with a numeric kid = %q", out)
	}
	// A key that does not fit the algorithm is refused by the signing.
	if out, err := Sign([]byte("{}"), jwa.EdDSA, k, nil); err == nil {
		t.Fatalf("Sign with EdDSA and a P-256 key = %q", out)
	}
}
