package verifier

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// BenchmarkVerifyCached is a full in-process verification (signature,
// disclosures, KB-JWT, trust, status from the client's cache, authorization)
// with a did:key issuer (resolved offline, cached) and a status list served
// from memory once.
func BenchmarkVerifyCached(b *testing.B) {
	for _, alg := range []jwa.SignatureAlgorithm{jwa.ES256, jwa.EdDSA} {
		b.Run(alg.String(), func(b *testing.B) {
			issKey, issDID := testkeys.DIDKey(b, alg)
			agentKey, agentDID := testkeys.DIDKey(b, alg)
			const uri = "https://issuer.example/statuslists/1"
			list, _ := revocation.NewList(131072, 2)
			now := time.Now()
			tok, err := revocation.SignToken(list, revocation.TokenClaims{Subject: uri, Issuer: issDID, IssuedAt: now, Expires: now.Add(time.Hour), TTL: time.Hour}, issKey)
			if err != nil {
				b.Fatal(err)
			}
			fetches := 0
			p := DefaultPolicy()
			p.Trusted[issDID] = []string{"urn:agentcert:agent-certification:v1"}
			p.MaxStatusAge = time.Hour
			v, err := New(p,
				WithResolver(did.NewCachingResolver(did.NewResolver(nil), time.Hour, 16, nil)),
				WithFetch(func(context.Context, string, string, int64) ([]byte, error) {
					fetches++
					return []byte(tok), nil
				}),
			)
			if err != nil {
				b.Fatal(err)
			}
			cnf := testkeys.PublicJWK(b, agentKey)
			perms := []any{}
			for i := 0; i < 5; i++ {
				perms = append(perms, map[string]any{"action": fmt.Sprintf("res%d:read", i)})
			}
			claims := map[string]any{
				"iss": issDID, "sub": agentDID, "vct": "urn:agentcert:agent-certification:v1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
				"cnf": map[string]any{"jwk": cnf}, "status": map[string]any{"status_list": map[string]any{"idx": 42, "uri": uri}},
				"principal": map[string]any{"id": "did:web:acme.example", "name": "ACME", "type": "organization"},
				"agent":     map[string]any{"class": "ap", "version": "1"}, "permissions": perms, "prohibitions": []any{"payments:initiate"}, "autonomy": "supervised",
			}
			cred, err := sdjwt.Issue(claims, []string{"/permissions/*"}, issKey, nil)
			if err != nil {
				b.Fatal(err)
			}
			pres, err := sdjwt.Present(cred, []string{"/permissions/0", "/permissions/1"}, &sdjwt.KBOptions{Key: agentKey, Audience: "aud", Nonce: "n"})
			if err != nil {
				b.Fatal(err)
			}
			req := Request{Presentation: pres, Audience: "aud", Nonce: "n", Action: "res0:read"}
			if r := v.Verify(context.Background(), req); !r.Allowed() {
				b.Fatalf("not verified: %+v", r.Error)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if r := v.Verify(context.Background(), req); !r.Verified {
					b.Fatal(r.Error)
				}
			}
			b.StopTimer()
			if fetches != 1 {
				b.Fatalf("status list fetched %d times, want 1 (cached)", fetches)
			}
		})
	}
}
