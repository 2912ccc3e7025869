package did

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/mr-tron/base58"
	"github.com/multiformats/go-multibase"
)

type multicodecRow struct {
	File       string `json:"file"`
	DID        string `json:"did"`
	Multicodec string `json:"multicodec"`
	KeyHex     string `json:"key_hex"`
	KeyHexSpec string `json:"key_hex_DERIVED"`
}

// keyBytes is what a did:key encodes: 32 bytes for Ed25519, the 33-byte
// compressed point for P-256.
func keyBytes(t *testing.T, k jwk.Key) []byte {
	t.Helper()
	switch k := k.(type) {
	case jwk.OKPPublicKey:
		return k.X()
	case jwk.ECDSAPublicKey:
		x, y := k.X(), k.Y()
		return append([]byte{2 | y[len(y)-1]&1}, x...)
	}
	t.Fatalf("unexpected key type %T", k)
	return nil
}

func checkOfflineKey(t *testing.T, did string, k jwk.Key, kid string, alg jwa.SignatureAlgorithm) {
	t.Helper()
	if k.KeyID() != kid {
		t.Errorf("kid = %q, want %q", k.KeyID(), kid)
	}
	if k.Algorithm() != alg {
		t.Errorf("alg = %q, want %q", k.Algorithm(), alg)
	}
	if priv, err := jwk.IsPrivateKey(k); err != nil || priv {
		t.Errorf("key is not public")
	}
	vm, err := VerificationMethodID(did)
	if err != nil || vm != kid {
		t.Errorf("VerificationMethodID = %q, %v; want %q", vm, err, kid)
	}
}

// TestDIDKeyVectors decodes every did:key of the w3c-ccg test vectors and of
// the v0.9 spec, and encodes the supported ones back.
func TestDIDKeyVectors(t *testing.T) {
	var derived struct{ Entries []multicodecRow }
	testkit.LoadVector(t, "did-key/multicodec-decoding-DERIVED.json", &derived)
	var spec struct {
		DIDs []multicodecRow `json:"dids_in_spec"`
	}
	testkit.LoadVector(t, "did-key/did-key-spec/did-key-values.json", &spec)
	rows := append(derived.Entries, spec.DIDs...)
	if len(rows) < 30 {
		t.Fatalf("only %d did:key rows", len(rows))
	}
	var supported int
	for _, row := range rows {
		t.Run(row.DID, func(t *testing.T) {
			k, err := PublicKey(row.DID)
			switch row.Multicodec {
			case "0xed", "0x1200":
			default:
				testkit.WantCode(t, err, errcode.DIDMethodUnsupported)
				_, err = DocumentFor(row.DID)
				testkit.WantCode(t, err, errcode.DIDMethodUnsupported)
				_, err = VerificationMethodID(row.DID)
				testkit.WantCode(t, err, errcode.DIDMethodUnsupported)
				return
			}
			supported++
			testkit.WantCode(t, err, "")
			want := row.KeyHex + row.KeyHexSpec
			if got := hex.EncodeToString(keyBytes(t, k)); got != want {
				t.Fatalf("key = %s, want %s", got, want)
			}
			alg := jwa.EdDSA
			if row.Multicodec == "0x1200" {
				alg = jwa.ES256
			}
			id := strings.TrimPrefix(row.DID, "did:key:")
			checkOfflineKey(t, row.DID, k, row.DID+"#"+id, alg)
			back, err := KeyDID(k)
			if err != nil || back != row.DID {
				t.Fatalf("KeyDID = %q, %v; want %q", back, err, row.DID)
			}
		})
	}
	if supported != 11 { // 5 Ed25519 + 3 P-256 test vectors; 2 Ed25519 + 1 P-256 spec values
		t.Fatalf("%d supported rows, want 11", supported)
	}
}

