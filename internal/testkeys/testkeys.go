// Package testkeys makes keys with did:key identifiers for tests: a private
// key whose kid is the DID URL of its verification method, and the DID.
package testkeys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// DIDKey returns a new private key for alg (kid set) and its did:key.
func DIDKey(t testing.TB, alg jwa.SignatureAlgorithm) (jwk.Key, string) {
	t.Helper()
	k, err := keyutil.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := keyutil.Public(k)
	if err != nil {
		t.Fatal(err)
	}
	id, err := did.KeyDID(pub)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := did.VerificationMethodID(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	return k, id
}

// New returns a private key for alg (ES256, ES384, EdDSA, or HS256 for
// tests of refusals) with kid and alg set.
func New(t testing.TB, alg jwa.SignatureAlgorithm, kid string) jwk.Key {
	t.Helper()
	var raw any
	var err error
	switch alg {
	case jwa.ES256:
		raw, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jwa.ES384:
		raw, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jwa.EdDSA:
		_, raw, err = ed25519.GenerateKey(rand.Reader)
	case jwa.HS256:
		raw = []byte("0123456789abcdef0123456789abcdef")
	default:
		t.Fatalf("no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: alg} {
		if err := k.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// Pair returns New's key and its public key.
func Pair(t testing.TB, alg jwa.SignatureAlgorithm, kid string) (priv, pub jwk.Key) {
	t.Helper()
	priv = New(t, alg, kid)
	pub, err := priv.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// PublicJWK returns the public key of k as a decoded JSON object (what a
// cnf.jwk or a JWK file holds).
func PublicJWK(t testing.TB, k jwk.Key) map[string]any {
	t.Helper()
	pub, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return testkit.JSONMap(t, pub)
}

// SignJWS signs payload (a []byte as is, anything else as its JSON) with
// key (a jwk.Key, or a raw key from Raw so that jwx adds no header of its
// own) and alg, with exactly the protected header members hdr besides alg;
// it is how tests build tokens a library would refuse to make.
func SignJWS(t testing.TB, key any, alg jwa.SignatureAlgorithm, hdr map[string]any, payload any) string {
	t.Helper()
	body, ok := payload.([]byte)
	if !ok {
		body = testkit.JSON(t, payload)
	}
	h := jws.NewHeaders()
	for name, v := range hdr {
		if err := h.Set(name, v); err != nil {
			t.Fatalf("header %s: %v", name, err)
		}
	}
	out, err := jws.Sign(body, jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// Raw returns the raw key (*ecdsa.PrivateKey, ed25519.PrivateKey, ...) of k.
func Raw(t testing.TB, k jwk.Key) any {
	t.Helper()
	var raw any
	if err := k.Raw(&raw); err != nil {
		t.Fatal(err)
	}
	return raw
}
