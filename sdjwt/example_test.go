package sdjwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// newES256 returns a private jwk.Key with kid and alg set, as every key in
// agentcert carries them.
func newES256(kid string) jwk.Key {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		panic(err)
	}
	_ = k.Set(jwk.KeyIDKey, kid)
	_ = k.Set(jwk.AlgorithmKey, jwa.ES256)
	return k
}

func ExampleIssue() {
	issuerKey := newES256("did:web:issuer.example#key-1")
	claims := map[string]any{
		"iss": "did:web:issuer.example",
		"vct": "urn:agentcert:agent-certification:v1",
		"permissions": []any{
			map[string]any{"action": "invoices:read"},
			map[string]any{"action": "payments:read"},
		},
		"autonomy": "supervised",
	}
	// Every permission and the autonomy level become selectively disclosable.
	sdJWT, err := sdjwt.Issue(claims, []string{"/permissions/*", "/autonomy"}, issuerKey, nil)
	if err != nil {
		panic(err)
	}
	tok, err := sdjwt.Parse(sdJWT, sdjwt.Limits{})
	if err != nil {
		panic(err)
	}
	fmt.Println("typ:", tok.UnverifiedHeader()["typ"])
	fmt.Println("disclosures:", len(tok.Disclosures))
	fmt.Println("ends with ~:", strings.HasSuffix(sdJWT, "~"))
	// Output:
	// typ: dc+sd-jwt
	// disclosures: 3
	// ends with ~: true
}

func ExampleVerify() {
	issuerKey := newES256("issuer-key-1")
	holderKey := newES256("holder-key-1")
	holderPub, _ := holderKey.PublicKey()

	claims := map[string]any{
		"iss": "https://issuer.example",
		"exp": time.Now().Add(time.Hour).Unix(),
		"cnf": map[string]any{"jwk": holderPub},
		"permissions": []any{
			map[string]any{"action": "invoices:read"},
			map[string]any{"action": "payments:initiate"},
		},
	}
	sdJWT, _ := sdjwt.Issue(claims, []string{"/permissions/*"}, issuerKey, nil)

	// The holder reveals the first permission only, bound to this verifier's nonce.
	pres, _ := sdjwt.Present(sdJWT, []string{"/permissions/0"}, &sdjwt.KBOptions{
		Key: holderKey, Audience: "https://verifier.example", Nonce: "8f2c1e",
	})

	issuerPub, _ := issuerKey.PublicKey()
	res, err := sdjwt.Verify(context.Background(), pres, sdjwt.VerifyOptions{
		IssuerKey: func(_ context.Context, iss string, _ jws.Headers) (jwk.Key, error) {
			return issuerPub, nil // look the key up by iss and kid in real code
		},
		RequireKB: true,
		Audience:  "https://verifier.example",
		Nonce:     "8f2c1e",
	})
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	fmt.Println(res.Claims["permissions"])
	// Output:
	// [map[action:invoices:read]]
}

func ExampleDelegate() {
	issuerKey := newES256("issuer-key-1")
	agentKey := newES256("")    // the certified agent (the credential's cnf)
	subAgentKey := newES256("") // the delegate
	agentPub, _ := agentKey.PublicKey()
	subPub, _ := subAgentKey.PublicKey()

	cert, _ := sdjwt.Issue(map[string]any{
		"iss": "https://issuer.example", "exp": time.Now().Add(time.Hour).Unix(),
		"cnf": map[string]any{"jwk": agentPub}, "permissions": []any{map[string]any{"action": "invoices:read"}},
	}, []string{"/permissions/*"}, issuerKey, nil)

	// The agent hands a task to the sub-agent: one KB-SD-JWT signed with its key.
	chain, err := sdjwt.Delegate(cert, map[string]any{
		"sub": "did:example:sub-agent", "exp": time.Now().Add(10 * time.Minute).Unix(),
		"cnf": map[string]any{"jwk": subPub}, "task": map[string]any{"id": "T-1"},
	}, sdjwt.DelegateOptions{Key: agentKey})
	if err != nil {
		panic(err)
	}
	// The sub-agent presents the chain with a final KB-JWT.
	pres, _ := sdjwt.PresentChain(chain, nil, &sdjwt.KBOptions{Key: subAgentKey, Audience: "https://rp.example", Nonce: "n-1"})

	issuerPub, _ := issuerKey.PublicKey()
	res, err := sdjwt.VerifyChain(context.Background(), pres, sdjwt.ChainOptions{VerifyOptions: sdjwt.VerifyOptions{
		IssuerKey: func(context.Context, string, jws.Headers) (jwk.Key, error) { return issuerPub, nil },
		RequireKB: true, Audience: "https://rp.example", Nonce: "n-1",
	}})
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	fmt.Println("hops:", len(res.Hops), res.Hops[0].Header["typ"], res.Hops[0].Link)
	fmt.Println("delegate:", res.Hops[0].Delegate["sub"], res.Hops[0].Delegate["task"])
	// Output:
	// hops: 1 kb+sd-jwt+kb sd_hash
	// delegate: did:example:sub-agent map[id:T-1]
}
