package issuer

import (
	"crypto/rand"
	"crypto/rsa"
	"reflect"
	"testing"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// publicKey is a fresh public key of alg.
func publicKey(t *testing.T, alg jwa.SignatureAlgorithm) jwk.Key {
	t.Helper()
	priv, err := keyutil.Generate(alg)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := keyutil.Public(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// cnf.jwk read from the parsed key is the object the key's JSON encoding
// gives, for the keys subjects have and for any other.
func TestCnfJWKIsTheKeysJSON(t *testing.T) {
	keys := map[string]jwk.Key{}
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		pub := publicKey(t, alg)
		keys[string(alg)+" bare"] = pub
		for method, mk := range map[string]func(jwk.Key) (string, error){"did:key": did.KeyDID, "did:jwk": did.JWKDID} {
			d, err := mk(pub)
			if err != nil {
				t.Fatal(err)
			}
			k, err := did.PublicKey(d)
			if err != nil {
				t.Fatal(err)
			}
			keys[string(alg)+" "+method] = k
		}
		withUse, _ := pub.Clone()
		_ = withUse.Set(jwk.KeyUsageKey, "sig")
		keys[string(alg)+" with use"] = withUse
		withOps, _ := pub.Clone()
		_ = withOps.Set(jwk.KeyOpsKey, jwk.KeyOperationList{jwk.KeyOpVerify})
		keys[string(alg)+" with key_ops"] = withOps
		withX5U, _ := pub.Clone()
		_ = withX5U.Set(jwk.X509URLKey, "https://example.com/x5u")
		keys[string(alg)+" with x5u"] = withX5U
		withPrivate, _ := pub.Clone()
		_ = withPrivate.Set("ext", "member")
		keys[string(alg)+" with a private member"] = withPrivate
		emptyKid, _ := pub.Clone()
		_ = emptyKid.Set(jwk.KeyIDKey, "")
		keys[string(alg)+" with an empty kid"] = emptyKid
	}
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPub, err := jwk.FromRaw(&rsaPriv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keys["RSA"] = rsaPub
	p384, err := jwk.ParseKey([]byte(`{"kty":"EC","crv":"P-384","x":"iA7lWQLzVrKGEFjfGMfMHfTEZ2KnLiKU7JuNT3E7ygsfE7ygsfE7ygsfE7ygsfE7","y":"yLFYv3cGc9sVmjqwMW1uJGs9NbUYYh9fDOrmSCRLYcLe6kfC8y1f4LbG2gyLVO2i"}`))
	if err != nil {
		t.Fatal(err)
	}
	keys["P-384"] = p384

	for name, k := range keys {
		t.Run(name, func(t *testing.T) {
			want, err := keyutil.ToMap(k)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cnfJWK(k)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("cnfJWK = %v, the key's JSON gives %v", got, want)
			}
		})
	}
}

// The subjects' keys take the direct path; keys with other members do not.
func TestPlainPublicJWKTakesOnlySubjectKeys(t *testing.T) {
	pub := publicKey(t, jwa.ES256)
	d, err := did.KeyDID(pub)
	if err != nil {
		t.Fatal(err)
	}
	k, err := did.PublicKey(d)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := plainPublicJWK(k)
	if !ok || m["kid"] == nil || m["alg"] != "ES256" {
		t.Fatalf("plainPublicJWK(did:key key) = %v, %v", m, ok)
	}
	withUse, _ := pub.Clone()
	_ = withUse.Set(jwk.KeyUsageKey, "sig")
	if _, ok := plainPublicJWK(withUse); ok {
		t.Fatal("plainPublicJWK took a key with use")
	}
	priv, err := keyutil.Generate(jwa.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plainPublicJWK(priv); ok {
		t.Fatal("plainPublicJWK took a private key")
	}
}
