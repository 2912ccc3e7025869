package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/oid4vci"
)

// BenchmarkOID4VCIFlowHandler measures whole pre-authorized code flows
// through the handler (offer, token, nonce, credential with one proof: four
// durable writes, a proof check and one signature), 16 at a time like
// BenchmarkIssueHandler (server_test: one write and one signature), to
// compare the two in one run:
//
//	go test -run '^$' -bench 'BenchmarkOID4VCIFlowHandler|BenchmarkIssueHandler' -benchtime 200x ./server/
func BenchmarkOID4VCIFlowHandler(b *testing.B) {
	env := NewTestEnv(b, nil)
	h := env.Server.Handler()
	tok, _, err := tokens.Create(context.Background(), env.Store, tokens.RoleIssuer, "bench", "bench", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	key, err := keyutil.Generate(jwa.ES256)
	if err != nil {
		b.Fatal(err)
	}
	call := func(method, path, token, ctype, body string, out any) bool {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code/100 != 2 {
			b.Errorf("%s %s: %d %s", method, path, rec.Code, rec.Body)
			return false
		}
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			b.Error(err)
			return false
		}
		return true
	}
	offer := `{"claims":` + vciClaims + `}`
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var o oid4vci.CreatedOffer
			if !call(http.MethodPost, "/v1/offers", tok, "application/json", offer, &o) {
				return
			}
			form := url.Values{"grant_type": {oid4vci.GrantPreAuthorizedCode}, "pre-authorized_code": {o.CredentialOffer.Grants.PreAuthorizedCode.Code}}
			var t oid4vci.TokenResponse
			var n oid4vci.NonceResponse
			if !call(http.MethodPost, oid4vci.TokenPath, "", "application/x-www-form-urlencoded", form.Encode(), &t) ||
				!call(http.MethodPost, oid4vci.NoncePath, "", "", "", &n) {
				return
			}
			p, err := oid4vci.SignProof(key, env.Cfg.PublicURL, n.CNonce, time.Now())
			if err != nil {
				b.Error(err)
				return
			}
			var c oid4vci.CredentialResponse
			if !call(http.MethodPost, oid4vci.CredentialPath, t.AccessToken, "application/json",
				`{"credential_configuration_id":"agent_certification","proofs":{"jwt":["`+p+`"]}}`, &c) {
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}
