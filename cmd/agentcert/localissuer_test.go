package main

import (
	"testing"

	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// The local issuer's DID document is built once per key set: the same keys
// give the same document, and a key added, replaced or dropped, or another
// DID, gives a new one with exactly the current keys.
func TestDocMemoFollowsTheKeySet(t *testing.T) {
	const id = "did:web:issuer.example"
	_, k1 := testkeys.Pair(t, jwa.ES256, id+"#k1")
	_, k2 := testkeys.Pair(t, jwa.ES256, id+"#k2")
	_, k2again := testkeys.Pair(t, jwa.ES256, id+"#k2")
	var m docMemo
	doc := func(id string, keys ...jwk.Key) []string {
		t.Helper()
		d, err := m.document(id, keys)
		if err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, vm := range d.VerificationMethod {
			kids = append(kids, vm.ID)
		}
		return kids
	}
	first, _ := m.document(id, []jwk.Key{k1})
	if again, _ := m.document(id, []jwk.Key{k1}); again != first {
		t.Fatal("the same key set built the document again")
	}
	if got := doc(id, k1, k2); len(got) != 2 || got[1] != id+"#k2" {
		t.Fatalf("after adding k2: %v", got)
	}
	withK2, _ := m.document(id, []jwk.Key{k1, k2})
	if replaced, _ := m.document(id, []jwk.Key{k1, k2again}); replaced == withK2 {
		t.Fatal("a replaced key value kept the old document")
	}
	if got := doc(id, k2); len(got) != 1 || got[0] != id+"#k2" {
		t.Fatalf("after retiring k1: %v", got)
	}
	_, k3 := testkeys.Pair(t, jwa.ES256, "did:web:other.example#k3")
	if got := doc("did:web:other.example", k3); len(got) != 1 || got[0] != "did:web:other.example#k3" {
		t.Fatalf("another DID: %v", got)
	}
}
