package did

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"io"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// pubKey is a validated public key of a supported type.
type pubKey struct {
	crv jwa.EllipticCurveAlgorithm // jwa.Ed25519 or jwa.P256
	raw []byte                     // Ed25519: 32 bytes; P-256: 65-byte uncompressed SEC1 point
}

func (p pubKey) alg() jwa.SignatureAlgorithm {
	if p.crv == jwa.P256 {
		return jwa.ES256
	}
	return jwa.EdDSA
}

// bare returns the key as a JWK holding only its public members
// (kty, crv, x and y).
func (p pubKey) bare() (jwk.Key, error) {
	var raw any
	switch p.crv {
	case jwa.P256:
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), p.raw)
		if err != nil {
			return nil, errcode.Wrap(errcode.Internal, err, "P-256 key")
		}
		raw = pub
	default:
		raw = ed25519.PublicKey(bytes.Clone(p.raw))
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "building a JWK")
	}
	return k, nil
}

// key returns the public JWK with kid and alg set.
func (p pubKey) key(kid string) (jwk.Key, error) {
	k, err := p.bare()
	if err != nil {
		return nil, err
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "setting kid")
	}
	if err := k.Set(jwk.AlgorithmKey, p.alg()); err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "setting alg")
	}
	return k, nil
}

// bareJSON is the JSON of bare(): the members serialized in lexical order.
func (p pubKey) bareJSON() ([]byte, error) {
	k, err := p.bare()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(k)
	if err != nil {
		return nil, errcode.Wrap(errcode.Internal, err, "serializing a JWK")
	}
	return b, nil
}

// pubKeyFromJWK validates a jwk.Key (public or private; only its public part
// is used) and returns its public key. Unsupported key types are
// did_method_unsupported; malformed keys and an alg that does not fit the
// curve are reported with the code bad.
func pubKeyFromJWK(k jwk.Key, bad errcode.Code) (pubKey, error) {
	if k == nil {
		return pubKey{}, errcode.New(bad, "no key")
	}
	var p pubKey
	switch k.KeyType() {
	case jwa.EC:
		crv, x, y, err := ecMembers(k)
		if err != nil {
			return pubKey{}, errcode.Wrap(bad, err, "EC key")
		}
		if crv != jwa.P256 {
			return pubKey{}, errcode.New(errcode.DIDMethodUnsupported, "unsupported EC curve %q (only P-256)", crv)
		}
		if len(x) != 32 || len(y) != 32 {
			return pubKey{}, errcode.New(bad, "P-256 coordinates must be 32 bytes")
		}
		raw := append(append([]byte{4}, x...), y...)
		if _, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw); err != nil {
			return pubKey{}, errcode.Wrap(bad, err, "P-256 point is not on the curve")
		}
		p = pubKey{crv: jwa.P256, raw: raw}
	case jwa.OKP:
		crv, x, err := okpMembers(k)
		if err != nil {
			return pubKey{}, errcode.Wrap(bad, err, "OKP key")
		}
		if crv != jwa.Ed25519 {
			return pubKey{}, errcode.New(errcode.DIDMethodUnsupported, "unsupported OKP curve %q (only Ed25519)", crv)
		}
		if len(x) != ed25519.PublicKeySize {
			return pubKey{}, errcode.New(bad, "Ed25519 key must be 32 bytes")
		}
		p = pubKey{crv: jwa.Ed25519, raw: bytes.Clone(x)}
	case jwa.OctetSeq:
		return pubKey{}, errcode.New(bad, "a symmetric key has no public part")
	default:
		return pubKey{}, errcode.New(errcode.DIDMethodUnsupported, "unsupported key type %q (only EC P-256 and OKP Ed25519)", k.KeyType())
	}
	if a := k.Algorithm().String(); a != "" && a != p.alg().String() {
		return pubKey{}, errcode.New(bad, "alg %q does not fit a %s key", a, p.crv)
	}
	return p, nil
}

func ecMembers(k jwk.Key) (jwa.EllipticCurveAlgorithm, []byte, []byte, error) {
	switch k := k.(type) {
	case jwk.ECDSAPublicKey:
		return k.Crv(), k.X(), k.Y(), nil
	case jwk.ECDSAPrivateKey:
		return k.Crv(), k.X(), k.Y(), nil
	}
	return "", nil, nil, errors.New("not an EC key")
}

func okpMembers(k jwk.Key) (jwa.EllipticCurveAlgorithm, []byte, error) {
	switch k := k.(type) {
	case jwk.OKPPublicKey:
		return k.Crv(), k.X(), nil
	case jwk.OKPPrivateKey:
		return k.Crv(), k.X(), nil
	}
	return "", nil, errors.New("not an OKP key")
}

// privateMembers are JWK members that only private or secret keys carry.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// parseJWKJSON parses the JSON text of a public JWK. Duplicate members,
// private members and anything jwx cannot parse are reported with bad.
func parseJWKJSON(raw []byte, bad errcode.Code) (jwk.Key, map[string]json.RawMessage, error) {
	members, err := uniqueObject(raw)
	if err != nil {
		return nil, nil, errcode.Wrap(bad, err, "JWK is not a JSON object")
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return nil, nil, errcode.New(bad, "JWK holds private member %q", m)
		}
	}
	k, err := jwk.ParseKey(raw)
	if err != nil {
		return nil, nil, errcode.Wrap(bad, err, "JWK does not parse")
	}
	if priv, err := jwk.IsPrivateKey(k); err != nil || priv {
		return nil, nil, errcode.New(bad, "JWK is not a public key")
	}
	return k, members, nil
}

// uniqueObject decodes one JSON object and fails on duplicate member names
// or trailing data.
func uniqueObject(raw []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not an object")
	}
	members := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		if _, dup := members[name]; dup {
			return nil, errors.New("duplicate member " + name)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		members[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the object")
	}
	return members, nil
}

// PublicKey returns the public key of a did:key or did:jwk as a JWK with alg
// (ES256 for P-256, EdDSA for Ed25519) and kid set to the DID URL of its
// verification method (did:key:zX#zX, did:jwk:...#0).
//
// A DID that does not parse, a bad encoding or a did:jwk holding a private
// key is did_invalid; other methods and key types other than Ed25519 and
// P-256 are did_method_unsupported.
func PublicKey(did string) (jwk.Key, error) {
	p, kid, err := offlineKey(did)
	if err != nil {
		return nil, err
	}
	return p.key(kid)
}

// VerificationMethodID returns the DID URL of the verification method of a
// did:key (did:key:zX#zX) or did:jwk (did:jwk:...#0), after checking that the
// DID decodes to a supported key.
func VerificationMethodID(did string) (string, error) {
	_, kid, err := offlineKey(did)
	return kid, err
}

func offlineKey(did string) (pubKey, string, error) {
	d, err := Parse(did)
	if err != nil {
		return pubKey{}, "", err
	}
	switch d.Method {
	case "key":
		p, err := decodeKeyID(d.ID)
		if err != nil {
			return pubKey{}, "", err
		}
		return p, did + "#" + d.ID, nil
	case "jwk":
		j, err := decodeJWKID(d.ID)
		if err != nil {
			return pubKey{}, "", err
		}
		p, err := pubKeyFromJWK(j.key, errcode.DIDInvalid)
		if err != nil {
			return pubKey{}, "", err
		}
		return p, did + "#0", nil
	}
	return pubKey{}, "", errcode.New(errcode.DIDMethodUnsupported, "DID method %q has no offline key (only key and jwk)", d.Method)
}
