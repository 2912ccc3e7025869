// Package keyutil generates signing keys and reads and writes JWK files.
//
// Every key it returns carries "alg" (ES256 or EdDSA) and, once the caller
// sets it, a "kid"; private key files are written with mode 0600.
package keyutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Algorithms this project signs with.
const (
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// ParseAlg maps a user-supplied algorithm name to a jwa value, refusing
// anything but ES256 and EdDSA.
func ParseAlg(s string) (jwa.SignatureAlgorithm, error) {
	switch strings.TrimSpace(s) {
	case "", ES256:
		return jwa.ES256, nil
	case EdDSA, "Ed25519":
		return jwa.EdDSA, nil
	}
	return "", errcode.New(errcode.UnsupportedAlg, "algorithm %q is not supported (use ES256 or EdDSA)", s)
}

// Generate makes a new private key for alg with "alg" set and no kid.
func Generate(alg jwa.SignatureAlgorithm) (jwk.Key, error) {
	var raw any
	switch alg {
	case jwa.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("keyutil: generate P-256 key: %w", err)
		}
		raw = k
	case jwa.EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("keyutil: generate Ed25519 key: %w", err)
		}
		raw = k
	default:
		return nil, errcode.New(errcode.UnsupportedAlg, "algorithm %q is not supported", alg)
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, fmt.Errorf("keyutil: wrap key: %w", err)
	}
	if err := key.Set(jwk.AlgorithmKey, alg); err != nil {
		return nil, fmt.Errorf("keyutil: set alg: %w", err)
	}
	return key, nil
}

// AlgOf returns the signing algorithm for key, implied by its type and
// curve (EC P-256: ES256, OKP Ed25519: EdDSA). A curve under another key
// type (an OKP "P-256", an EC "Ed25519") and a key whose "alg" member names
// another algorithm are refused.
func AlgOf(key jwk.Key) (jwa.SignatureAlgorithm, error) {
	var implied jwa.SignatureAlgorithm
	// EC and OKP keys, private or public, name their curve; each supported
	// curve belongs to one key type and implies one algorithm.
	if k, ok := key.(interface {
		Crv() jwa.EllipticCurveAlgorithm
	}); ok {
		switch {
		case k.Crv() == jwa.P256 && key.KeyType() == jwa.EC:
			implied = jwa.ES256
		case k.Crv() == jwa.Ed25519 && key.KeyType() == jwa.OKP:
			implied = jwa.EdDSA
		}
	}
	if implied == "" {
		return "", errcode.New(errcode.UnsupportedAlg, "key type %s is not supported (use P-256 or Ed25519)", key.KeyType())
	}
	if a := key.Algorithm().String(); a != "" && a != implied.String() {
		return "", errcode.New(errcode.UnsupportedAlg, "the key's alg %q does not fit its type (%s)", a, implied)
	}
	return implied, nil
}

// IsPrivate reports whether key holds private material.
func IsPrivate(key jwk.Key) bool {
	switch key.(type) {
	case jwk.ECDSAPrivateKey, jwk.OKPPrivateKey, jwk.RSAPrivateKey, jwk.SymmetricKey:
		return true
	}
	return false
}

// Public returns the public part of key, keeping kid and alg.
func Public(key jwk.Key) (jwk.Key, error) {
	pub, err := jwk.PublicKeyOf(key)
	if err != nil {
		return nil, fmt.Errorf("keyutil: public key: %w", err)
	}
	return pub, nil
}

// Parse parses one JWK (JSON) and checks it is a P-256 or Ed25519 key
// (unsupported_alg otherwise) whose material is sound: a P-256 point on the
// curve, an Ed25519 key of 32 bytes, a private part that is the public
// part's (invalid_input otherwise).
func Parse(b []byte) (jwk.Key, error) {
	key, err := jwk.ParseKey(b)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "not a JWK")
	}
	alg, err := AlgOf(key)
	if err != nil {
		return nil, err
	}
	if err := checkMaterial(key); err != nil {
		return nil, err
	}
	if key.Algorithm().String() == "" {
		if err := key.Set(jwk.AlgorithmKey, alg); err != nil {
			return nil, fmt.Errorf("keyutil: set alg: %w", err)
		}
	}
	return key, nil
}

