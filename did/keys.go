package did

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/multiformats/go-multibase"
)

// Multicodec values of the public key types this package supports.
const (
	codecEd25519 = 0xed   // ed25519-pub
	codecP256    = 0x1200 // p256-pub, SEC1 compressed point
)

// Names of multicodec key types we recognise but do not support, so that the
// error can say what the key is.
var unsupportedCodecs = map[uint64]string{
	0xe7:   "secp256k1",
	0xea:   "BLS12-381 G1",
	0xeb:   "BLS12-381 G2",
	0xec:   "X25519",
	0xee:   "BLS12-381 G1G2",
	0x1201: "P-384",
	0x1202: "P-521",
	0x1205: "RSA",
}

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

// multikey returns the base58btc multibase encoding of the
// varint(multicodec) || key bytes (the did:key method-specific id).
func (p pubKey) multikey() string {
	var buf []byte
	switch p.crv {
	case jwa.P256:
		buf = binary.AppendUvarint(buf, codecP256)
		buf = append(buf, 2|p.raw[64]&1)
		buf = append(buf, p.raw[1:33]...)
	default:
		buf = binary.AppendUvarint(buf, codecEd25519)
		buf = append(buf, p.raw...)
	}
	s, _ := multibase.Encode(multibase.Base58BTC, buf) // cannot fail for a known encoding
	return s
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

// pubKeyFromMultikey decodes a base58btc multibase multicodec key (a did:key
// method-specific id or a publicKeyMultibase value). Unknown or unsupported
// codecs are did_method_unsupported; everything else that is wrong uses bad.
func pubKeyFromMultikey(s string, bad errcode.Code) (pubKey, error) {
	if !strings.HasPrefix(s, "z") {
		return pubKey{}, errcode.New(bad, "multibase value must be base58btc ('z')")
	}
	enc, data, err := multibase.Decode(s)
	if err != nil || enc != multibase.Base58BTC {
		return pubKey{}, errcode.Wrap(bad, err, "bad base58btc multibase value")
	}
	codec, n := binary.Uvarint(data)
	if n <= 0 || n != len(binary.AppendUvarint(nil, codec)) {
		return pubKey{}, errcode.New(bad, "bad multicodec varint")
	}
	key := data[n:]
	switch codec {
	case codecEd25519:
		if len(key) != ed25519.PublicKeySize {
			return pubKey{}, errcode.New(bad, "Ed25519 key must be 32 bytes, got %d", len(key))
		}
		return pubKey{crv: jwa.Ed25519, raw: bytes.Clone(key)}, nil
	case codecP256:
		if len(key) != 33 || (key[0] != 2 && key[0] != 3) {
			return pubKey{}, errcode.New(bad, "P-256 key must be a 33-byte compressed point")
		}
		x, y := elliptic.UnmarshalCompressed(elliptic.P256(), key)
		if x == nil {
			return pubKey{}, errcode.New(bad, "P-256 point is not on the curve")
		}
		raw := make([]byte, 65)
		raw[0] = 4
		x.FillBytes(raw[1:33])
		y.FillBytes(raw[33:])
		return pubKey{crv: jwa.P256, raw: raw}, nil
	}
	if name, ok := unsupportedCodecs[codec]; ok {
		return pubKey{}, errcode.New(errcode.DIDMethodUnsupported, "%s keys are not supported (only Ed25519 and P-256)", name)
	}
	return pubKey{}, errcode.New(errcode.DIDMethodUnsupported, "multicodec 0x%x is not a supported key type", codec)
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

// KeyDID returns the did:key of an Ed25519 (OKP) or P-256 (EC) key: "did:key:"
// then "z" + base58btc(varint(multicodec) || key), with the P-256 point
// compressed. A private key is accepted and only its public part used.
// Other key types are did_method_unsupported; a malformed key is
// invalid_input.
func KeyDID(pub jwk.Key) (string, error) {
	p, err := pubKeyFromJWK(pub, errcode.InvalidInput)
	if err != nil {
		return "", err
	}
	return "did:key:" + p.multikey(), nil
}

// JWKDID returns the did:jwk of an Ed25519 or P-256 key: "did:jwk:" +
// base64url(JSON of its public members kty, crv, x, y in lexical order).
// kid, alg and private members are not part of the DID.
func JWKDID(pub jwk.Key) (string, error) {
	p, err := pubKeyFromJWK(pub, errcode.InvalidInput)
	if err != nil {
		return "", err
	}
	b, err := p.bareJSON()
	if err != nil {
		return "", err
	}
	return "did:jwk:" + base64.RawURLEncoding.EncodeToString(b), nil
}

// decodedJWK is the content of a did:jwk.
type decodedJWK struct {
	raw     []byte // the JSON text, as encoded in the DID
	key     jwk.Key
	use     string
	members map[string]json.RawMessage
}

func decodeJWKID(id string) (*decodedJWK, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(id)
	if err != nil {
		return nil, errcode.Wrap(errcode.DIDInvalid, err, "did:jwk id is not base64url without padding")
	}
	k, members, err := parseJWKJSON(raw, errcode.DIDInvalid)
	if err != nil {
		return nil, err
	}
	d := &decodedJWK{raw: raw, key: k, members: members}
	if u, ok := members["use"]; ok {
		if err := json.Unmarshal(u, &d.use); err != nil || (d.use != "sig" && d.use != "enc") {
			return nil, errcode.New(errcode.DIDInvalid, "did:jwk JWK use must be \"sig\" or \"enc\"")
		}
	}
	return d, nil
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

func decodeKeyID(id string) (pubKey, error) {
	if strings.Contains(id, ":") {
		return pubKey{}, errcode.New(errcode.DIDMethodUnsupported, "did:key with a version component is not supported")
	}
	return pubKeyFromMultikey(id, errcode.DIDInvalid)
}