func TestDIDKeyEd25519Seeds(t *testing.T) {
	var vectors map[string]struct {
		Seed                string
		VerificationKeyPair struct {
			ID              string
			PublicKeyBase58 string
			PublicKeyJwk    json.RawMessage
		}
		DIDDocument json.RawMessage
	}
	testkit.LoadVector(t, "did-key/w3c-ccg-did-method-key/test-vectors/ed25519-x25519.json", &vectors)
	if len(vectors) != 5 {
		t.Fatalf("%d vectors", len(vectors))
	}
	for did, v := range vectors {
		t.Run(did, func(t *testing.T) {
			seed, err := hex.DecodeString(v.Seed)
			if err != nil {
				t.Fatal(err)
			}
			priv, err := jwk.FromRaw(ed25519.NewKeyFromSeed(seed))
			if err != nil {
				t.Fatal(err)
			}
			// A private key is accepted; only its public part is encoded.
			got, err := KeyDID(priv)
			if err != nil || got != did {
				t.Fatalf("KeyDID(seed key) = %q, %v; want %q", got, err, did)
			}
			k, err := PublicKey(did)
			testkit.WantCode(t, err, "")
			if pk := v.VerificationKeyPair.PublicKeyJwk; pk != nil {
				if !jwk.Equal(k, mustParseKey(t, []byte(pk))) {
					t.Fatal("decoded key differs from publicKeyJwk")
				}
			} else if base58.Encode(k.(jwk.OKPPublicKey).X()) != v.VerificationKeyPair.PublicKeyBase58 {
				t.Fatal("decoded key differs from publicKeyBase58")
			}
			var want struct {
				VerificationMethod                                                          []struct{ ID, Controller string }
				AssertionMethod, Authentication, CapabilityInvocation, CapabilityDelegation []string
			}
			if err := json.Unmarshal(v.DIDDocument, &want); err != nil {
				t.Fatal(err)
			}
			doc, err := DocumentFor(did)
			testkit.WantCode(t, err, "")
			if doc.ID != did || len(doc.VerificationMethod) != 1 {
				t.Fatalf("document %+v", doc)
			}
			vm := doc.VerificationMethod[0]
			if vm.ID != want.VerificationMethod[0].ID || vm.Controller != want.VerificationMethod[0].Controller || vm.Type != TypeJsonWebKey2020 {
				t.Fatalf("verification method %+v", vm)
			}
			for name, pair := range map[string][2][]Relationship{
				"assertionMethod":      {doc.AssertionMethod, refsOf(want.AssertionMethod)},
				"authentication":       {doc.Authentication, refsOf(want.Authentication)},
				"capabilityInvocation": {doc.CapabilityInvocation, refsOf(want.CapabilityInvocation)},
				"capabilityDelegation": {doc.CapabilityDelegation, refsOf(want.CapabilityDelegation)},
			} {
				if !reflect.DeepEqual(pair[0], pair[1]) {
					t.Errorf("%s = %v, want %v", name, pair[0], pair[1])
				}
			}
			// No X25519 key is derived, so no keyAgreement.
			if len(doc.KeyAgreement) != 0 {
				t.Errorf("keyAgreement = %v", doc.KeyAgreement)
			}
			if !jsonEqual(t, vm.PublicKeyJwk, testkit.JSON(t, publicMembers(t, k, "kid", "alg"))) {
				t.Errorf("publicKeyJwk %s", vm.PublicKeyJwk)
			}
		})
	}
}

func refsOf(ids []string) []Relationship {
	var out []Relationship
	for _, id := range ids {
		out = append(out, Relationship{Ref: id})
	}
	return out
}

func TestDIDKeyNISTCurves(t *testing.T) {
	var vectors map[string]struct {
		VerificationMethod struct {
			PublicKeyJwk  json.RawMessage
			PrivateKeyJwk json.RawMessage
		}
		DIDDocument json.RawMessage
	}
	testkit.LoadVector(t, "did-key/w3c-ccg-did-method-key/test-vectors/nist-curves.json", &vectors)
	var p256 int
	for did, v := range vectors {
		if v.VerificationMethod.PublicKeyJwk == nil {
			continue // the P256Key2021 entry (base58 only) is covered by TestDIDKeyVectors
		}
		t.Run(did, func(t *testing.T) {
			pub := mustParseKey(t, []byte(v.VerificationMethod.PublicKeyJwk))
			priv := mustParseKey(t, []byte(v.VerificationMethod.PrivateKeyJwk))
			if !strings.HasPrefix(did, "did:key:zDn") {
				for _, k := range []jwk.Key{pub, priv} {
					_, err := KeyDID(k)
					testkit.WantCode(t, err, errcode.DIDMethodUnsupported)
					_, err = JWKDID(k)
					testkit.WantCode(t, err, errcode.DIDMethodUnsupported)
				}
				_, err := PublicKey(did)
				testkit.WantCode(t, err, errcode.DIDMethodUnsupported)
				return
			}
			p256++
			for _, k := range []jwk.Key{pub, priv} {
				got, err := KeyDID(k)
				if err != nil || got != did {
					t.Fatalf("KeyDID = %q, %v; want %q", got, err, did)
				}
			}
			k, err := PublicKey(did)
			testkit.WantCode(t, err, "")
			if !jwk.Equal(k, pub) {
				t.Fatal("PublicKey differs from publicKeyJwk")
			}
			doc, err := DocumentFor(did)
			testkit.WantCode(t, err, "")
			if !jsonEqual(t, testkit.JSON(t, doc), v.DIDDocument) {
				t.Fatalf("document\n%s\nwant\n%s", testkit.JSON(t, doc), v.DIDDocument)
			}
		})
	}
	if p256 != 2 {
		t.Fatalf("%d P-256 JWK vectors, want 2", p256)
	}
}

