package sdjwt_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// TestAddKeyBinding: binding a presentation chosen once gives the same
// result as Present with the KB options, and refuses what Present refuses.
func TestAddKeyBinding(t *testing.T) {
	issuerKey, _ := testkeys.DIDKey(t, jwa.ES256)
	holderKey, _ := testkeys.DIDKey(t, jwa.EdDSA)
	holderPub, _ := keyutil.Public(holderKey)
	issuerPub, _ := keyutil.Public(issuerKey)
	cred, err := sdjwt.Issue(map[string]any{"iss": "did:example:i", "cnf": map[string]any{"jwk": holderPub},
		"permissions": []any{map[string]any{"action": "a:b"}, map[string]any{"action": "c:d"}}}, []string{"/permissions/*"}, issuerKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	pres, err := sdjwt.Present(cred, []string{"/permissions/1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := sdjwt.VerifyOptions{
		IssuerKey: func(context.Context, string, jws.Headers) (jwk.Key, error) { return issuerPub, nil },
		RequireKB: true, Audience: "https://v.example",
	}
	for _, nonce := range []string{"n-1", "n-2"} {
		bound, err := sdjwt.AddKeyBinding(pres, &sdjwt.KBOptions{Key: holderKey, Audience: "https://v.example", Nonce: nonce, IssuedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		opts.Nonce = nonce
		res, err := sdjwt.Verify(context.Background(), bound, opts)
		if err != nil || res.KeyBinding["nonce"] != nonce || len(res.Disclosures) != 1 {
			t.Fatalf("nonce %s: %v %+v", nonce, err, res)
		}
	}
	bound, _ := sdjwt.AddKeyBinding(pres, &sdjwt.KBOptions{Key: holderKey, Audience: "https://v.example", Nonce: "n"})
	for name, tc := range map[string]struct {
		pres string
		kb   *sdjwt.KBOptions
	}{
		"no options":      {pres, nil},
		"no key":          {pres, &sdjwt.KBOptions{Audience: "a", Nonce: "n"}},
		"no audience":     {pres, &sdjwt.KBOptions{Key: holderKey, Nonce: "n"}},
		"no nonce":        {pres, &sdjwt.KBOptions{Key: holderKey, Audience: "a"}},
		"already bound":   {bound, &sdjwt.KBOptions{Key: holderKey, Audience: "a", Nonce: "n"}},
		"public key only": {pres, &sdjwt.KBOptions{Key: holderPub, Audience: "a", Nonce: "n"}},
	} {
		if _, err := sdjwt.AddKeyBinding(tc.pres, tc.kb); err == nil {
			t.Errorf("%s: bound", name)
		} else if name != "public key only" && errcode.CodeOf(err) != errcode.InvalidInput {
			t.Errorf("%s: code %s, want invalid_input (%v)", name, errcode.CodeOf(err), err)
		}
	}
}
