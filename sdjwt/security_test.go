package sdjwt

import (
	"context"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// TestSec12IssueRefusesWhatVerifiersRefuse: Issue never signs a credential
// that Parse/Verify would refuse once presented with a KB-JWT (the one set
// of limits), and a credential just inside them presents and verifies.
func TestSec12IssueRefusesWhatVerifiersRefuse(t *testing.T) {
	priv, _ := testkeys.Pair(t, jwa.ES256, "issuer#k")
	perms := func(n, resLen int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = map[string]any{"action": "files:read", "resource": strings.Repeat("r", resLen)}
		}
		return out
	}
	// 256 permissions with 512-character resources: about 215 KB.
	_, err := Issue(map[string]any{"iss": "x", "permissions": perms(256, 512)}, []string{"/permissions/*"}, priv, nil)
	testkit.WantCode(t, err, errcode.TooLarge)
	// More disclosures than a verifier parses.
	_, err = Issue(map[string]any{"iss": "x", "permissions": perms(DefaultMaxDisclosures+1, 1)}, []string{"/permissions/*"}, priv, nil)
	testkit.WantCode(t, err, errcode.TooLarge)

	// Largest credential that still leaves room for the KB-JWT: found by
	// growing one clear claim up to the bound.
	claims := map[string]any{"iss": "x", "cnf": map[string]any{"jwk": testkeys.PublicJWK(t, priv)}, "pad": ""}
	lo, hi := 0, DefaultMaxPresentationBytes
	for lo < hi {
		mid := (lo + hi + 1) / 2
		claims["pad"] = strings.Repeat("p", mid)
		if _, err := Issue(claims, nil, priv, nil); err == nil {
			lo = mid
		} else {
			testkit.WantCode(t, err, errcode.TooLarge)
			hi = mid - 1
		}
	}
	claims["pad"] = strings.Repeat("p", lo)
	cred, err := Issue(claims, nil, priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cred)+KBReserveBytes > DefaultMaxPresentationBytes || len(cred)+KBReserveBytes < DefaultMaxPresentationBytes-8 {
		t.Fatalf("largest credential is %d bytes", len(cred))
	}
	pres, err := Present(cred, nil, &KBOptions{Key: priv, Audience: "https://verifier.example/" + strings.Repeat("a", 200), Nonce: strings.Repeat("n", 200), IssuedAt: time.Unix(1_800_000_000, 0)})
	if err != nil {
		t.Fatalf("the largest credential Issue signs cannot be presented: %v", err)
	}
	if _, err := Parse(pres, Limits{}); err != nil {
		t.Fatalf("its presentation does not parse: %v", err)
	}
}

// TestSec14CredentialDigestIgnoresSignatureMalleability: the digest that
// keys caches, receipts and replay lists is the same for the issued
// credential, for every presentation of it and for a copy whose ES256
// signature was malleated to (r, n-s), which still verifies; a digest of
// the whole string would differ.
func TestSec14CredentialDigestIgnoresSignatureMalleability(t *testing.T) {
	priv, pub := testkeys.Pair(t, jwa.ES256, "issuer#k")
	claims := map[string]any{"iss": "x", "cnf": map[string]any{"jwk": testkeys.PublicJWK(t, priv)}, "a": "1", "b": "2"}
	cred, err := Issue(claims, []string{"/a"}, priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := CredentialDigest(cred)
	if err != nil {
		t.Fatal(err)
	}
	jwt, rest, _ := strings.Cut(cred, "~")
	if want := sha256.Sum256([]byte(jwt[:strings.LastIndexByte(jwt, '.')])); d != want {
		t.Fatal("the digest is not SHA-256 of the signing input")
	}
	if whole := sha256.Sum256([]byte(cred)); d == whole {
		t.Fatal("the digest covers the disclosures")
	}

	// Malleate the signature: s -> n - s.
	dot := strings.LastIndexByte(jwt, '.')
	sig, err := base64.RawURLEncoding.DecodeString(jwt[dot+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("ES256 signature: %v %d", err, len(sig))
	}
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	mal := make([]byte, 64)
	copy(mal, sig[:32])
	s.FillBytes(mal[32:])
	malleated := jwt[:dot+1] + base64.RawURLEncoding.EncodeToString(mal) + "~" + rest
	if malleated == cred {
		t.Fatal("malleation changed nothing")
	}
	opts := VerifyOptions{IssuerKey: staticKey(pub), Now: fixedClock(time.Now().Unix())}
	for name, c := range map[string]string{"issued": cred, "malleated": malleated} {
		if _, err := Verify(context.Background(), c, opts); err != nil {
			t.Fatalf("%s copy does not verify: %v", name, err)
		}
	}
	dm, err := CredentialDigest(malleated)
	if err != nil || dm != d {
		t.Fatalf("a malleated copy has another digest: %v", err)
	}
	pres, err := Present(cred, []string{"/a"}, &KBOptions{Key: priv, Audience: "aud", Nonce: "n"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Parse(pres, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if dp, _ := CredentialDigest(pres); dp != d || tok.CredentialDigest() != d {
		t.Fatal("a presentation has another digest than the credential")
	}
	for _, bad := range []string{"", "~", "a.b~", "..~", "a..c~"} {
		if _, err := CredentialDigest(bad); errcode.CodeOf(err) != errcode.Malformed {
			t.Errorf("CredentialDigest(%q): %v", bad, err)
		}
	}
}
