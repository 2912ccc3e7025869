package interop

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// walletAnswer is the answer of oid4vci-wallet.mjs.
type walletAnswer struct {
	OK               bool     `json:"ok"`
	Stage            string   `json:"stage"`
	Error            string   `json:"error"`
	CredentialIssuer string   `json:"credential_issuer"`
	ConfigurationID  string   `json:"configuration_id"`
	Version          string   `json:"version"`
	Credentials      []string `json:"credentials"`
}

// TestOID4VCIWithOpenWalletClient drives agentcert's OpenID4VCI issuer with
// the OpenWallet Foundation's client (@openid4vc/openid4vci): offer by
// reference with a transaction code, metadata, token, nonce and a batch of
// two jwt proofs. What it received is then presented and verified by
// sd-jwt-js and by agentcert. A second run of the same offer, and a wrong
// transaction code, are refused with the errors the specification names.
func TestOID4VCIWithOpenWalletClient(t *testing.T) {
	requireNode(t)
	srv := startServer(t, "issuer:\n  did_method: key\n")
	issuerTok := srv.token(t, "issuer")
	issuerPub, err := did.PublicKey(srv.IssuerDID)
	if err != nil {
		t.Fatalf("issuer DID %q: %v", srv.IssuerDID, err)
	}
	issuerJWK := testkit.JSONMap(t, issuerPub)

	var offer struct {
		OfferURILink string `json:"offer_uri_link"`
		OfferLink    string `json:"offer_link"`
		TxCode       string `json:"tx_code"`
	}
	body := map[string]any{"claims": certClaims(), "selectively_disclosable": []string{"/principal/name", "/agent/version"}, "tx_code": map[string]any{"length": 6}}
	if st := srv.call(t, http.MethodPost, "/v1/offers", issuerTok, body, &offer); st != http.StatusCreated || offer.TxCode == "" {
		t.Fatalf("POST /v1/offers: HTTP %d %+v", st, offer)
	}
	holders := []jwk.Key{testkeys.New(t, jwa.ES256, "h1"), testkeys.New(t, jwa.ES256, "h2")}
	var priv []map[string]any
	for _, h := range holders {
		m := testkit.JSONMap(t, h)
		delete(m, "kid") // the proof names its key by jwk alone
		priv = append(priv, m)
	}
	var got walletAnswer
	nodeScript(t, "oid4vci-wallet.mjs", "receive", map[string]any{"offer": offer.OfferURILink, "tx_code": offer.TxCode, "holders": priv}, &got)
	if !got.OK {
		t.Fatalf("the OpenWallet client failed at %s: %s", got.Stage, got.Error)
	}
	if got.CredentialIssuer != srv.URL || got.ConfigurationID != "agent_certification" || got.Version != "V1" || len(got.Credentials) != 2 {
		t.Fatalf("client answer %+v", got)
	}
	dir := t.TempDir()
	for i, cred := range got.Credentials {
		var pres struct {
			Presentation string `json:"presentation"`
		}
		node(t, "present", map[string]any{"credential": cred, "frame": map[string]any{"principal": map[string]any{"name": true}}, "holder_jwk": priv[i], "aud": audience, "nonce": nonce, "iat": time.Now().Unix()}, &pres)
		var v jsVerdict
		node(t, "verify", map[string]any{"presentation": pres.Presentation, "issuer_jwk": issuerJWK, "aud": audience, "nonce": nonce, "max_kb_age": 300}, &v)
		if !v.Library.OK || !v.Harness.OK {
			t.Fatalf("credential %d: sd-jwt-js refused it: %s %v", i, v.Library.Error, v.Harness.Errors)
		}
		wantSub, err := did.KeyDID(holders[i])
		if err != nil {
			t.Fatal(err)
		}
		cnf, _ := v.Library.Payload["cnf"].(map[string]any)
		cj, _ := cnf["jwk"].(map[string]any)
		if v.Library.Payload["sub"] != wantSub || cj["x"] != priv[i]["x"] || v.Library.Payload["iss"] != srv.IssuerDID ||
			v.Library.Payload["vct"] != "urn:agentcert:agent-certification:v1" {
			t.Fatalf("credential %d: sub %v cnf %v iss %v, want %s bound to the holder key", i, v.Library.Payload["sub"], cj, v.Library.Payload["iss"], wantSub)
		}
		ours := agentcertVerify(t, dir, pres.Presentation, "--aud", audience, "--nonce", nonce, "--trust", srv.IssuerDID, "--config", srv.Config)
		if !ours.Verified {
			t.Fatalf("credential %d: agentcert refused it: %+v", i, ours.Errors)
		}
	}

	nodeScript(t, "oid4vci-wallet.mjs", "receive", map[string]any{"offer": offer.OfferURILink, "tx_code": offer.TxCode, "holders": priv[:1]}, &got)
	if got.OK || got.Stage != "token" || !strings.Contains(got.Error, "invalid_grant") || !strings.Contains(got.Error, "pre_authorized_code_used") {
		t.Fatalf("the same offer a second time: %+v", got)
	}
	if st := srv.call(t, http.MethodPost, "/v1/offers", issuerTok, body, &offer); st != http.StatusCreated {
		t.Fatalf("POST /v1/offers: HTTP %d", st)
	}
	nodeScript(t, "oid4vci-wallet.mjs", "receive", map[string]any{"offer": offer.OfferLink, "tx_code": "wrong", "holders": priv[:1]}, &got)
	if got.OK || got.Stage != "token" || !strings.Contains(got.Error, "tx_code_wrong") {
		t.Fatalf("a wrong tx_code: %+v", got)
	}
}
