package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/oid4vci"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// fakeIssuer serves the metadata of an OpenID4VCI issuer at its root and a
// token endpoint that records what it is sent and refuses every request.
func fakeIssuer(t *testing.T, tokenForms *atomic.Value) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+oid4vci.WellKnownIssuer, func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(oid4vci.IssuerMetadata{
			CredentialIssuer: srv.URL, CredentialEndpoint: srv.URL + "/credential", NonceEndpoint: srv.URL + "/nonce",
			CredentialConfigurationsSupported: map[string]oid4vci.CredentialConfiguration{
				"c": {Format: oid4vci.FormatSDJWTVC, VCT: "urn:test"},
			},
		})
	})
	mux.HandleFunc("GET "+oid4vci.WellKnownAS, func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(oid4vci.ASMetadata{Issuer: srv.URL, TokenEndpoint: srv.URL + "/token"})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		tokenForms.Store(r.PostForm)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestWalletSendsNoUnaskedTxCode: a transaction code given for an offer
// that asks for none is refused before anything is sent, so that the code
// (meant for the issuer that asked for it) never reaches another.
func TestWalletSendsNoUnaskedTxCode(t *testing.T) {
	var forms atomic.Value
	srv := fakeIssuer(t, &forms)
	k, err := keyutil.Generate(jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	offer, _ := json.Marshal(oid4vci.CredentialOffer{
		CredentialIssuer: srv.URL, CredentialConfigurationIDs: []string{"c"},
		Grants: oid4vci.Grants{PreAuthorizedCode: &oid4vci.PreAuthorizedGrant{Code: "code"}},
	})
	w := &wallet{http: newWalletHTTPClient(5 * time.Second), now: time.Now}
	_, err = w.receive(context.Background(), string(offer), "123456", true, []jwk.Key{k})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitUsage {
		t.Errorf("a tx_code for an offer without one: %v, want a usage error", err)
	}
	if f := forms.Load(); f != nil {
		t.Fatalf("the token endpoint was sent %v", f)
	}
}