func TestDIDKeyUnsupportedFiles(t *testing.T) {
	var dids []string
	for _, f := range []string{"secp256k1", "bls12381", "rsa"} {
		var m map[string]json.RawMessage
		testkit.LoadVector(t, "did-key/w3c-ccg-did-method-key/test-vectors/"+f+".json", &m)
		for did := range m {
			dids = append(dids, did)
		}
	}
	var x struct{ DIDDocument map[string]json.RawMessage }
	testkit.LoadVector(t, "did-key/w3c-ccg-did-method-key/test-vectors/x25519.json", &x)
	for did := range x.DIDDocument {
		dids = append(dids, did)
	}
	if len(dids) != 18 {
		t.Fatalf("%d DIDs", len(dids))
	}
	for _, did := range dids {
		_, err := PublicKey(did)
		testkit.WantCode(t, err, errcode.DIDMethodUnsupported)
	}
}

func multikeyOf(codec uint64, key []byte) string {
	s, _ := multibase.Encode(multibase.Base58BTC, append(binary.AppendUvarint(nil, codec), key...))
	return s
}

func TestDIDKeyErrors(t *testing.T) {
	edKey := bytes.Repeat([]byte{7}, 32)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := p256.PublicKey.Bytes()
	compressed := append([]byte{2 | raw[64]&1}, raw[1:33]...)
	notOnCurve := append([]byte{2}, bytes.Repeat([]byte{0xff}, 32)...)
	b16, _ := multibase.Encode(multibase.Base16, append(binary.AppendUvarint(nil, codecEd25519), edKey...))
	tests := []struct {
		name, did string
		wantCode  errcode.Code
	}{
		{"ok ed25519", "did:key:" + multikeyOf(codecEd25519, edKey), ""},
		{"ok p256", "did:key:" + multikeyOf(codecP256, compressed), ""},
		{"not a DID", "key:z6Mk", errcode.DIDInvalid},
		{"DID URL", "did:key:" + multikeyOf(codecEd25519, edKey) + "#x", errcode.DIDInvalid},
		{"base16 multibase", "did:key:" + b16, errcode.DIDInvalid},
		{"bad base58", "did:key:z0OIl", errcode.DIDInvalid},
		{"empty key", "did:key:z", errcode.DIDInvalid},
		{"short ed25519", "did:key:" + multikeyOf(codecEd25519, edKey[:31]), errcode.DIDInvalid},
		{"long ed25519", "did:key:" + multikeyOf(codecEd25519, append(edKey, 0)), errcode.DIDInvalid},
		{"uncompressed p256", "did:key:" + multikeyOf(codecP256, raw), errcode.DIDInvalid},
		{"p256 off curve", "did:key:" + multikeyOf(codecP256, notOnCurve), errcode.DIDInvalid},
		{"p256 bad prefix", "did:key:" + multikeyOf(codecP256, append([]byte{5}, compressed[1:]...)), errcode.DIDInvalid},
		{"non-minimal varint", "did:key:" + mustMultibase([]byte{0xed, 0x81, 0x00}, edKey), errcode.DIDInvalid},
		{"truncated varint", "did:key:" + mustMultibase([]byte{0x80}), errcode.DIDInvalid},
		{"x25519", "did:key:" + multikeyOf(0xec, edKey), errcode.DIDMethodUnsupported},
		{"unknown codec", "did:key:" + multikeyOf(0x300000, edKey), errcode.DIDMethodUnsupported},
		{"version component", "did:key:1:" + multikeyOf(codecEd25519, edKey), errcode.DIDMethodUnsupported},
		{"other method", "did:example:123", errcode.DIDMethodUnsupported},
		{"did:web", "did:web:example.com", errcode.DIDMethodUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := PublicKey(tt.did)
			testkit.WantCode(t, err, tt.wantCode)
			_, err = DocumentFor(tt.did)
			testkit.WantCode(t, err, tt.wantCode)
			_, err = VerificationMethodID(tt.did)
			testkit.WantCode(t, err, tt.wantCode)
		})
	}
}

