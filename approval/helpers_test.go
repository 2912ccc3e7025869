package approval

import (
	"context"
	"time"

	"github.com/agentcert/agentcert/internal/jose"
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
	alg, err := jose.SigningAlg(key)
	if err != nil {
		return "", err
	}
	out, err := jws.Sign(msg.Payload(), jws.WithKey(alg, key, jws.WithProtectedHeaders(h)))
	return string(out), err
}

// spent is a Replay for tests: a set of spent ids.
type spent map[string]bool

func (s spent) Spend(_ context.Context, id string, _ time.Time) (bool, error) {
	if s[id] {
		return false, nil
	}
	s[id] = true
	return true, nil
}
