package aries_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/sdjwt"
	josejson "github.com/go-jose/go-jose/v3/json"
	afgjwt "github.com/hyperledger/aries-framework-go/pkg/doc/jwt"
	sdverifier "github.com/hyperledger/aries-framework-go/pkg/doc/sdjwt/verifier"
	sigverifier "github.com/hyperledger/aries-framework-go/pkg/doc/signature/verifier"
	vdrkey "github.com/hyperledger/aries-framework-go/pkg/vdr/key"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// newKey returns a private key whose kid is the DID URL of its did:key.
func newKey(t *testing.T, alg jwa.SignatureAlgorithm) (jwk.Key, string) {
	t.Helper()
	var raw any
	switch alg {
	case jwa.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		raw = k
	case jwa.EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		raw = k
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	id, err := did.KeyDID(key)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := did.VerificationMethodID(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	if err := key.Set(jwk.AlgorithmKey, alg); err != nil {
		t.Fatal(err)
	}
	return key, id
}

// ariesPublicKey resolves a DID URL with aries' did:key VDR and returns the
// verification method it names, as aries' signature verifiers take it.
func ariesPublicKey(didURL string) (*sigverifier.PublicKey, error) {
	id, _, _ := strings.Cut(didURL, "#")
	res, err := vdrkey.New().Read(id)
	if err != nil {
		return nil, err
	}
	for _, vm := range res.DIDDocument.VerificationMethod {
		if vm.ID == didURL {
			return &sigverifier.PublicKey{Type: vm.Type, Value: vm.Value, JWK: vm.JSONWebKey()}, nil
		}
	}
	return nil, fmt.Errorf("aries: %s has no verification method %s", id, didURL)
}

func TestDIDKeyResolution(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		t.Run(alg.String(), func(t *testing.T) {
			for range 16 {
				key, id := newKey(t, alg)
				ours, err := did.PublicKey(id)
				if err != nil {
					t.Fatal(err)
				}
				theirs, err := ariesPublicKey(ours.KeyID())
				if err != nil {
					t.Fatalf("aries resolution of agentcert's %s (method %s): %v", id, ours.KeyID(), err)
				}
				var want, got any
				if err := key.Raw(&want); err != nil {
					t.Fatal(err)
				}
				switch alg {
				case jwa.ES256:
					if theirs.JWK == nil {
						t.Fatalf("aries gave no JWK for %s", id)
					}
					pub, ok := theirs.JWK.Key.(*ecdsa.PublicKey)
					if !ok {
						t.Fatalf("aries key is %T", theirs.JWK.Key)
					}
					got = pub
					want = &want.(*ecdsa.PrivateKey).PublicKey
					if !pub.Equal(want) {
						t.Fatalf("%s: aries key %v, agentcert key %v", id, got, want)
					}
				case jwa.EdDSA:
					got = ed25519.PublicKey(theirs.Value)
					want = want.(ed25519.PrivateKey).Public()
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("%s: aries key %x, agentcert key %x", id, got, want)
					}
				}
			}
		})
	}
}

