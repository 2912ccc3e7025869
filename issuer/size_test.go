package issuer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// TestSizeBound: the bound fits relies on to skip the trial signature is
// never below the length of the credential signing gives, for any choice of
// disclosures, and whatever surelyFits passes signs within sdjwt's limits.
func TestSizeBound(t *testing.T) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		key, err := keyutil.Generate(alg)
		if err != nil {
			t.Fatal(err)
		}
		kid := "did:web:issuer.example:tenants:a#0123456789abcdef"
		if err := key.Set(jwk.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
		passed, refused := 0, 0
		for _, count := range []int{0, 2, 64, 200, 256, 300} {
			for _, l := range []int{1, 40, 200, 502} {
				perms := make([]any, count)
				for i := range perms {
					perms[i] = map[string]any{"action": "files:read", "resource": fmt.Sprintf("files/%03d/%s", i, strings.Repeat("r", l))}
				}
				payload, err := sdjwt.Normalize(map[string]any{
					"iss": "did:web:issuer.example", "sub": "did:web:agents.example:a1", "iat": 1767225600, "exp": 1769817600,
					"principal":   map[string]any{"id": "did:web:acme.example", "name": "ACME <&> Corp \u00e9\u2028"},
					"agent":       map[string]any{"class": "x", "tags": []any{"a", "b", map[string]any{"c": nil}}},
					"permissions": perms,
					"status":      statusClaim(131071, "https://issuer.example/statuslists/0123456789abcdef"),
				})
				if err != nil {
					t.Fatal(err)
				}
				for _, sd := range [][]string{nil, {"/permissions/*"}, {"/principal", "/principal/name", "/agent/tags/2", "/agent/tags/2/c", "/permissions/*"}} {
					if count == 0 && len(sd) > 0 && sd[len(sd)-1] == "/permissions/*" {
						sd = sd[:len(sd)-1]
					}
					what := fmt.Sprintf("%s, %d permissions of %d, disclosable %v", alg, count, l, sd)
					cred, err := sdjwt.Issue(payload, sd, key, nil)
					size, _, ok := sizeBound(payload, kid)
					if !ok {
						t.Fatalf("%s: no bound", what)
					}
					if err == nil && len(cred) > size {
						t.Fatalf("%s: %d bytes, more than the bound %d", what, len(cred), size)
					}
					if surelyFits(payload, kid) {
						passed++
						if err != nil {
							t.Fatalf("%s: surelyFits passed what signing refuses: %v", what, err)
						}
					} else if err != nil {
						refused++
					}
				}
			}
		}
		if passed == 0 || refused == 0 {
			t.Fatalf("%s: %d payloads passed the bound and %d were refused; want some of each", alg, passed, refused)
		}
	}
}
