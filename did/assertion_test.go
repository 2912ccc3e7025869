package did

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// staticResolver serves fixed documents.
func staticResolver(docs map[string]string) Resolver {
	return ResolverFunc(func(ctx context.Context, did string) (*Document, error) {
		body, ok := docs[did]
		if !ok {
			return nil, errcode.New(errcode.DIDResolutionFailed, "unknown %s", did)
		}
		doc, err := decodeDocument([]byte(body))
		if err != nil {
			return nil, errcode.Wrap(errcode.DIDResolutionFailed, err, "bad fixture")
		}
		return doc, nil
	})
}

const (
	p256JWK    = `{"kty":"EC","crv":"P-256","x":"38M1FDts7Oea7urmseiugGW7tWc3mLpJh6rKe7xINZ8","y":"nDQW6XZ7b_u2Sy9slofYLlG03sOEoug3I0aAPQ0exs4"}`
	ed25519JWK = `{"kty":"OKP","crv":"Ed25519","x":"0-e2i2_Ua1S5HbTYnVB0lj2Z2ytXu2-tYmDFf8f5NjU"}`
)

func TestAssertionKey(t *testing.T) {
	const did = "did:web:issuer.example"
	vm := func(id, key string) string {
		return fmt.Sprintf(`{"id":%q,"type":"JsonWebKey2020","controller":%q,"publicKeyJwk":%s}`, id, did, key)
	}
	docs := map[string]string{
		did: fmt.Sprintf(`{"id":%q,
			"verificationMethod":[%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,
				{"id":"#chain","type":"EcdsaSecp256k1RecoveryMethod2020","controller":%q,"blockchainAccountId":"eip155:1:0x89a932207c485f85226d86f7cd486a89a24fcc12"},
				{"id":"#both","type":"JsonWebKey2020","controller":%q,"publicKeyJwk":%s,"publicKeyMultibase":"z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"},
				{"id":"#mb","type":"Multikey","controller":%q,"publicKeyMultibase":"zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv"},
				{"id":"#mb-bad","type":"Multikey","controller":%q,"publicKeyMultibase":"uAAAA"}],
			"assertionMethod":["#rel", %q, {"id":"#embedded","type":"JsonWebKey2020","controller":%q,"publicKeyJwk":%s},
				"#dangling","#x25519","#p384","#priv","#alg","#chain","#both","#mb","#mb-bad","#dup","did:web:other.example#rel-other"],
			"authentication":["#auth-only"]}`,
			did,
			vm("#rel", p256JWK),
			vm(did+"#abs", ed25519JWK),
			vm("#auth-only", p256JWK),
			vm("#x25519", `{"kty":"OKP","crv":"X25519","x":"9GXjPGGvmRq9F6Ng5dQQ_s31mfhxrcNZxRGONrmH30k"}`),
			vm("#p384", `{"kty":"EC","crv":"P-384","x":"deBSeJA9e5bQeWRDW-xafsYoyHThnvX_EMXy1xTbDJpRXma4c9L7Jv_hgM1M9EUY","y":"6IlXbH73WtJAQtfOQDqeqni2Qk6IwMA0Dx6Sz1sa3x8X08aPibPsvX599jW9x4qi"}`),
			vm("#priv", `{"kty":"OKP","crv":"Ed25519","x":"_eT7oDCtAC98L31MMx9J0T-w7HR-zuvsY08f9MvKne8","d":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAU"}`),
			vm("#alg", strings.Replace(p256JWK, `{`, `{"alg":"ES384",`, 1)),
			vm("#dup", p256JWK),
			vm(did+"#dup", p256JWK),
			vm("#rel-other", p256JWK),
			did, did, ed25519JWK, did, did,
			did+"#abs", did, p256JWK),
		"did:web:liar.example": `{"id":"did:web:someone-else.example","assertionMethod":["#a"]}`,
	}
	r := staticResolver(docs)
	tests := []struct {
		name     string
		kid      string
		alg      jwa.SignatureAlgorithm
		wantCode errcode.Code
	}{
		{"relative reference", did + "#rel", jwa.ES256, ""},
		{"absolute reference", did + "#abs", jwa.EdDSA, ""},
		{"embedded", did + "#embedded", jwa.ES256, ""},
		{"multibase P-256", did + "#mb", jwa.ES256, ""},
		{"authentication only", did + "#auth-only", "", errcode.KeyNotFound},
		{"not listed", did + "#nope", "", errcode.KeyNotFound},
		{"another DID's method", did + "#rel-other", "", errcode.KeyNotFound},
		{"no fragment", did, "", errcode.KeyNotFound},
		{"path", did + "/path#rel", "", errcode.KeyNotFound},
		{"query", did + "?versionId=1#rel", "", errcode.KeyNotFound},
		{"not a DID URL", "#rel", "", errcode.DIDInvalid},
		{"dangling reference", did + "#dangling", "", errcode.DIDResolutionFailed},
		{"duplicate method id", did + "#dup", "", errcode.DIDResolutionFailed},
		{"private key", did + "#priv", "", errcode.DIDResolutionFailed},
		{"alg mismatch", did + "#alg", "", errcode.DIDResolutionFailed},
		{"two keys", did + "#both", "", errcode.DIDResolutionFailed},
		{"bad multibase", did + "#mb-bad", "", errcode.DIDResolutionFailed},
		{"X25519", did + "#x25519", "", errcode.DIDMethodUnsupported},
		{"P-384", did + "#p384", "", errcode.DIDMethodUnsupported},
		{"no key material", did + "#chain", "", errcode.DIDMethodUnsupported},
		{"document of another DID", "did:web:liar.example#a", "", errcode.DIDResolutionFailed},
		{"resolver failure", "did:web:unknown.example#a", "", errcode.DIDResolutionFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := AssertionKey(context.Background(), r, tt.kid)
			testkit.WantCode(t, err, tt.wantCode)
			if err != nil {
				return
			}
			if k.KeyID() != tt.kid || k.Algorithm() != tt.alg {
				t.Fatalf("kid %q alg %q", k.KeyID(), k.Algorithm())
			}
			if priv, _ := jwk.IsPrivateKey(k); priv {
				t.Fatal("private key")
			}
		})
	}
	// The resolver's code passes through unchanged.
	refusing := ResolverFunc(func(context.Context, string) (*Document, error) {
		return nil, errcode.New(errcode.FetchRefused, "guard")
	})
	_, err := AssertionKey(context.Background(), refusing, did+"#rel")
	testkit.WantCode(t, err, errcode.FetchRefused)
}