// checkMaterial checks that key (of a type AlgOf accepts) holds a usable
// key: jwx builds the raw key without checking the point or sizes.
func checkMaterial(key jwk.Key) error {
	var raw any
	if err := key.Raw(&raw); err != nil {
		return errcode.Wrap(errcode.InvalidInput, err, "the JWK's key material")
	}
	switch k := raw.(type) {
	case *ecdsa.PublicKey:
		if _, err := k.ECDH(); err != nil {
			return errcode.New(errcode.InvalidInput, "the JWK's P-256 point is not on the curve")
		}
	case *ecdsa.PrivateKey:
		priv, err1 := k.ECDH()
		pub, err2 := k.PublicKey.ECDH()
		if err1 != nil || err2 != nil || !priv.PublicKey().Equal(pub) {
			return errcode.New(errcode.InvalidInput, "the JWK's P-256 private and public parts do not form a key")
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return errcode.New(errcode.InvalidInput, "the JWK's Ed25519 key is not %d bytes", ed25519.PublicKeySize)
		}
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return errcode.New(errcode.InvalidInput, "the JWK's Ed25519 private key is not %d bytes", ed25519.SeedSize)
		}
	default:
		return errcode.New(errcode.UnsupportedAlg, "key type %T is not supported (use P-256 or Ed25519)", raw)
	}
	return nil
}

// ReadFile reads a JWK file.
func ReadFile(path string) (jwk.Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "read key file %s", path)
	}
	key, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return key, nil
}

// ReadPrivateFile reads a JWK file that must hold a private key.
func ReadPrivateFile(path string) (jwk.Key, error) {
	key, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !IsPrivate(key) {
		return nil, errcode.New(errcode.InvalidInput, "key file %s holds a public key; a private key is needed", path)
	}
	return key, nil
}

// Marshal returns the JSON form of key.
func Marshal(key jwk.Key) ([]byte, error) {
	b, err := json.Marshal(key)
	if err != nil {
		return nil, fmt.Errorf("keyutil: marshal JWK: %w", err)
	}
	return b, nil
}

// WriteFile writes key as JSON to path with mode 0600, refusing to overwrite
// an existing file.
func WriteFile(path string, key jwk.Key) error {
	b, err := Marshal(key)
	if err != nil {
		return err
	}
	return WriteNewFile(path, append(b, '\n'))
}

// WriteNewFile writes b to a new file at path (mode 0600) and syncs it,
// refusing to overwrite an existing file: the way secrets (keys,
// credentials) are written.
func WriteNewFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return errcode.Wrap(errcode.InvalidInput, err, "create %s", path)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("keyutil: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("keyutil: sync %s: %w", path, err)
	}
	return f.Close()
}

// ToMap renders key as a JSON object (for a claim such as cnf.jwk).
func ToMap(key jwk.Key) (map[string]any, error) {
	b, err := Marshal(key)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("keyutil: decode JWK: %w", err)
	}
	return m, nil
}

// SameKey reports whether a and b (public or private) hold the same public
// key: their RFC 7638 JWK thumbprints (SHA-256) are equal, whatever else
// (kid, alg, use) the JWKs carry. A nil key, or one without a thumbprint,
// is the same as no other.
func SameKey(a, b jwk.Key) bool {
	if a == nil || b == nil {
		return false
	}
	pa, err1 := a.PublicKey()
	pb, err2 := b.PublicKey()
	if err1 != nil || err2 != nil {
		return false
	}
	ta, err1 := pa.Thumbprint(crypto.SHA256)
	tb, err2 := pb.Thumbprint(crypto.SHA256)
	return err1 == nil && err2 == nil && subtle.ConstantTimeCompare(ta, tb) == 1
}
