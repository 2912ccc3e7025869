package did_test

import (
	"context"
	"fmt"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
)

func ExamplePublicKey() {
	key, err := did.PublicKey("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
	if err != nil {
		panic(err)
	}
	fmt.Println(key.KeyType(), key.Algorithm())
	fmt.Println(key.KeyID())
	back, _ := did.KeyDID(key)
	fmt.Println(back)
	// Output:
	// OKP EdDSA
	// did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK
	// did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK
}

func ExampleParseURL() {
	u, err := did.ParseURL("did:web:example.com%3A3000:user:alice#key-1")
	if err != nil {
		panic(err)
	}
	fmt.Println(u.DID.Method, u.DID.ID, u.Fragment)
	_, err = did.Parse("did:Web:example.com")
	fmt.Println(errcode.CodeOf(err))
	// Output:
	// web example.com%3A3000:user:alice key-1
	// did_invalid
}

func ExampleWebURL() {
	u, _ := did.WebURL("did:web:example.com%3A3000:user:alice", nil)
	fmt.Println(u)
	// Output: https://example.com:3000/user/alice/did.json
}

func ExampleAssertionKey() {
	r := did.NewCachingResolver(did.NewResolver(did.NewFetcher(did.FetcherConfig{})), 0, 0, nil)
	kid := "did:key:zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv#zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv"
	key, err := did.AssertionKey(context.Background(), r, kid)
	if err != nil {
		panic(err)
	}
	fmt.Println(key.Algorithm(), key.KeyID() == kid)

	// A did:web pointing at the cloud metadata address is refused before
	// any connection is made.
	_, err = r.Resolve(context.Background(), "did:web:169.254.169.254")
	fmt.Println(errcode.CodeOf(err))
	// Output:
	// ES256 true
	// fetch_refused
}
