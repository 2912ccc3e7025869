// Package testkeys makes keys with did:key identifiers for tests: a private
// key whose kid is the DID URL of its verification method, and the DID.
package testkeys

import (
	"testing"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
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