// TestAssertionKeyOffline: did:key and did:jwk kids resolve through
// NewResolver without a network, to the same key PublicKey gives.
func TestAssertionKeyOffline(t *testing.T) {
	r := NewResolver(nil)
	for _, did := range []string{
		"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
		"did:key:zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv",
		"did:jwk:eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6ImFjYklRaXVNczNpOF91c3pFakoydHBUdFJNNEVVM3l6OTFQSDZDZEgyVjAiLCJ5IjoiX0tjeUxqOXZXTXB0bm1LdG00NkdxRHo4d2Y3NEk1TEtncmwyR3pIM25TRSJ9",
	} {
		want, err := PublicKey(did)
		testkit.WantCode(t, err, "")
		got, err := AssertionKey(context.Background(), r, want.KeyID())
		testkit.WantCode(t, err, "")
		if !jwk.Equal(got, want) || got.KeyID() != want.KeyID() || got.Algorithm() != want.Algorithm() {
			t.Fatalf("%s: AssertionKey and PublicKey differ", did)
		}
		_, err = AssertionKey(context.Background(), r, did+"#other")
		testkit.WantCode(t, err, errcode.KeyNotFound)
	}
	// An X25519 did:jwk with use "enc" lists its key under keyAgreement only.
	var spec struct {
		Examples map[string]struct {
			DIDURL string `json:"did_url"`
		}
	}
	testkit.LoadVector(t, "did-jwk/spec-examples.json", &spec)
	_, err := AssertionKey(context.Background(), r, spec.Examples["X25519"].DIDURL)
	testkit.WantCode(t, err, errcode.KeyNotFound)
}

