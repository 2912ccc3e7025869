// Package testcred makes the small credentials and presentations that
// tests of several packages need when only their issuer and status
// reference matter.
package testcred

import (
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// VCT is the type of the credentials Presentation makes.
const VCT = "urn:x"

// Presentation returns a presentation, bound to aud and nonce by a fresh
// agent's did:key, of a credential of type VCT that iss (issDID; its kid
// names the verification method) signs, valid for an hour, with the status
// reference idx 1 of statusURI.
func Presentation(t testing.TB, iss jwk.Key, issDID, statusURI, aud, nonce string) string {
	t.Helper()
	agent, agentDID := testkeys.DIDKey(t, jwa.EdDSA)
	cnf := testkeys.PublicJWK(t, agent)
	now := time.Now()
	cred, err := sdjwt.Issue(map[string]any{"iss": issDID, "sub": agentDID, "vct": VCT, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"cnf": map[string]any{"jwk": cnf}, "status": map[string]any{"status_list": map[string]any{"idx": 1, "uri": statusURI}}}, nil, iss, nil)
	if err != nil {
		t.Fatal(err)
	}
	pres, err := sdjwt.Present(cred, nil, &sdjwt.KBOptions{Key: agent, Audience: aud, Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	return pres
}
