package issuer

import (
	"encoding/base64"
	"fmt"

	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// cnfJWK returns the holder's public key as the generic JSON object that
// goes into cnf.jwk, read straight from the parsed key instead of encoding
// it to JSON and decoding that again. It handles the keys subjects have
// (P-256 and Ed25519 public keys with at most kid and alg besides their key
// members) and gives any other key to keyutil.ToMap, so that the object is
// always the one the key's JSON encoding gives.
func cnfJWK(key jwk.Key) (map[string]any, error) {
	if m, ok := plainPublicJWK(key); ok {
		return m, nil
	}
	return keyutil.ToMap(key)
}

// extraMembers are the JWK members plainPublicJWK leaves to keyutil.ToMap.
var extraMembers = []string{jwk.KeyOpsKey, jwk.KeyUsageKey, jwk.X509CertChainKey, jwk.X509CertThumbprintKey, jwk.X509CertThumbprintS256Key, jwk.X509URLKey}

func plainPublicJWK(key jwk.Key) (map[string]any, bool) {
	var m map[string]any
	switch k := key.(type) {
	case jwk.ECDSAPrivateKey, jwk.OKPPrivateKey:
		return nil, false // never a holder key; their interfaces include the public ones
	case jwk.ECDSAPublicKey:
		if k.Crv() != jwa.P256 || len(k.X()) == 0 || len(k.Y()) == 0 {
			return nil, false
		}
		m = map[string]any{"kty": "EC", "crv": k.Crv().String(), "x": b64url(k.X()), "y": b64url(k.Y())}
	case jwk.OKPPublicKey:
		if k.Crv() != jwa.Ed25519 || len(k.X()) == 0 {
			return nil, false
		}
		m = map[string]any{"kty": "OKP", "crv": k.Crv().String(), "x": b64url(k.X())}
	default:
		return nil, false
	}
	if len(key.PrivateParams()) > 0 {
		return nil, false
	}
	for _, name := range extraMembers {
		if _, ok := key.Get(name); ok {
			return nil, false
		}
	}
	if v, ok := key.Get(jwk.KeyIDKey); ok {
		kid, isString := v.(string)
		if !isString {
			return nil, false
		}
		m["kid"] = kid
	}
	if v, ok := key.Get(jwk.AlgorithmKey); ok {
		alg, isAlg := v.(fmt.Stringer)
		if !isAlg {
			return nil, false
		}
		m["alg"] = alg.String()
	}
	return m, true
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
