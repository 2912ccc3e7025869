package sdjwt

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"math/big"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

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