func mustMultibase(parts ...[]byte) string {
	s, _ := multibase.Encode(multibase.Base58BTC, bytes.Join(parts, nil))
	return s
}

func TestKeyDIDInputErrors(t *testing.T) {
	oct, _ := jwk.FromRaw([]byte("secret"))
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	wrongAlg, _ := jwk.FromRaw(p256.Public())
	_ = wrongAlg.Set(jwk.AlgorithmKey, jwa.EdDSA)
	badX := mustParseKey(t, map[string]string{"kty": "EC", "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(make([]byte, 32)), "y": base64.RawURLEncoding.EncodeToString(make([]byte, 32))})
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	k384, _ := jwk.FromRaw(p384)
	tests := []struct {
		name     string
		key      jwk.Key
		wantCode errcode.Code
	}{
		{"nil", nil, errcode.InvalidInput},
		{"symmetric", oct, errcode.InvalidInput},
		{"alg mismatch", wrongAlg, errcode.InvalidInput},
		{"point off curve", badX, errcode.InvalidInput},
		{"P-384", k384, errcode.DIDMethodUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := KeyDID(tt.key)
			testkit.WantCode(t, err, tt.wantCode)
			_, err = JWKDID(tt.key)
			testkit.WantCode(t, err, tt.wantCode)
		})
	}
}

func TestDIDJWKSpecExamples(t *testing.T) {
	var spec struct {
		Examples map[string]struct {
			DID                   string          `json:"did"`
			DIDURL                string          `json:"did_url"`
			DecodedJWK            json.RawMessage `json:"decoded_jwk"`
			DecodedJWKText        string          `json:"decoded_jwk_json_text"`
			DIDDocumentFile       string          `json:"did_document_file"`
			ExpectedRelationships []string        `json:"expected_relationships"`
		}
	}
	testkit.LoadVector(t, "did-jwk/spec-examples.json", &spec)
	if len(spec.Examples) != 2 {
		t.Fatalf("%d examples", len(spec.Examples))
	}
	for name, ex := range spec.Examples {
		t.Run(name, func(t *testing.T) {
			raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(ex.DID, "did:jwk:"))
			if err != nil || string(raw) != ex.DecodedJWKText {
				t.Fatalf("vector self-check: %v", err)
			}
			// Document: the spec's, with its "did:jwk:$" typo corrected.
			var wantDoc json.RawMessage
			testkit.LoadVector(t, "did-jwk/"+ex.DIDDocumentFile, &wantDoc)
			wantDoc = bytes.ReplaceAll(wantDoc, []byte("did:jwk:$"), []byte("did:jwk:"))
			doc, err := DocumentFor(ex.DID)
			testkit.WantCode(t, err, "")
			if !jsonEqual(t, testkit.JSON(t, doc), wantDoc) {
				t.Fatalf("document\n%s\nwant\n%s", testkit.JSON(t, doc), wantDoc)
			}
			var rels []string
			for rel, list := range map[string][]Relationship{"assertionMethod": doc.AssertionMethod, "authentication": doc.Authentication,
				"capabilityDelegation": doc.CapabilityDelegation, "capabilityInvocation": doc.CapabilityInvocation, "keyAgreement": doc.KeyAgreement} {
				if len(list) > 0 {
					rels = append(rels, rel)
				}
			}
			if len(rels) != len(ex.ExpectedRelationships) {
				t.Fatalf("relationships %v, want %v", rels, ex.ExpectedRelationships)
			}

			k, err := PublicKey(ex.DID)
			if name == "X25519" {
				testkit.WantCode(t, err, errcode.DIDMethodUnsupported)
				return
			}
			testkit.WantCode(t, err, "")
			checkOfflineKey(t, ex.DID, k, ex.DIDURL, jwa.ES256)
			if !jwk.Equal(k, mustParseKey(t, []byte(ex.DecodedJWK))) {
				t.Fatal("PublicKey differs from the decoded JWK")
			}
			// JWK -> DID is byte-exact: our serialization is kty, crv, x, y in
			// lexical order, as in the spec.
			got, err := JWKDID(k)
			if err != nil || got != ex.DID {
				t.Fatalf("JWKDID = %q, %v; want %q", got, err, ex.DID)
			}
		})
	}
}

