package did

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

var parseSeeds = []string{
	"did:example:123456789abcdefghi",
	"did:web:example.com%3A3000:user:alice",
	"did:web:w3c-ccg.github.io",
	"did:web:%5B%3A%3A1%5D%3A8443",
	"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
	"did:key:zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv#zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv",
	"did:jwk:eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6ImFjYklRaXVNczNpOF91c3pFakoydHBUdFJNNEVVM3l6OTFQSDZDZEgyVjAiLCJ5IjoiX0tjeUxqOXZXTXB0bm1LdG00NkdxRHo4d2Y3NEk1TEtncmwyR3pIM25TRSJ9#0",
	"did:example:123/path?query=1#frag",
	"did:a:b::c",
	"did:web:a%zz",
	"did::x",
	"did:web:example.com#",
	"did:web:example.com?",
	"",
}

// FuzzParse checks that Parse and ParseURL never panic, that what they
// accept prints back to itself, and that WebURL yields only https/http URLs.
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err == nil {
			if d.String() != s {
				t.Fatalf("Parse(%q).String() = %q", s, d.String())
			}
			u, err := ParseURL(s)
			if err != nil || u.DID != d || u.Path != "" || u.Query != "" || u.Fragment != "" {
				t.Fatalf("ParseURL(%q) = %+v, %v for a plain DID", s, u, err)
			}
			if w, err := WebURL(s, nil); err == nil {
				pu, err := url.Parse(w)
				if err != nil || pu.Scheme != "https" || pu.Host == "" || !strings.HasSuffix(pu.Path, "/did.json") {
					t.Fatalf("WebURL(%q) = %q", s, w)
				}
			}
		}
		u, err := ParseURL(s)
		if err != nil {
			return
		}
		again, err := ParseURL(u.String())
		if err != nil || again != u {
			t.Fatalf("ParseURL(%q) = %+v; reparsed %+v, %v", s, u, again, err)
		}
		if _, err := Parse(u.DID.String()); err != nil {
			t.Fatalf("DID of %q does not parse: %v", s, err)
		}
	})
}

// FuzzPublicKey checks did:key and did:jwk decoding: no panics, and an
// accepted DID gives a public key with kid and alg that encodes back to the
// same key (for did:key, to the same string).
func FuzzPublicKey(f *testing.F) {
	for _, s := range []string{
		"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
		"did:key:zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv",
		"did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme",
		"did:key:z82LkvCwHNreneWpsgPEbV3gu1C6NFJEBg4srfJ5gdxEsMGRJUz2sG9FE42shbn2xkZJh54",
		"did:key:z6LSeu9HkTHSfLLeUs2nnzUSNedgDUevfNQgQjQC23ZCit6F",
		"did:key:1:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
		"did:key:z",
		"did:jwk:eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6ImFjYklRaXVNczNpOF91c3pFakoydHBUdFJNNEVVM3l6OTFQSDZDZEgyVjAiLCJ5IjoiX0tjeUxqOXZXTXB0bm1LdG00NkdxRHo4d2Y3NEk1TEtncmwyR3pIM25TRSJ9",
		"did:jwk:eyJrdHkiOiJPS1AiLCJjcnYiOiJYMjU1MTkiLCJ1c2UiOiJlbmMiLCJ4IjoiM3A3YmZYdDl3YlRUVzJIQzdPUTFOei1EUThoYmVHZE5yZngtRkctSUswOCJ9",
		"did:jwk:eyJrdHkiOiJPS1AiLCJjcnYiOiJFZDI1NTE5IiwieCI6IjAtZTJpMl9VYTFTNUhiVFluVkIwbGoyWjJ5dFh1Mi10WW1ERmY4ZjVOalUifQ",
		"did:jwk:e30",
		"did:web:example.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := PublicKey(s)
		doc, docErr := DocumentFor(s)
		if err != nil {
			if _, vmErr := VerificationMethodID(s); vmErr == nil {
				t.Fatalf("VerificationMethodID accepts %q that PublicKey refuses", s)
			}
			return
		}
		if docErr != nil || doc.ID != s || doc.VerificationMethod[0].ID != k.KeyID() {
			t.Fatalf("DocumentFor(%q) = %+v, %v", s, doc, docErr)
		}
		if priv, err := jwk.IsPrivateKey(k); err != nil || priv {
			t.Fatalf("PublicKey(%q) is not public", s)
		}
		if !strings.HasPrefix(k.KeyID(), s+"#") || k.Algorithm().String() == "" {
			t.Fatalf("PublicKey(%q): kid %q alg %q", s, k.KeyID(), k.Algorithm())
		}
		var back string
		if strings.HasPrefix(s, "did:key:") {
			back, err = KeyDID(k)
			if err != nil || back != s {
				t.Fatalf("KeyDID(PublicKey(%q)) = %q, %v", s, back, err)
			}
		} else {
			back, err = JWKDID(k)
		}
		if err != nil {
			t.Fatalf("re-encoding %q: %v", s, err)
		}
		k2, err := PublicKey(back)
		if err != nil || !jwk.Equal(k, k2) {
			t.Fatalf("round trip of %q through %q: %v", s, back, err)
		}
		got, err := AssertionKey(context.Background(), NewResolver(nil), k.KeyID())
		if err != nil || !jwk.Equal(got, k) {
			t.Fatalf("AssertionKey(%q): %v", k.KeyID(), err)
		}
	})
}

// FuzzDocument checks that decoding a DID document and looking a key up in
// it never panics.
func FuzzDocument(f *testing.F) {
	f.Add(`{"id":"did:web:a.example","verificationMethod":[{"id":"#k","type":"JsonWebKey2020","controller":"did:web:a.example","publicKeyJwk":`+p256JWK+`}],"assertionMethod":["#k"]}`, "did:web:a.example#k")
	f.Add(`{"id":"did:web:a.example","assertionMethod":[{"id":"#k","publicKeyMultibase":"z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"}]}`, "did:web:a.example#k")
	f.Add(`{"id":"did:web:a.example","assertionMethod":[{"id":"#k","publicKeyJwk":null}]}`, "did:web:a.example#k")
	f.Add(`[]`, "#k")
	f.Fuzz(func(t *testing.T, body, kid string) {
		doc, err := decodeDocument([]byte(body))
		if err != nil {
			return
		}
		r := ResolverFunc(func(context.Context, string) (*Document, error) { return doc, nil })
		k, err := AssertionKey(context.Background(), r, kid)
		if err == nil {
			if priv, err := jwk.IsPrivateKey(k); err != nil || priv || k.KeyID() != kid {
				t.Fatalf("AssertionKey(%q) returned %v", kid, k)
			}
		}
	})
}
