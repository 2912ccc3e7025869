package jose

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

func key(t *testing.T, raw any, alg jwa.SignatureAlgorithm) jwk.Key {
	t.Helper()
	k, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	if alg != "" {
		_ = k.Set(jwk.AlgorithmKey, alg)
	}
	return k
}

func TestAllowed(t *testing.T) {
	for _, tc := range []struct {
		alg  string
		list []jwa.SignatureAlgorithm
		want bool
	}{
		{"ES256", nil, true}, {"EdDSA", nil, true}, {"ES384", nil, false},
		{"ES384", []jwa.SignatureAlgorithm{jwa.ES384}, false}, // listed, but no branch implements it
		{"RS256", []jwa.SignatureAlgorithm{jwa.RS256}, false},
		{"HS256", []jwa.SignatureAlgorithm{jwa.HS256}, false},
		{"none", []jwa.SignatureAlgorithm{jwa.NoSignature}, false},
		{"", nil, false}, {"es256", nil, false},
		{"ES256", []jwa.SignatureAlgorithm{jwa.EdDSA}, false},
	} {
		if got := Allowed(tc.alg, tc.list); got != tc.want {
			t.Errorf("Allowed(%q, %v) = %v, want %v", tc.alg, tc.list, got, tc.want)
		}
	}
}

func TestTypIs(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		want []string
		ok   bool
	}{
		{"dc+sd-jwt", []string{"dc+sd-jwt"}, true},
		{"application/DC+SD-JWT", []string{"dc+sd-jwt"}, true},
		{"vc+sd-jwt", []string{"dc+sd-jwt", "vc+sd-jwt"}, true},
		{"statuslist+jwt", []string{"application/statuslist+jwt"}, true},
		{"", []string{""}, false},
		{"JWT", []string{"statuslist+jwt"}, false},
		{"application/", []string{""}, true},
	} {
		if got := TypIs(tc.typ, tc.want...); got != tc.ok {
			t.Errorf("TypIs(%q, %v) = %v, want %v", tc.typ, tc.want, got, tc.ok)
		}
	}
}

