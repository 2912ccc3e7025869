package sdjwt

import (
	"crypto/sha256"
	"strings"

	"github.com/agentcert/agentcert/errcode"
)

// CredentialDigest is the key by which anything remembers a credential
// (caches of verified credentials, receipts, replay and block lists): the
// SHA-256 of the issuer-signed JWT's signing input, "<b64 header>.<b64
// payload>", exactly as the credential carries it. It is the same for the
// issued SD-JWT and for every presentation of it, whatever disclosures or
// KB-JWT follow. The signature is left out on purpose: ES256 signatures are
// malleable ((r, s) and (r, n-s) both verify), so one credential can travel
// with several signature strings, and a key that covered the signature
// would let a holder step around a block or replay list. Nothing is
// re-serialized: the signature binds these bytes, so no other encoding of
// the same claims verifies under the same digest.
func CredentialDigest(sdJWT string) ([sha256.Size]byte, error) {
	jwt, _, _ := strings.Cut(sdJWT, "~")
	h, p, _, ok := splitJWS(jwt)
	if !ok || h == "" || p == "" {
		return [sha256.Size]byte{}, errcode.New(errcode.Malformed, "not an SD-JWT: the issuer-signed JWT is not a compact JWS")
	}
	return sha256.Sum256([]byte(jwt[:len(h)+1+len(p)])), nil
}

// CredentialDigest returns the credential digest (see the function
// CredentialDigest) of a parsed token.
func (t *Token) CredentialDigest() [sha256.Size]byte {
	return sha256.Sum256([]byte(t.signingInput))
}
