package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/tokens"
)

// TestPresentationRequestsNeedATokenWhenRequired: with
// verifier.require_token the counterparty's calls need a bearer token,
// while the wallet's protocol endpoints stay open.
func TestPresentationRequestsNeedATokenWhenRequired(t *testing.T) {
	env := NewTestEnv(t, func(c *config.Config) { c.Verifier.RequireToken = true })
	secret, _, err := tokens.Create(t.Context(), env.Store, tokens.RoleAuditor, "counterparty", "test", env.Server.now())
	if err != nil {
		t.Fatal(err)
	}
	body := `{"dcql_query":{"credentials":[{"id":"cert","format":"dc+sd-jwt","meta":{"vct_values":["urn:agentcert:agent-certification:v1"]}}]}}`
	call := func(method, path, token, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		env.Server.Handler().ServeHTTP(rec, r)
		return rec
	}
	if rec := call(http.MethodPost, "/v1/presentation-requests", "", body); rec.Code != http.StatusUnauthorized {
		t.Fatalf("without a token: %d %s", rec.Code, rec.Body)
	}
	if rec := call(http.MethodGet, "/v1/presentation-requests/x", "", ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("result without a token: %d %s", rec.Code, rec.Body)
	}
	rec := call(http.MethodPost, "/v1/presentation-requests", secret, body)
	if rec.Code != http.StatusCreated {
		t.Fatalf("with a token: %d %s", rec.Code, rec.Body)
	}
	if rec := call(http.MethodGet, "/oid4vp/requests/unknown", "", ""); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"code":"not_found"`) {
		t.Fatalf("request object endpoint: %d %s", rec.Code, rec.Body)
	}
}
