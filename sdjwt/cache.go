package sdjwt

import (
	"crypto/sha256"
	"encoding/base64"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// VerifiedCache remembers issuer-signed JWTs whose signature has been
// checked, so that an agent presenting the same credential again (with a
// fresh KB-JWT) costs one signature check, not two. It is keyed by
// VerifiedKey: a digest of the exact issuer-signed JWT as presented,
// signature included, so a copy whose signature differs in any byte (an
// ES256 signature can be rewritten into another valid one) is a miss and is
// checked in full.
//
// A hit skips only the issuer signature check and the parsing of a clear
// cnf.jwk. Everything else still runs on every presentation: alg and typ,
// the issuer key lookup (a hit counts only while the key function returns
// the key the entry was verified with, so an entry dies with its key, on
// rotation or retirement), exp/nbf/iat, every disclosure,
// the KB-JWT, and whatever the caller checks after Verify (trust, status,
// authorization). Implementations must be safe for concurrent use and
// bounded.
type VerifiedCache interface {
	// Get returns the entry stored under key if it was verified with
	// issuerKey (the same key: the same object, or the same public key by
	// RFC 7638 thumbprint, as a re-read DID document gives); anything else
	// is a miss.
	Get(key string, issuerKey jwk.Key) (VerifiedIssuerJWT, bool)
	Put(key string, v VerifiedIssuerJWT)
}

// VerifiedIssuerJWT is what a VerifiedCache keeps of one issuer-signed JWT.
type VerifiedIssuerJWT struct {
	IssuerKey jwk.Key // the key its signature verified with
	Holder    jwk.Key // its clear cnf.jwk, parsed; nil when it has none in clear
}

// VerifiedKey is the VerifiedCache key of an issuer-signed JWT: base64url
// SHA-256 over its exact compact bytes, signature included.
func VerifiedKey(issuerJWT string) string {
	d := sha256.Sum256([]byte(issuerJWT))
	return base64.RawURLEncoding.EncodeToString(d[:])
}

// clearHolder parses cnf.jwk when the issuer put it in clear; nil otherwise.
func clearHolder(payload map[string]any) jwk.Key {
	if _, ok := payload["cnf"].(map[string]any); !ok {
		return nil
	}
	k, err := HolderKey(payload)
	if err != nil {
		return nil
	}
	return k
}
