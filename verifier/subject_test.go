package verifier

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// TestSubjectKeyRefusedAfterTheSubjectIsKnown: the subject key memo keeps
// the decoding of a DID, never a verdict. Once a victim's did:key has been
// decoded for its own credential, a credential naming it with an
// attacker's cnf is still refused, with and without key binding, and the
// victim's own credential still passes.
func TestSubjectKeyRefusedAfterTheSubjectIsKnown(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		t.Run(alg.String(), func(t *testing.T) {
			f := newSecFixture(t)
			f.agent, f.sub = testkeys.DIDKey(t, alg)
			attacker, _ := testkeys.DIDKey(t, alg)
			p := DefaultPolicy()
			v := f.verifier(p, nil)
			req := func(pres string) Request {
				return Request{Presentation: pres, Audience: "https://verifier.example", Nonce: "n"}
			}
			good := f.present(f.claims(f.agent), nil, nil, f.agent, "n")
			wantResult(t, "subject's own key", v.Verify(context.Background(), req(good)), "")
			if v.subjects.c.Len() != 1 {
				t.Fatalf("%d subject keys remembered, want 1", v.subjects.c.Len())
			}
			stolen := f.present(f.claims(attacker), nil, nil, attacker, "n")
			wantResult(t, "victim's DID known, attacker's cnf", v.Verify(context.Background(), req(stolen)), errcode.SubjectKeyMismatch)
			wantResult(t, "subject's own key again", v.Verify(context.Background(), req(good)), "")

			p.RequireKB = false
			nokb := f.verifier(p, nil)
			wantResult(t, "no KB, subject's own key", nokb.Verify(context.Background(), Request{Presentation: f.present(f.claims(f.agent), nil, nil, nil, "")}), "")
			wantResult(t, "no KB, attacker's cnf", nokb.Verify(context.Background(), Request{Presentation: f.present(f.claims(attacker), nil, nil, nil, "")}), errcode.SubjectKeyMismatch)
		})
	}
}

// TestSamePublicKeyAgreesWithThumbprints: the direct comparison says what
// equal RFC 7638 thumbprints say, including for coordinates written with a
// leading zero and for keys of different types or curves.
func TestSamePublicKeyAgreesWithThumbprints(t *testing.T) {
	pub := func(alg jwa.SignatureAlgorithm) jwk.Key {
		k, err := keyutil.Public(testkeys.New(t, alg, ""))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ec1, ec2, ed1, ed2 := pub(jwa.ES256), pub(jwa.ES256), pub(jwa.EdDSA), pub(jwa.EdDSA)
	reparsed := func(k jwk.Key) jwk.Key {
		b, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		r, err := jwk.ParseKey(b)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// The same point with x written one byte longer (a leading zero).
	padded := reparsed(ec1)
	x := append([]byte{0}, padded.(jwk.ECDSAPublicKey).X()...)
	if err := padded.Set(jwk.ECDSAXKey, x); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		a, b jwk.Key
		want bool
	}{
		{"same EC key", ec1, ec1, true},
		{"EC key re-parsed", ec1, reparsed(ec1), true},
		{"EC key, x with a leading zero", ec1, padded, true},
		{"two EC keys", ec1, ec2, false},
		{"same Ed25519 key", ed1, reparsed(ed1), true},
		{"two Ed25519 keys", ed1, ed2, false},
		{"EC and Ed25519", ec1, ed1, false},
		{"Ed25519 and EC", ed1, ec1, false},
	} {
		got := samePublicKey(tc.a, tc.b)
		same := keyutil.SameKey(tc.a, tc.b)
		if got != tc.want || same != tc.want {
			t.Errorf("%s: samePublicKey %v, thumbprints %v, want %v", tc.name, got, same, tc.want)
		}
	}
}