func TestKeyAlgAgreementAndSigning(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	es := key(t, p256, jwa.ES256)
	for _, tc := range []struct {
		name string
		alg  jwa.SignatureAlgorithm
		k    jwk.Key
		ok   bool
	}{
		{"ES256 P-256", jwa.ES256, es, true},
		{"ES256 P-256 without alg", jwa.ES256, key(t, p256, ""), true},
		{"EdDSA Ed25519", jwa.EdDSA, key(t, ed, jwa.EdDSA), true},
		{"key alg differs", jwa.EdDSA, es, false},
		{"P-384 for ES256", jwa.ES256, key(t, p384, ""), false},
		{"Ed25519 for ES256", jwa.ES256, key(t, ed, ""), false},
		{"ES384 has no branch", jwa.ES384, key(t, p384, jwa.ES384), false},
		{"no key", jwa.ES256, nil, false},
	} {
		if _, err := PublicKeyFor(tc.alg, tc.k); (err == nil) != tc.ok {
			t.Errorf("%s: PublicKeyFor error %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	pub, _ := es.PublicKey()
	hmac := key(t, []byte("0123456789abcdef0123456789abcdef"), jwa.HS256)
	for _, tc := range []struct {
		name string
		k    jwk.Key
		want jwa.SignatureAlgorithm
		code errcode.Code
	}{
		{"ES256", es, jwa.ES256, ""},
		{"Ed25519 without alg", key(t, ed, ""), jwa.EdDSA, ""},
		{"P-256 without alg", key(t, p256, ""), jwa.ES256, ""},
		{"nil", nil, "", errcode.InvalidInput},
		{"public", pub, "", errcode.InvalidInput},
		{"HMAC", hmac, "", errcode.UnsupportedAlg},
		{"ES384", key(t, p384, jwa.ES384), "", errcode.UnsupportedAlg},
		{"P-384 labelled ES256", key(t, p384, jwa.ES256), "", errcode.InvalidInput},
	} {
		alg, err := SigningAlg(tc.k)
		if alg != tc.want || errcode.CodeOf(err) != tc.code && !(tc.code == "" && err == nil) {
			t.Errorf("%s: SigningAlg = %q, %v; want %q, %q", tc.name, alg, err, tc.want, tc.code)
		}
	}
	// A signature made with jwx verifies; a changed input does not.
	sig, err := jws.Sign([]byte("payload"), jws.WithKey(jwa.ES256, es))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := jws.Parse(sig)
	input := sig[:bytes.LastIndexByte(sig, '.')]
	if err := Verify(jwa.ES256, pub, input, msg.Signatures()[0].Signature()); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := Verify(jwa.ES256, pub, append([]byte{}, append(input, 'x')...), msg.Signatures()[0].Signature()); err == nil {
		t.Fatal("Verify accepted a changed input")
	}
}

func TestLookupKey(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k := key(t, p256, jwa.ES256)
	ctx, hdr := context.Background(), jws.NewHeaders()
	for _, tc := range []struct {
		name string
		f    KeyFunc
		code errcode.Code
	}{
		{"key", func(context.Context, string, jws.Headers) (jwk.Key, error) { return k, nil }, ""},
		{"coded error kept", func(context.Context, string, jws.Headers) (jwk.Key, error) {
			return nil, errcode.New(errcode.DIDResolutionFailed, "down")
		}, errcode.DIDResolutionFailed},
		{"plain error", func(context.Context, string, jws.Headers) (jwk.Key, error) { return nil, errors.New("x") }, errcode.KeyNotFound},
		{"no key", func(context.Context, string, jws.Headers) (jwk.Key, error) { return nil, nil }, errcode.KeyNotFound},
	} {
		got, err := LookupKey(ctx, tc.f, "iss", hdr, "test")
		if tc.code == "" && (err != nil || got != k) || tc.code != "" && errcode.CodeOf(err) != tc.code {
			t.Errorf("%s: %v, %v", tc.name, got, err)
		}
	}
}

func TestNumericDate(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want time.Time
		ok   bool
	}{
		{json.Number("1760000000"), time.Unix(1760000000, 0), true},
		{json.Number("1760000000.5"), time.Unix(1760000000, 5e8), true},
		{float64(1760000000), time.Unix(1760000000, 0), true},
		{int64(5), time.Unix(5, 0), true},
		{7, time.Unix(7, 0), true},
		{json.Number("-1"), time.Time{}, false},
		{json.Number("1e13"), time.Time{}, false},
		{json.Number("x"), time.Time{}, false},
		{math.NaN(), time.Time{}, false},
		{math.Inf(1), time.Time{}, false},
		{"1760000000", time.Time{}, false},
		{nil, time.Time{}, false},
	} {
		got, ok := NumericDate(tc.v)
		if ok != tc.ok || !got.Equal(tc.want) || ok && got.Location() != time.UTC {
			t.Errorf("NumericDate(%#v) = %v, %v; want %v, %v (UTC)", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCheckTimes(t *testing.T) {
	now := time.Unix(1760000000, 0)
	at := func(d int64) json.Number {
		b, _ := json.Marshal(now.Unix() + d)
		return json.Number(b)
	}
	for _, tc := range []struct {
		name   string
		p      map[string]any
		leeway time.Duration
		code   errcode.Code
	}{
		{"none", map[string]any{}, 0, ""},
		{"valid", map[string]any{"iat": at(-60), "nbf": at(-60), "exp": at(60)}, 0, ""},
		{"exp now", map[string]any{"exp": at(0)}, 0, errcode.Expired},
		{"exp within leeway", map[string]any{"exp": at(-10)}, 30 * time.Second, ""},
		{"exp past leeway", map[string]any{"exp": at(-30)}, 30 * time.Second, errcode.Expired},
		{"iat ahead", map[string]any{"iat": at(1)}, 0, errcode.NotYetValid},
		{"iat ahead within leeway", map[string]any{"iat": at(30)}, 30 * time.Second, ""},
		{"nbf ahead", map[string]any{"nbf": at(31)}, 30 * time.Second, errcode.NotYetValid},
		{"exp not a date", map[string]any{"exp": "tomorrow"}, 0, errcode.StatusInvalid},
		{"iat not a date", map[string]any{"iat": json.Number("-5")}, 0, errcode.StatusInvalid},
	} {
		err := CheckTimes(tc.p, now, tc.leeway, errcode.StatusInvalid)
		if errcode.CodeOf(err) != tc.code || (tc.code == "") != (err == nil) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.code)
		}
	}
}