// didJWKOf encodes raw JSON as a did:jwk, without checking it.
func didJWKOf(raw []byte) string { return "did:jwk:" + base64.RawURLEncoding.EncodeToString(raw) }

// checkJWKVector checks both directions for a third-party did:jwk vector:
// DID -> key equals the vector's public key, and key -> DID decodes to the
// same public members (their member order and kid/alg differ from ours).
func checkJWKVector(t *testing.T, did string, priv jwk.Key, supported bool) {
	t.Helper()
	k, err := PublicKey(did)
	if !supported {
		testkit.WantCode(t, err, errcode.DIDMethodUnsupported)
		_, err = JWKDID(priv)
		testkit.WantCode(t, err, errcode.DIDMethodUnsupported)
		return
	}
	testkit.WantCode(t, err, "")
	if !jwk.Equal(k, priv) {
		t.Fatal("PublicKey differs from the vector's key")
	}
	got, err := JWKDID(priv)
	testkit.WantCode(t, err, "")
	gotRaw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(got, "did:jwk:"))
	wantRaw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(did, "did:jwk:"))
	var wantMembers map[string]any
	if err := json.Unmarshal(wantRaw, &wantMembers); err != nil {
		t.Fatal(err)
	}
	delete(wantMembers, "kid")
	delete(wantMembers, "alg")
	if !jsonEqual(t, gotRaw, testkit.JSON(t, wantMembers)) {
		t.Fatalf("JWKDID encodes %s, want %v", gotRaw, wantMembers)
	}
	again, err := PublicKey(got)
	if err != nil || !jwk.Equal(again, k) {
		t.Fatalf("round trip: %v", err)
	}
	// The same key as a did:jwk holding its private members is refused.
	privJSON := testkit.JSON(t, priv)
	_, err = PublicKey(didJWKOf(privJSON))
	testkit.WantCode(t, err, errcode.DIDInvalid)
	_, err = DocumentFor(didJWKOf(privJSON))
	testkit.WantCode(t, err, errcode.DIDInvalid)
}

func TestDIDJWKTransmute(t *testing.T) {
	var vectors map[string]struct {
		Keys []struct {
			ID            string
			PublicKeyJwk  json.RawMessage
			PrivateKeyJwk json.RawMessage
		}
		DIDDocument struct {
			ID                 string
			VerificationMethod []VerificationMethod
			Authentication     []Relationship
			KeyAgreement       []Relationship
		}
	}
	testkit.LoadVector(t, "did-jwk/transmute-did-key.js-examples.json", &vectors)
	for crv, v := range vectors {
		t.Run(crv, func(t *testing.T) {
			did := v.DIDDocument.ID
			if v.Keys[0].ID != did+"#0" {
				t.Fatalf("vector self-check: %s", v.Keys[0].ID)
			}
			supported := crv == "P-256" || crv == "Ed25519"
			checkJWKVector(t, did, mustParseKey(t, []byte(v.Keys[0].PrivateKeyJwk)), supported)
			doc, err := DocumentFor(did)
			testkit.WantCode(t, err, "")
			got, want := doc.VerificationMethod[0], v.DIDDocument.VerificationMethod[0]
			if got.ID != want.ID || got.Type != want.Type || got.Controller != want.Controller || !jsonEqual(t, got.PublicKeyJwk, want.PublicKeyJwk) {
				t.Fatalf("verification method %+v, want %+v", got, want)
			}
			if !reflect.DeepEqual(doc.Authentication, v.DIDDocument.Authentication) {
				t.Fatalf("authentication %v", doc.Authentication)
			}
		})
	}
}

func TestDIDJWKOR13(t *testing.T) {
	var vectors struct {
		Signatures map[string][]struct {
			PrivateKeyJwk json.RawMessage
			DIDDocument   struct {
				ID              string
				AssertionMethod []Relationship
			}
		}
	}
	testkit.LoadVector(t, "did-jwk/or13-did-jwk-test-vectors.json", &vectors)
	var n int
	for alg, list := range vectors.Signatures {
		for _, v := range list {
			n++
			t.Run(alg, func(t *testing.T) {
				supported := alg == "ES256" || alg == "EdDSA"
				checkJWKVector(t, v.DIDDocument.ID, mustParseKey(t, []byte(v.PrivateKeyJwk)), supported)
				if !supported {
					return
				}
				// Their ids are relative ("#0"); AssertionKey accepts that form.
				if v.DIDDocument.AssertionMethod[0].Ref != "#0" {
					t.Fatal("vector self-check")
				}
				k, err := PublicKey(v.DIDDocument.ID)
				testkit.WantCode(t, err, "")
				if k.Algorithm().String() != alg {
					t.Fatalf("alg %s, want %s", k.Algorithm(), alg)
				}
			})
		}
	}
	if n != 15 {
		t.Fatalf("%d vectors", n)
	}
}

