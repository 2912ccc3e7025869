package sdjwt

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"math/big"
	"strings"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// defaultAlgorithms is the verification allow-list when none is given.
var defaultAlgorithms = []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA}

// neverAllowed reports algorithms refused even when a caller lists them:
// "none" and every HMAC algorithm.
func neverAllowed(alg string) bool {
	return alg == "" || strings.EqualFold(alg, jwa.NoSignature.String()) || strings.HasPrefix(strings.ToUpper(alg), "HS")
}

// algAllowed reports whether the header alg is on the allow-list (the
// default list when list is empty) and is never one of the refused ones.
func algAllowed(alg string, list []jwa.SignatureAlgorithm) bool {
	if neverAllowed(alg) {
		return false
	}
	if len(list) == 0 {
		list = defaultAlgorithms
	}
	for _, a := range list {
		if string(a) == alg {
			return true
		}
	}
	return false
}

// signingAlg returns the algorithm to sign with: the key's "alg" when set
// (ES256 or EdDSA), otherwise ES256 for a P-256 key and EdDSA for an
// Ed25519 key. The key must be private.
func signingAlg(key jwk.Key) (jwa.SignatureAlgorithm, error) {
	if key == nil {
		return "", errcode.New(errcode.InvalidInput, "no signing key")
	}
	if priv, err := jwk.IsPrivateKey(key); err != nil || !priv {
		return "", errcode.New(errcode.InvalidInput, "signing key is not an asymmetric private key")
	}
	alg := jwa.SignatureAlgorithm(key.Algorithm().String())
	if alg == "" {
		alg = jwa.ES256
		if key.KeyType() == jwa.OKP {
			alg = jwa.EdDSA
		}
	}
	if alg != jwa.ES256 && alg != jwa.EdDSA {
		return "", errcode.New(errcode.UnsupportedAlg, "signing algorithm %q is not supported (ES256 or EdDSA)", alg)
	}
	if _, err := verificationKey(alg, key); err != nil {
		return "", errcode.Wrap(errcode.InvalidInput, err, "signing key does not fit %s", alg)
	}
	return alg, nil
}

// verificationKey returns the raw public key to verify alg with, or an
// error when key does not fit alg: its own "alg" (when set) must equal alg
// and its type and curve must be the ones alg requires, so that the token
// header alone never decides how a key is used.
func verificationKey(alg jwa.SignatureAlgorithm, key jwk.Key) (any, error) {
	if key == nil {
		return nil, fmt.Errorf("no key")
	}
	if ka := key.Algorithm().String(); ka != "" && ka != string(alg) {
		return nil, fmt.Errorf("key is for %s, token uses %s", ka, alg)
	}
	var raw any
	if err := key.Raw(&raw); err != nil {
		return nil, fmt.Errorf("unusable key: %w", err)
	}
	switch k := raw.(type) {
	case *ecdsa.PrivateKey:
		raw = &k.PublicKey
	case ed25519.PrivateKey:
		raw = k.Public()
	case *rsa.PrivateKey:
		raw = &k.PublicKey
	}
	switch alg {
	case jwa.ES256, jwa.ES384, jwa.ES512:
		want := elliptic.P256()
		switch alg {
		case jwa.ES384:
			want = elliptic.P384()
		case jwa.ES512:
			want = elliptic.P521()
		}
		if k, ok := raw.(*ecdsa.PublicKey); ok && k.Curve == want {
			return k, nil
		}
	case jwa.EdDSA:
		if k, ok := raw.(ed25519.PublicKey); ok {
			return k, nil
		}
	case jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512:
		if k, ok := raw.(*rsa.PublicKey); ok && k.N.BitLen() >= 2048 {
			return k, nil
		}
	}
	return nil, fmt.Errorf("a %T key does not fit %s", raw, alg)
}

// verifySig checks sig over input with alg and key through jwx. The
// failure is returned uncoded; callers classify it.
func verifySig(alg jwa.SignatureAlgorithm, key jwk.Key, input string, sig []byte) error {
	pub, err := verificationKey(alg, key)
	if err != nil {
		return err
	}
	v, err := jws.NewVerifier(alg)
	if err != nil {
		return err
	}
	return v.Verify([]byte(input), sig, pub)
}

// simplePublicKey builds the key of the common cnf.jwk shapes, a P-256 or
// Ed25519 public key with at most kid, alg and use "sig" beside its
// coordinates, without a round trip through JSON. Anything else (another
// member, a private or malformed key) reports false, and the caller parses
// the JWK in full.
func simplePublicKey(m map[string]any) (jwk.Key, bool) {
	for k, v := range m {
		switch k {
		case "kty", "crv", "x", "y", "kid", "alg":
			if _, ok := v.(string); !ok {
				return nil, false
			}
		case "use":
			if v != "sig" {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	x, ok := decodeB64(strOf(m["x"]))
	if !ok {
		return nil, false
	}
	var raw any
	switch {
	case m["kty"] == "EC" && m["crv"] == "P-256":
		y, ok := decodeB64(strOf(m["y"]))
		if !ok || len(x) != 32 || len(y) != 32 {
			return nil, false
		}
		// Uncompressed point; ecdh checks that it is on the curve.
		pt := append(append([]byte{4}, x...), y...)
		if _, err := ecdh.P256().NewPublicKey(pt); err != nil {
			return nil, false
		}
		raw = &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	case m["kty"] == "OKP" && m["crv"] == "Ed25519":
		if _, ok := m["y"]; ok || len(x) != ed25519.PublicKeySize {
			return nil, false
		}
		raw = ed25519.PublicKey(x)
	default:
		return nil, false
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, false
	}
	for _, name := range []string{"kid", "alg", "use"} {
		if v, ok := m[name].(string); ok {
			if err := k.Set(name, v); err != nil {
				return nil, false
			}
		}
	}
	return k, true
}

func strOf(v any) string {
	s, _ := v.(string)
	return s
}
