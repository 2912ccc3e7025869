package did

import (
	"bytes"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/binary"
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

func decodeKeyID(id string) (pubKey, error) {
	if strings.Contains(id, ":") {
		return pubKey{}, errcode.New(errcode.DIDMethodUnsupported, "did:key with a version component is not supported")
	}
	return pubKeyFromMultikey(id, errcode.DIDInvalid)
}