// TestAssertionKeyDIDKeySpecDocument uses the did:key v0.9 spec document
// (Multikey, publicKeyMultibase, keyAgreement embedded).
func TestAssertionKeyDIDKeySpecDocument(t *testing.T) {
	var doc json.RawMessage
	testkit.LoadVector(t, "did-key/did-key-spec/did-document-1-an-example-of-a-did-key-did-document.json", &doc)
	const did = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
	r := staticResolver(map[string]string{did: string(doc)})
	got, err := AssertionKey(context.Background(), r, did+"#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
	testkit.WantCode(t, err, "")
	want, _ := PublicKey(did)
	if !jwk.Equal(got, want) {
		t.Fatal("key from the spec document differs from PublicKey")
	}
	_, err = AssertionKey(context.Background(), r, did+"#z6LSj72tK8brWgZja8NLRwPigth2T9QRiG1uH9oKZuKjdh9p")
	testkit.WantCode(t, err, errcode.KeyNotFound)
	// Our own document for the DID lists the same method ids.
	ours, _ := DocumentFor(did)
	var theirs Document
	if err := json.Unmarshal(doc, &theirs); err != nil {
		t.Fatal(err)
	}
	if ours.VerificationMethod[0].ID != theirs.VerificationMethod[0].ID || ours.AssertionMethod[0] != theirs.AssertionMethod[0] {
		t.Fatal("method ids differ from the spec document")
	}
}

// TestAssertionKeyDIDWebSpecDocument uses the did:web spec's JWK example. As
// printed it is not valid JSON (a trailing comma), which must be refused; with
// the comma removed, its Ed25519 and P-256 keys are assertion keys and its
// X25519 key is not.
func TestAssertionKeyDIDWebSpecDocument(t *testing.T) {
	var spec struct {
		DIDDocuments []struct {
			Text      string `json:"text"`
			ValidJSON bool   `json:"valid_json"`
		} `json:"did_documents"`
	}
	testkit.LoadVector(t, "did-web/spec-examples.json", &spec)
	text := spec.DIDDocuments[0].Text
	if spec.DIDDocuments[0].ValidJSON {
		t.Fatal("vector self-check")
	}
	if _, err := decodeDocument([]byte(text)); err == nil {
		t.Fatal("invalid JSON accepted")
	}
	fixed := strings.Replace(text, "},\n  ],", "}\n  ],", 1)
	r := staticResolver(map[string]string{"did:web:example.com": fixed})
	for kid, code := range map[string]errcode.Code{
		"did:web:example.com#key-0": "",
		"did:web:example.com#key-2": "",
		"did:web:example.com#key-1": errcode.KeyNotFound,
	} {
		_, err := AssertionKey(context.Background(), r, kid)
		testkit.WantCode(t, err, code)
	}
	// The ethereum-address example has no usable key and no assertionMethod.
	r = staticResolver(map[string]string{"did:web:example.com": spec.DIDDocuments[1].Text})
	_, err := AssertionKey(context.Background(), r, "did:web:example.com#address-0")
	testkit.WantCode(t, err, errcode.KeyNotFound)
}

func TestRelationshipJSON(t *testing.T) {
	in := `["#a","did:x:y#b",{"id":"#c","type":"JsonWebKey2020","controller":"did:x:y","publicKeyJwk":{"kty":"OKP"}}]`
	var rels []Relationship
	if err := json.Unmarshal([]byte(in), &rels); err != nil {
		t.Fatal(err)
	}
	if rels[0].Ref != "#a" || rels[1].ID() != "did:x:y#b" || rels[2].Embedded == nil || rels[2].ID() != "#c" {
		t.Fatalf("%+v", rels)
	}
	if out := testkit.JSON(t, rels); !jsonEqual(t, out, []byte(in)) {
		t.Fatalf("round trip: %s", out)
	}
	for _, bad := range []string{`[1]`, `[null]`, `[true]`, `[["#a"]]`, `[{"id":1}]`} {
		if err := json.Unmarshal([]byte(bad), &rels); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestIssuerKey(t *testing.T) {
	const web = "did:web:issuer.example"
	docs := map[string]string{web: fmt.Sprintf(`{"id":%q,
		"verificationMethod":[{"id":"#k1","type":"JsonWebKey2020","controller":%q,"publicKeyJwk":%s}],
		"assertionMethod":["#k1"]}`, web, web, p256JWK)}
	r := staticResolver(docs)
	const keyDID = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
	ctx := context.Background()
	for _, kid := range []string{"#k1", web + "#k1"} {
		k, err := IssuerKey(ctx, r, web, kid)
		if err != nil || k.KeyID() != web+"#k1" {
			t.Fatalf("IssuerKey(%s, %q) = %v, %v", web, kid, k, err)
		}
	}
	k, err := IssuerKey(ctx, NewResolver(nil), keyDID, "")
	if err != nil || k.KeyID() != keyDID+"#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK" {
		t.Fatalf("did:key without kid: %v, %v", k, err)
	}
	for _, tc := range []struct {
		iss, kid string
		want     errcode.Code
	}{
		{"https://issuer.example", "#k1", errcode.UntrustedIssuer},
		{web, "", errcode.KeyNotFound},
		{web, "did:web:other.example#k1", errcode.KeyNotFound},
		{web, "not a url", errcode.KeyNotFound},
		{web, "#k2", errcode.KeyNotFound},
	} {
		_, err := IssuerKey(ctx, r, tc.iss, tc.kid)
		testkit.WantCode(t, err, tc.want)
	}
}

// TestDocumentMembersOnce: a DID document giving a member twice, or in two
// cases, is refused rather than read as its last value.
func TestDocumentMembersOnce(t *testing.T) {
	if _, err := decodeDocument([]byte(`{"id":"did:web:a.example"}`)); err != nil {
		t.Fatalf("a plain document: %v", err)
	}
	for _, body := range []string{
		`{"id":"did:web:evil.example","id":"did:web:a.example"}`,
		`{"ID":"did:web:evil.example","id":"did:web:a.example"}`,
		`{"id":"did:web:a.example","assertionMethod":["#k1"],"AssertionMethod":["#k2"]}`,
	} {
		if _, err := decodeDocument([]byte(body)); err == nil {
			t.Errorf("%s: decoded", body)
		}
	}
}
