package httpsig

import (
	"crypto"
	"encoding/base64"
	"fmt"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Thumbprint returns the base64url SHA-256 JWK thumbprint of k (RFC 7638;
// RFC 8037 for OKP keys), the keyid agentcert and Web Bot Auth use. It is
// the same for a private key and its public key.
func Thumbprint(k jwk.Key) (string, error) {
	pub, err := k.PublicKey()
	if err != nil {
		return "", fmt.Errorf("httpsig: public key: %w", err)
	}
	b, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("httpsig: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// KeyAlg returns the RFC 9421 algorithm for a key: ed25519 for an Ed25519
// OKP key, ecdsa-p256-sha256 for a P-256 EC key. Any other key is
// unsupported_alg.
func KeyAlg(k jwk.Key) (string, error) {
	switch k.KeyType() {
	case jwa.OKP:
		if crv, ok := k.Get("crv"); ok && fmt.Sprint(crv) == jwa.Ed25519.String() {
			return AlgEd25519, nil
		}
	case jwa.EC:
		if crv, ok := k.Get("crv"); ok && fmt.Sprint(crv) == jwa.P256.String() {
			return AlgECDSAP256, nil
		}
	}
	return "", errcode.New(errcode.UnsupportedAlg, "only Ed25519 and P-256 keys sign requests")
}
