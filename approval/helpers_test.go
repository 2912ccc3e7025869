package approval

import (
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// signRaw re-signs the payload of tok under another typ.
func signRaw(key jwk.Key, typ, tok string) (string, error) {
	msg, err := jws.Parse([]byte(tok))
	if err != nil {
		return "", err
	}
	h := jws.NewHeaders()
	_ = h.Set(jws.TypeKey, typ)
	_ = h.Set(jws.KeyIDKey, key.KeyID())
	alg, err := algOf(key)
	if err != nil {
		return "", err
	}
	out, err := jws.Sign(msg.Payload(), jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	return string(out), err
}