func TestDIDJWKErrors(t *testing.T) {
	ok := `{"crv":"P-256","kty":"EC","x":"acbIQiuMs3i8_uszEjJ2tpTtRM4EU3yz91PH6CdH2V0","y":"_KcyLj9vWMptnmKtm46GqDz8wf74I5LKgrl2GzH3nSE"}`
	tests := []struct {
		name, did string
		wantCode  errcode.Code
	}{
		{"ok", didJWKOf([]byte(ok)), ""},
		{"ok sig use", didJWKOf([]byte(strings.Replace(ok, `{`, `{"use":"sig",`, 1))), ""},
		{"padding", didJWKOf([]byte(ok)) + "=", errcode.DIDInvalid},
		{"std base64", "did:jwk:" + strings.NewReplacer("-", "+", "_", "/").Replace(base64.RawURLEncoding.EncodeToString([]byte(ok+"  ?>"))), errcode.DIDInvalid},
		{"not base64", "did:jwk:e%20", errcode.DIDInvalid},
		{"not json", didJWKOf([]byte("hello")), errcode.DIDInvalid},
		{"array", didJWKOf([]byte("[" + ok + "]")), errcode.DIDInvalid},
		{"trailing data", didJWKOf([]byte(ok + "{}")), errcode.DIDInvalid},
		{"duplicate member", didJWKOf([]byte(strings.Replace(ok, `"kty":"EC"`, `"kty":"EC","kty":"OKP"`, 1))), errcode.DIDInvalid},
		{"private member d", didJWKOf([]byte(strings.Replace(ok, `{`, `{"d":"gPh-VvVS8MbvKQ9LSVVmfnxnKjHn4Tqj0bmbpehRlpc",`, 1))), errcode.DIDInvalid},
		{"symmetric", didJWKOf([]byte(`{"kty":"oct","k":"c2VjcmV0"}`)), errcode.DIDInvalid},
		{"bad use", didJWKOf([]byte(strings.Replace(ok, `{`, `{"use":"other",`, 1))), errcode.DIDInvalid},
		{"no kty", didJWKOf([]byte(`{"crv":"P-256"}`)), errcode.DIDInvalid},
		{"empty", "did:jwk:e30", errcode.DIDInvalid},
		{"did:jwk with path", "did:jwk:" + base64.RawURLEncoding.EncodeToString([]byte(ok)) + "/x", errcode.DIDInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DocumentFor(tt.did)
			testkit.WantCode(t, err, tt.wantCode)
			_, err = PublicKey(tt.did)
			testkit.WantCode(t, err, tt.wantCode)
		})
	}
	// Material that parses but is wrong for the key type is did_invalid in
	// PublicKey (the document still shows the JWK as it is).
	for name, raw := range map[string]string{
		"alg mismatch": strings.Replace(ok, `{`, `{"alg":"EdDSA",`, 1),
		"off curve":    `{"crv":"P-256","kty":"EC","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`,
		"short x":      `{"crv":"Ed25519","kty":"OKP","x":"AAAA"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := PublicKey(didJWKOf([]byte(raw)))
			testkit.WantCode(t, err, errcode.DIDInvalid)
		})
	}
}

func TestRoundTripGeneratedKeys(t *testing.T) {
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, raw := range []any{edPriv, ecPriv} {
		priv, err := jwk.FromRaw(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, mk := range []func(jwk.Key) (string, error){KeyDID, JWKDID} {
			did, err := mk(priv)
			testkit.WantCode(t, err, "")
			k, err := PublicKey(did)
			testkit.WantCode(t, err, "")
			if !jwk.Equal(k, priv) {
				t.Fatalf("%s: round trip changed the key", did)
			}
			if again, _ := mk(k); again != did {
				t.Fatalf("re-encoding gives %s, want %s", again, did)
			}
			if strings.Contains(did, "did:jwk:") {
				raw, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(did, "did:jwk:"))
				if bytes.Contains(raw, []byte(`"d"`)) || bytes.Contains(raw, []byte(`"kid"`)) {
					t.Fatalf("did:jwk holds %s", raw)
				}
			}
		}
	}
}
