package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// didKey makes a P-256 key whose kid is the verification method of its
// did:key, and returns the private key, its public JWK and the DID.
func didKey() (jwk.Key, map[string]any, string) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	k, _ := jwk.FromRaw(raw)
	_ = k.Set(jwk.AlgorithmKey, jwa.ES256)
	pub, _ := k.PublicKey()
	id, err := did.KeyDID(pub)
	if err != nil {
		panic(err)
	}
	kid, _ := did.VerificationMethodID(id)
	_ = k.Set(jwk.KeyIDKey, kid)
	b, _ := json.Marshal(pub)
	var cnf map[string]any
	_ = json.Unmarshal(b, &cnf)
	return k, cnf, id
}

// presentation issues a credential from issuer to an agent and presents it
// with a KB-JWT for audience and nonce.
func presentation(issuer jwk.Key, issuerDID, audience, nonce string) string {
	agent, cnf, agentDID := didKey()
	now := time.Now()
	cred, err := sdjwt.Issue(map[string]any{
		"iss": issuerDID, "sub": agentDID, "vct": "urn:example:agent:v1",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "cnf": map[string]any{"jwk": cnf},
		"permissions": []any{map[string]any{"action": "invoices:read"}},
	}, []string{"/permissions/*"}, issuer, nil)
	if err != nil {
		panic(err)
	}
	pres, err := sdjwt.Present(cred, []string{"/permissions/0"}, &sdjwt.KBOptions{Key: agent, Audience: audience, Nonce: nonce})
	if err != nil {
		panic(err)
	}
	return pres
}

func ExampleNew() {
	p := verifier.DefaultPolicy()
	p.Trusted["did:web:issuer.example"] = []string{"urn:agentcert:agent-certification:v1"}
	v, err := verifier.New(p, verifier.WithCache(time.Minute, 256))
	fmt.Println(v != nil, err)

	// A policy that cannot work is refused at once.
	p.RequireNonce = true
	_, err = verifier.New(p)
	fmt.Println(err)
	// Output:
	// true <nil>
	// verifier: Policy.RequireNonce needs WithNonces
}

func ExampleVerifier_Verify() {
	issuer, _, issuerDID := didKey()
	p := verifier.DefaultPolicy()
	p.Trusted[issuerDID] = []string{"urn:example:agent:v1"}
	p.CheckStatus = false // this credential has no status list
	v, err := verifier.New(p)
	if err != nil {
		panic(err)
	}
	pres := presentation(issuer, issuerDID, "https://api.example", "n-1")

	res := v.Verify(context.Background(), verifier.Request{
		Presentation: pres, Audience: "https://api.example", Nonce: "n-1", Action: "invoices:read",
	})
	fmt.Println(res.Verified, res.VCT, res.Decision.Allowed)

	res = v.Verify(context.Background(), verifier.Request{Presentation: pres, Audience: "https://other.example", Nonce: "n-1"})
	fmt.Println(res.Verified, res.Error.Code)
	// Output:
	// true urn:example:agent:v1 true
	// false kb_wrong_audience
}

func ExampleMiddleware() {
	issuer, _, issuerDID := didKey()
	p := verifier.DefaultPolicy()
	p.Trusted[issuerDID] = []string{"urn:example:agent:v1"}
	p.CheckStatus = false
	v, _ := verifier.New(p)
	nonces, _ := verifier.NewNonces(nil, 5*time.Minute, nil)

	guard, err := verifier.Middleware(v, verifier.MiddlewareOptions{
		Audience: "https://api.example",
		Nonces:   nonces,
		Action:   func(*http.Request) (string, map[string]any) { return "invoices:read", nil },
	})
	if err != nil {
		panic(err)
	}
	api := guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := verifier.ResultFrom(r.Context())
		fmt.Fprintf(w, "hello %s", res.Subject[:8])
	}))

	nonce, _, _ := nonces.Issue()
	req := httptest.NewRequest(http.MethodGet, "/invoices", nil)
	req.Header.Set(verifier.HeaderAgentCredential, presentation(issuer, issuerDID, "https://api.example", nonce))
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body.String())

	// The same presentation again: its nonce is spent.
	rec = httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))

	// Options that cannot work are refused when the middleware is built.
	_, err = verifier.Middleware(v, verifier.MiddlewareOptions{Audience: "https://api.example"})
	fmt.Println(err)
	// Output:
	// 200 hello did:key:
	// 401 AgentCredential error="nonce_replayed"
	// verifier: MiddlewareOptions.Nonces is required
}

func ExampleNonces() {
	nonces, err := verifier.NewNonces(nil, time.Minute, nil)
	if err != nil {
		panic(err)
	}
	n, _, _ := nonces.Issue()
	fmt.Println(nonces.Validate(n))
	ctx := context.Background()
	fmt.Println(nonces.Use(ctx, n))
	fmt.Println(errcode.CodeOf(nonces.Use(ctx, n)))
	fmt.Println(errcode.CodeOf(nonces.Validate("forged")))
	// Output:
	// <nil>
	// <nil>
	// nonce_replayed
	// nonce_invalid
}
