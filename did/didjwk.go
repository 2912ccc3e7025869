package did

import (
	"encoding/base64"
	"encoding/json"

	"github.com/agentcert/agentcert/errcode"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

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
