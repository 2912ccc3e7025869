package verifier

import (
	"context"
	"sync"
	"testing"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// TestLocalIssuerKeySeenAtOnce: the local issuer's document is built anew
// for every lookup and only the parsing of its keys is remembered, so a
// retired key, or another key under the same kid, is refused at the next
// verification, for a credential seen before (a credential cache hit) as
// for a new one.
func TestLocalIssuerKeySeenAtOnce(t *testing.T) {
	const issDID = "did:web:issuer.example"
	f := newSecFixture(t)
	f.issDID = issDID
	f.iss = testkeys.New(t, jwa.ES256, issDID+"#k1")
	var mu sync.Mutex
	keys := []jwk.Key{}
	publish := func(ks ...jwk.Key) {
		mu.Lock()
		defer mu.Unlock()
		keys = keys[:0]
		for _, k := range ks {
			pub, err := keyutil.Public(k)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, pub)
		}
	}
	builds := 0
	local := &LocalIssuer{DID: issDID, Document: func(context.Context) (*did.Document, error) {
		mu.Lock()
		defer mu.Unlock()
		builds++
		return did.NewWebDocument(issDID, keys)
	}}
	p := DefaultPolicy()
	p.Trusted[issDID] = []string{"urn:agentcert:agent-certification:v1"}
	p.CheckStatus = false
	v, err := New(p, WithLocalIssuer(local), WithResolver(did.NewResolver(nil)))
	if err != nil {
		t.Fatal(err)
	}
	other := testkeys.New(t, jwa.ES256, issDID+"#k2")
	publish(f.iss, other)
	req := func(pres string) Request {
		return Request{Presentation: pres, Audience: "https://verifier.example", Nonce: "n"}
	}
	seen := f.present(f.claims(f.agent), nil, nil, f.agent, "n")
	for i := 0; i < 3; i++ {
		wantResult(t, "key published", v.Verify(context.Background(), req(seen)), "")
	}
	if st := v.CredentialCacheStats(); st.Hits != 2 {
		t.Fatalf("cache stats %+v, want 2 hits", st)
	}
	if n := v.localKeys.Len(); n != 1 {
		t.Fatalf("%d local keys remembered, want 1", n)
	}

	// k1 retired: the document no longer lists it.
	publish(other)
	wantResult(t, "seen before, key retired", v.Verify(context.Background(), req(seen)), errcode.KeyNotFound)
	wantResult(t, "new, key retired", v.Verify(context.Background(), req(f.present(f.claims(f.agent), nil, nil, f.agent, "n"))), errcode.KeyNotFound)

	// Another key published under kid k1: the remembered k1 does not answer.
	publish(testkeys.New(t, jwa.ES256, issDID+"#k1"), other)
	wantResult(t, "seen before, kid reused by another key", v.Verify(context.Background(), req(seen)), errcode.BadSignature)

	// k1 back: accepted again.
	publish(f.iss, other)
	wantResult(t, "key published again", v.Verify(context.Background(), req(seen)), "")
	mu.Lock()
	defer mu.Unlock()
	if builds < 7 {
		t.Fatalf("document built %d times for 7 verifications", builds)
	}
}
