package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/oid4vci"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// serveIssuerMetadata adds to mux the issuer and authorization server
// metadata of the fake issuer at *srv (one credential configuration "c",
// vct urn:test, every endpoint on srv).
func serveIssuerMetadata(mux *http.ServeMux, srv **httptest.Server) {
	mux.HandleFunc("GET "+oid4vci.WellKnownIssuer, func(w http.ResponseWriter, r *http.Request) {
		base := (*srv).URL
		_ = json.NewEncoder(w).Encode(oid4vci.IssuerMetadata{
			CredentialIssuer: base, CredentialEndpoint: base + "/credential", NonceEndpoint: base + "/nonce",
			CredentialConfigurationsSupported: map[string]oid4vci.CredentialConfiguration{
				"c": {Format: oid4vci.FormatSDJWTVC, VCT: "urn:test"},
			},
		})
	})
	mux.HandleFunc("GET "+oid4vci.WellKnownAS, func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(oid4vci.ASMetadata{Issuer: (*srv).URL, TokenEndpoint: (*srv).URL + "/token"})
	})
}

// fakeIssuer serves the metadata of an OpenID4VCI issuer at its root and a
// token endpoint that records what it is sent and refuses every request.
func fakeIssuer(t *testing.T, tokenForms *atomic.Value) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	mux := http.NewServeMux()
	serveIssuerMetadata(mux, &srv)
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

// issuingFake is an OpenID4VCI issuer at a loopback URL that runs the
// whole flow and signs each credential with key as the DID iss; it serves
// the did:web document of its own URL with webKey.
func issuingFake(t *testing.T, iss func(base string) string, key, webKey jwk.Key) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	mux := http.NewServeMux()
	serveIssuerMetadata(mux, &srv)
	mux.HandleFunc("GET /.well-known/did.json", func(w http.ResponseWriter, r *http.Request) {
		d, _ := webDID(srv.URL)
		doc, err := did.NewWebDocument(d, []jwk.Key{webKey})
		if err != nil {
			t.Error(err)
		}
		_ = json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"access_token":"at","token_type":"Bearer"}`))
	})
	mux.HandleFunc("POST /nonce", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"c_nonce":"n"}`))
	})
	mux.HandleFunc("POST /credential", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Proofs struct{ JWT []string } `json:"proofs"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		var resp oid4vci.CredentialResponse
		for _, p := range req.Proofs.JWT {
			msg, err := jws.ParseString(p)
			if err != nil {
				t.Error(err)
				return
			}
			holder := msg.Signatures()[0].ProtectedHeaders().JWK()
			sub, _ := did.KeyDID(holder)
			cnf, _ := keyutil.ToMap(holder)
			cred, err := sdjwt.Issue(map[string]any{
				"iss": iss(srv.URL), "sub": sub, "vct": "urn:test", "iat": time.Now().Unix(),
				"cnf": map[string]any{"jwk": cnf},
			}, nil, key, nil)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Credentials = append(resp.Credentials, oid4vci.IssuedCredential{Credential: cred})
		}
		_ = json.NewEncoder(w).Encode(resp)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestWalletChecksTheOfferingIssuer: a credential under a did:web is kept
// only when that is the did:web of the credential issuer that made the
// offer; one under another did:web is refused before that DID is resolved.
// A did:key issuer's credential is kept (its DID names no origin).
func TestWalletChecksTheOfferingIssuer(t *testing.T) {
	holder, _ := keyutil.Generate(jwa.ES256)
	webKey, _ := keyutil.Generate(jwa.ES256)
	_ = webKey.Set(jwk.KeyIDKey, "#k1")
	other, _ := keyutil.Generate(jwa.EdDSA)
	otherDID, _ := did.KeyDID(other)
	otherKID, _ := did.VerificationMethodID(otherDID)
	_ = other.Set(jwk.KeyIDKey, otherKID)
	resolver := did.NewResolver(did.NewFetcher(did.FetcherConfig{AllowHosts: []string{"127.0.0.1"}}))

	run := func(srv *httptest.Server) error {
		offer, _ := json.Marshal(oid4vci.CredentialOffer{
			CredentialIssuer: srv.URL, CredentialConfigurationIDs: []string{"c"},
			Grants: oid4vci.Grants{PreAuthorizedCode: &oid4vci.PreAuthorizedGrant{Code: "code"}},
		})
		w := &wallet{http: newWalletHTTPClient(5 * time.Second), resolver: resolver, now: time.Now}
		_, err := w.receive(context.Background(), string(offer), "", false, []jwk.Key{holder})
		return err
	}
	own := issuingFake(t, func(base string) string { d, _ := webDID(base); return d }, webKey, webKey)
	if err := run(own); err != nil {
		t.Fatalf("a credential of the offering issuer's did:web: %v", err)
	}
	// Another did:web is refused before it is resolved (other.example is
	// not reachable here: a fetch would fail differently).
	foreign := issuingFake(t, func(string) string { return "did:web:other.example" }, other, webKey)
	if err := run(foreign); err == nil || !strings.Contains(err.Error(), "not the credential issuer") {
		t.Fatalf("a credential of did:web:other.example for the offer of %s: %v", foreign.URL, err)
	}
	// A did:key issuer (issuer.did_method key) names a key, not an origin.
	keyed := issuingFake(t, func(string) string { return otherDID }, other, webKey)
	if err := run(keyed); err != nil {
		t.Fatalf("a credential of the did:key issuer %s: %v", otherDID, err)
	}
}

func TestIssuerIsOfferer(t *testing.T) {
	for _, c := range []struct {
		iss, ci string
		ok      bool
	}{
		{"did:web:issuer.example", "https://issuer.example", true},
		{"did:web:issuer.example", "https://Issuer.Example/", true},
		{"did:web:issuer.example%3A8443", "https://issuer.example:8443", true},
		{"did:web:issuer.example:t1", "https://issuer.example/t1/", true},
		{"did:web:issuer.example", "https://issuer.example:8443", false},
		{"did:web:issuer.example%3A8443", "https://issuer.example", false},
		{"did:web:evil.example", "https://issuer.example", false},
		{"did:web:issuer.example.evil.example", "https://issuer.example", false},
		{"did:web:issuer.example:t2", "https://issuer.example/t1", false},
		{"did:web:issuer.example:t1", "https://issuer.example", false},
		{"did:web:issuer.example", "https://issuer.example/t1", false},
		// A did:key issuer (issuer.did_method key) names a key, no origin.
		{"did:key:z6Mkhbar9JPiM7CTuNvYtpaJBjGgRbGZRUZUSsKRsWQF4hAq", "https://issuer.example", true},
		{"https://issuer.example", "https://issuer.example", false},
	} {
		if err := issuerIsOfferer(c.iss, c.ci); (err == nil) != c.ok {
			t.Errorf("issuerIsOfferer(%q, %q) = %v, want ok %v", c.iss, c.ci, err, c.ok)
		}
	}
}