// TestDIDJWKUnsupported pins that v0.3.2 has no did:jwk method.
func TestDIDJWKUnsupported(t *testing.T) {
	key, _ := newKey(t, jwa.ES256)
	id, err := did.JWKDID(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vdrkey.New().Read(id); err == nil || !strings.Contains(err.Error(), "invalid did:key method") {
		t.Fatalf("aries did:key VDR on %s: %v, want an invalid method error", id, err)
	}
}

// certification is an agent certification with object-valued claims only at
// the places the tests disclose.
func certification(iss string) map[string]any {
	now := time.Now().Unix()
	return map[string]any{
		"iss": iss, "iat": now, "nbf": now, "exp": now + 3600,
		"vct": "urn:agentcert:agent-certification:v1",
		"sub": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
		"principal": map[string]any{
			"id": "did:web:acme.example", "name": "ACME Corp", "type": "organization",
		},
		"agent":        map[string]any{"class": "accounts-payable-assistant", "version": "1.4.0"},
		"permissions":  []any{map[string]any{"action": "invoices:read"}, map[string]any{"action": "invoices:list"}},
		"prohibitions": []any{"payments:initiate"},
		"autonomy":     "supervised",
	}
}

// ariesParse runs aries' SD-JWT verifier with the issuer key resolved from
// the kid through aries' own did:key VDR.
func ariesParse(presentation string) (map[string]any, error) {
	v := afgjwt.NewVerifier(afgjwt.KeyResolverFunc(func(id, frag string) (*sigverifier.PublicKey, error) {
		return ariesPublicKey(id + "#" + frag)
	}))
	return sdverifier.Parse(presentation,
		sdverifier.WithSignatureVerifier(v),
		sdverifier.WithIssuerSigningAlgorithms([]string{"ES256", "EdDSA"}))
}

// oursVerify verifies with agentcert's verifier (typ JWT accepted for the
// comparison) and returns its processed claims.
func oursVerify(t *testing.T, presentation string, key jwk.Key) map[string]any {
	t.Helper()
	pub, err := key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	res, err := sdjwt.Verify(context.Background(), presentation, sdjwt.VerifyOptions{
		IssuerKey: func(context.Context, string, jws.Headers) (jwk.Key, error) { return pub, nil },
		AcceptTyp: []string{"JWT"},
	})
	if err != nil {
		t.Fatalf("agentcert verify: %v", err)
	}
	return res.Claims
}

// normalize round-trips v through JSON so that numbers compare equal
// whatever decoder produced them.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSDJWTAccepted(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		t.Run(alg.String(), func(t *testing.T) {
			key, id := newKey(t, alg)
			cred, err := sdjwt.Issue(certification(id), []string{"/principal/name", "/principal/type", "/agent", "/autonomy"}, key,
				&sdjwt.IssueOptions{Typ: "JWT", Decoys: 3})
			if err != nil {
				t.Fatal(err)
			}
			for name, disclose := range map[string][]string{
				"all":  {""},
				"some": {"/principal/name", "/agent"},
				"none": nil,
			} {
				t.Run(name, func(t *testing.T) {
					pres, err := sdjwt.Present(cred, disclose, nil)
					if err != nil {
						t.Fatal(err)
					}
					got, err := ariesParse(pres)
					if err != nil {
						t.Fatalf("aries refused agentcert's SD-JWT: %v", err)
					}
					want := oursVerify(t, pres, key)
					// aries decodes numbers into go-jose's own json.Number, which
					// only go-jose's encoder writes back as a number.
					ab, err := josejson.Marshal(got)
					if err != nil {
						t.Fatal(err)
					}
					var g any
					if err := json.Unmarshal(ab, &g); err != nil {
						t.Fatal(err)
					}
					if w := normalize(t, want); !reflect.DeepEqual(g, w) {
						t.Fatalf("claims differ\naries:     %v\nagentcert: %v", g, w)
					}
				})
			}
		})
	}
}

// TestSDJWTRefused pins each difference between RFC 9901 / SD-JWT VC as
// agentcert writes them and what v0.3.2 parses (docs/interop.md), and that a
// tampered disclosure is refused by aries as by agentcert.
func TestSDJWTRefused(t *testing.T) {
	key, id := newKey(t, jwa.ES256)
	holder, holderDID := newKey(t, jwa.EdDSA)
	claims := func() map[string]any {
		c := certification(id)
		hp, err := did.PublicKey(holderDID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(hp)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		c["cnf"] = map[string]any{"jwk": m}
		return c
	}
	issue := func(sd []string, typ string) string {
		t.Helper()
		s, err := sdjwt.Issue(claims(), sd, key, &sdjwt.IssueOptions{Typ: typ})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	present := func(cred string, disclose []string, kb bool) string {
		t.Helper()
		var o *sdjwt.KBOptions
		if kb {
			o = &sdjwt.KBOptions{Key: holder, Audience: "https://verifier.example", Nonce: "n-1"}
		}
		p, err := sdjwt.Present(cred, disclose, o)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tampered := func(p string) string {
		parts := strings.Split(p, "~")
		b := []byte(parts[1])
		if b[2] == 'A' {
			b[2] = 'B'
		} else {
			b[2] = 'A'
		}
		parts[1] = string(b)
		return strings.Join(parts, "~")
	}
	for _, tc := range []struct {
		name, pres, want string
	}{
		{"production typ dc+sd-jwt", present(issue([]string{"/agent"}, ""), []string{"/agent"}, false), "typ is not JWT"},
		{"array element disclosure", present(issue([]string{"/permissions/*"}, "JWT"), []string{"/permissions/0"}, false), "not found in SD-JWT disclosure digests"},
		{"recursive disclosure", present(issue([]string{"/principal", "/principal/name"}, "JWT"), []string{"/principal/name"}, false), "not found in SD-JWT disclosure digests"},
		{"RFC 9901 KB-JWT", present(issue([]string{"/agent"}, "JWT"), []string{"/agent"}, true), "failed to parse holder binding: check JWT headers: typ is not JWT"},
		{"tampered disclosure", tampered(present(issue([]string{"/agent"}, "JWT"), []string{"/agent"}, false)), "not found in SD-JWT disclosure digests"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ariesParse(tc.pres)
			if err == nil {
				t.Fatal("aries accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("aries error %q, want it to mention %q", err, tc.want)
			}
		})
	}
}
