package oid4vci

import (
	"context"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// The parsers of untrusted input never panic and fail only with their
// documented codes.

func FuzzParseOfferLink(f *testing.F) {
	f.Add(`openid-credential-offer://?credential_offer=%7B%22credential_issuer%22%3A%22https%3A%2F%2Fi.example%22%2C%22credential_configuration_ids%22%3A%5B%22a%22%5D%2C%22grants%22%3A%7B%22urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code%22%3A%7B%22pre-authorized_code%22%3A%22c%22%7D%7D%7D`)
	f.Add(`openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fi.example%2Fo%2F1`)
	f.Add(`{"credential_issuer":"https://i.example","credential_configuration_ids":["a"],"grants":{}}`)
	f.Add(`https://wallet.example/?credential_offer=1&credential_offer_uri=2`)
	f.Fuzz(func(t *testing.T, s string) {
		o, uri, err := ParseOfferLink(s)
		if err != nil {
			if c := errcode.CodeOf(err); c != errcode.InvalidInput && c != errcode.TooLarge {
				t.Fatalf("code %s: %v", c, err)
			}
			return
		}
		if (o == nil) == (uri == "") {
			t.Fatalf("exactly one of offer and uri must be set: %v %q", o, uri)
		}
		if o != nil && (o.Grants.PreAuthorizedCode == nil || len(o.CredentialConfigurationIDs) == 0) {
			t.Fatalf("accepted an offer without a code or configuration: %+v", o)
		}
	})
}

func FuzzParseCredentialRequest(f *testing.F) {
	f.Add(`{"credential_configuration_id":"agent_certification","proofs":{"jwt":["a.b.c"]}}`)
	f.Add(`{"credential_configuration_id":"x","proof":{"proof_type":"jwt"}}`)
	f.Add(`{"credential_identifier":"x"}`)
	f.Fuzz(func(t *testing.T, s string) {
		req, err := ParseCredentialRequest([]byte(s))
		if err != nil {
			if c := errcode.CodeOf(err); c != errcode.InvalidCredentialRequest && c != errcode.InvalidProof {
				t.Fatalf("code %s: %v", c, err)
			}
			return
		}
		if req.CredentialConfigurationID == "" || len(req.Proofs) == 0 {
			t.Fatalf("accepted %+v", req)
		}
	})
}

func FuzzVerifyProof(f *testing.F) {
	k := newKey(f)
	now := time.Unix(1_800_000_000, 0)
	good, err := SignProof(k, "https://issuer.example", "n", now)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	pol := ProofPolicy{Audience: "https://issuer.example", Algorithms: []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA}, Now: now, MaxAge: time.Minute}
	allowed := map[errcode.Code]bool{
		errcode.InvalidProof: true, errcode.ProofWrongTyp: true, errcode.ProofWrongAudience: true, errcode.ProofBadSignature: true,
		errcode.ProofStale: true, errcode.ProofKeyInvalid: true, errcode.UnsupportedAlg: true, errcode.UnknownCrit: true, errcode.InvalidNonce: true,
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := VerifyProof(context.Background(), s, pol)
		if err != nil {
			if !allowed[errcode.CodeOf(err)] {
				t.Fatalf("code %s: %v", errcode.CodeOf(err), err)
			}
			return
		}
		if p.Key == nil || p.DID == "" || p.Nonce == "" {
			t.Fatalf("accepted without a key, DID or nonce: %+v", p)
		}
	})
}
