package interop

import (
	"encoding/base64"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestReceiptsVerifyWithJose: a receipt from POST /v1/verify verifies with
// jose (an independent JOSE implementation) against the key the service's
// did.json publishes, its claims are the ones agentcert documents, its
// reference is the SHA-256 of the presented SD-JWT as jose's side computes
// it, and a tampered receipt fails there too.
func TestReceiptsVerifyWithJose(t *testing.T) {
	requireNode(t)
	srv := startServer(t, "")
	dir := t.TempDir()
	issuerTok := srv.token(t, "issuer")
	agentKey := filepath.Join(dir, "agent.jwk")
	agent := mustRun(t, dir, "did", "create", "--method", "key", "--alg", "ES256", "--out", agentKey)
	var issued struct {
		Credential string `json:"credential"`
	}
	if st := srv.call(t, http.MethodPost, "/v1/credentials", issuerTok, map[string]any{"subject": agent, "claims": certClaims()}, &issued); st != http.StatusCreated {
		t.Fatalf("issue: HTTP %d", st)
	}
	credFile := filepath.Join(dir, "cred.txt")
	writeFile(t, credFile, issued.Credential)
	pres := mustRun(t, dir, "present", "--credential", credFile, "--key", agentKey, "--aud", "https://shop.example", "--nonce", "n-1", "--disclose-all")

	var res struct {
		Verified bool   `json:"verified"`
		Receipt  string `json:"receipt"`
	}
	if st := srv.call(t, http.MethodPost, "/v1/verify", "", map[string]any{"presentation": pres, "audience": "https://shop.example", "nonce": "n-1",
		"action": "payments:approve"}, &res); st != http.StatusOK || res.Receipt == "" {
		t.Fatalf("verify: HTTP %d, receipt %q", st, res.Receipt)
	}
	var doc map[string]any
	if st := srv.call(t, http.MethodGet, "/.well-known/did.json", "", nil, &doc); st != http.StatusOK {
		t.Fatalf("did.json: HTTP %d", st)
	}
	type verdict struct {
		OK        bool           `json:"ok"`
		Error     string         `json:"error"`
		Header    map[string]any `json:"header"`
		Payload   map[string]any `json:"payload"`
		Reference string         `json:"reference"`
	}
	var v verdict
	node(t, "receipt", map[string]any{"receipt": res.Receipt, "did_document": doc, "verifier": srv.IssuerDID, "presentation": pres}, &v)
	if !v.OK {
		t.Fatalf("jose refuses the receipt: %s", v.Error)
	}
	p := v.Payload
	cred, _ := p["credential"].(map[string]any)
	if p["iss"] != srv.IssuerDID || p["result"] != "error" || p["reference"] != v.Reference || p["subject"] != agent ||
		p["action"] != "payments:approve" || cred == nil || cred["iss"] != srv.IssuerDID || p["jti"] == nil || p["iat"] == nil {
		t.Fatalf("receipt payload %v (reference computed by the JS side %s)", p, v.Reference)
	}
	if v.Header["typ"] != "agentcert-receipt+jwt" || !strings.HasPrefix(v.Header["kid"].(string), srv.IssuerDID+"#receipt-") {
		t.Fatalf("receipt header %v", v.Header)
	}

	parts := strings.Split(res.Receipt, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"result":"error"`, `"result":"success"`, 1))) + "." + parts[2]
	var bad verdict
	node(t, "receipt", map[string]any{"receipt": tampered, "did_document": doc, "verifier": srv.IssuerDID, "presentation": pres}, &bad)
	if bad.OK || bad.Error != "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" {
		t.Fatalf("jose accepts a tampered receipt: %+v", bad)
	}
	var wrongIss verdict
	node(t, "receipt", map[string]any{"receipt": res.Receipt, "did_document": doc, "verifier": "did:web:other.example", "presentation": pres}, &wrongIss)
	if wrongIss.OK {
		t.Fatal("jose accepts a receipt from an unexpected verifier")
	}
}
