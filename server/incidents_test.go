package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/receipt"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// TestIncidentsOverHTTP: /v1/verify returns a receipt that verifies against
// the key did.json publishes; a reporter files it as an incident; an
// auditor lists, reads and resolves it; every call conforms to the
// document, and bad receipts are refused with their codes.
func TestIncidentsOverHTTP(t *testing.T) {
	registerBodyDecoders()
	doc := loadOpenAPI(t)
	env := NewTestEnv(t, nil)
	s := env.Server
	ctx := context.Background()
	secrets := map[string]string{}
	for _, role := range []string{tokens.RoleIssuer, tokens.RoleAuditor, tokens.RoleReporter} {
		secret, _, err := tokens.Create(ctx, s.store, role, "shop-"+role, "test", s.now())
		if err != nil {
			t.Fatal(err)
		}
		secrets[role] = secret
	}
	iss, aud, rep := secrets[tokens.RoleIssuer], secrets[tokens.RoleAuditor], secrets[tokens.RoleReporter]

	// did.json lists the receipt key under no relationship.
	rec := apiCall{name: "did.json", method: "GET", path: "/.well-known/did.json", tmpl: "/.well-known/did.json", want: 200}.do(t, s, doc)
	var ddoc did.Document
	_ = json.Unmarshal(rec.Body.Bytes(), &ddoc)
	kid := env.Receipts.PublicKey().KeyID()
	listed := false
	for _, vm := range ddoc.VerificationMethod {
		listed = listed || vm.ID == kid
	}
	for _, rel := range ddoc.AssertionMethod {
		if rel.ID() == kid {
			t.Fatal("the receipt key is listed under assertionMethod")
		}
	}
	if !listed || !strings.HasPrefix(kid, TestIssuerDID+"#receipt-") {
		t.Fatalf("receipt key %s not in did.json: %s", kid, rec.Body)
	}

	agentKey, agent := testkeys.DIDKey(t, jwa.EdDSA)
	issue := `{"subject":"` + agent + `","claims":{"principal":{"id":"did:web:acme.example","name":"ACME","type":"organization"},` +
		`"agent":{"class":"ap-assistant","version":"1.4.0"},"permissions":[{"action":"invoices:read"}],"prohibitions":["payments:initiate"],"autonomy":"supervised"}}`
	rec = apiCall{name: "issue", method: "POST", path: "/v1/credentials", tmpl: "/v1/credentials", token: iss, body: issue, want: 201}.do(t, s, doc)
	var issued issuer.Issued
	_ = json.Unmarshal(rec.Body.Bytes(), &issued)
	pres, err := sdjwt.Present(issued.Credential, nil, &sdjwt.KBOptions{Key: agentKey, Audience: "https://shop.example", Nonce: "n-1"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"presentation": pres, "audience": "https://shop.example", "nonce": "n-1", "action": "payments:initiate",
		"request": map[string]any{"amount": 120, "currency": "EUR"}})
	rec = apiCall{name: "verify", method: "POST", path: "/v1/verify", tmpl: "/v1/verify", body: string(body), want: 200}.do(t, s, doc)
	var res struct {
		Receipt string `json:"receipt"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &res)
	claims, err := receipt.Verify(ctx, res.Receipt, receipt.VerifyOptions{Keys: receipt.DIDKeys(env.Resolver), Verifier: TestIssuerDID})
	if err != nil {
		t.Fatalf("receipt from /v1/verify: %v", err)
	}
	if claims.Result != receipt.Error || claims.Credential == nil || claims.Credential.StatusList.URI != issued.Status.URI || claims.Reference != receipt.Reference(pres) {
		t.Fatalf("receipt %+v", claims)
	}

	report := func(receipts ...string) string {
		b, _ := json.Marshal(map[string]any{"category": "unauthorized_action", "severity": "high", "description": "tried to pay",
			"occurred_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "requested_action": "revoke", "receipts": receipts})
		return string(b)
	}
	parts := strings.Split(res.Receipt, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"result":"error"`, `"result":"success"`, 1))) + "." + parts[2]
	if !strings.Contains(string(payload), `"result":"error"`) {
		t.Fatalf("payload %s", payload)
	}
	otherKey, otherDID := testkeys.DIDKey(t, jwa.ES256)
	otherSigner, _ := receipt.SignerFromJWK(otherDID, otherKey)
	foreign, _ := otherSigner.Sign(receipt.Claims{Result: receipt.Success, Subject: agent,
		Credential: &receipt.Credential{Issuer: "did:web:other.example", ID: "x", StatusList: &receipt.StatusRef{URI: "https://other.example/statuslists/1", Idx: 1}}})
	for _, c := range []struct {
		name, token, body string
		want              int
		code              errcode.Code
	}{
		{"forged", rep, report(forged), 400, errcode.ReceiptBadSignature},
		{"malformed", rep, report("x.y"), 400, errcode.ReceiptMalformed},
		{"foreign", rep, report(foreign), 400, errcode.ReceiptForeign},
		{"as auditor", aud, report(res.Receipt), 403, errcode.Forbidden},
		{"as issuer", iss, report(res.Receipt), 403, errcode.Forbidden},
		{"no token", "", report(res.Receipt), 401, errcode.Unauthorized},
	} {
		rec := apiCall{name: "report " + c.name, method: "POST", path: "/v1/incidents", tmpl: "/v1/incidents", token: c.token, body: c.body, want: c.want}.do(t, s, doc)
		var p Problem
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		if p.Code != c.code {
			t.Errorf("report %s: code %s, want %s", c.name, p.Code, c.code)
		}
	}
	apiCall{name: "report bad category", method: "POST", path: "/v1/incidents", tmpl: "/v1/incidents", token: rep,
		body: strings.Replace(report(res.Receipt), "unauthorized_action", "rudeness", 1), want: 400, docRejects: true}.do(t, s, doc)

	rec = apiCall{name: "report", method: "POST", path: "/v1/incidents", tmpl: "/v1/incidents", token: rep, body: report(res.Receipt), want: 201}.do(t, s, doc)
	var in struct {
		ID           string `json:"id"`
		CredentialID string `json:"credential_id"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &in)
	if in.ID == "" || in.CredentialID != issued.ID || rec.Header().Get("Location") != "/v1/incidents/"+in.ID {
		t.Fatalf("incident %s", rec.Body)
	}
	for _, c := range []apiCall{
		{name: "list as reporter", method: "GET", path: "/v1/incidents", tmpl: "/v1/incidents", token: rep, want: 403},
		{name: "list", method: "GET", path: "/v1/incidents?state=open&credential_id=" + issued.ID + "&principal_id=did:web:acme.example&limit=10", tmpl: "/v1/incidents", token: aud, want: 200},
		{name: "list bad state", method: "GET", path: "/v1/incidents?state=closed", tmpl: "/v1/incidents", token: aud, want: 400, docRejects: true},
		{name: "get", method: "GET", path: "/v1/incidents/" + in.ID, tmpl: "/v1/incidents/{id}", token: aud, want: 200},
		{name: "get unknown", method: "GET", path: "/v1/incidents/inc_none", tmpl: "/v1/incidents/{id}", token: aud, want: 404},
		{name: "resolve as reporter", method: "POST", path: "/v1/incidents/" + in.ID + "/resolve", tmpl: "/v1/incidents/{id}/resolve", token: rep, body: `{"decision":"revoke"}`, want: 403},
		{name: "resolve bad decision", method: "POST", path: "/v1/incidents/" + in.ID + "/resolve", tmpl: "/v1/incidents/{id}/resolve", token: aud, body: `{"decision":"delete"}`, want: 400, docRejects: true},
		{name: "resolve", method: "POST", path: "/v1/incidents/" + in.ID + "/resolve", tmpl: "/v1/incidents/{id}/resolve", token: aud, body: `{"decision":"revoke","note":"confirmed"}`, want: 200},
		{name: "resolve again", method: "POST", path: "/v1/incidents/" + in.ID + "/resolve", tmpl: "/v1/incidents/{id}/resolve", token: aud, body: `{"decision":"dismiss"}`, want: 409},
		{name: "resolve unknown", method: "POST", path: "/v1/incidents/inc_none/resolve", tmpl: "/v1/incidents/{id}/resolve", token: aud, body: `{"decision":"dismiss"}`, want: 404},
	} {
		c.do(t, s, doc)
	}
	rec = apiCall{name: "credential after", method: "GET", path: "/v1/credentials/" + issued.ID, tmpl: "/v1/credentials/{id}", token: aud, want: 200}.do(t, s, doc)
	if !strings.Contains(rec.Body.String(), `"status":"revoked"`) || !strings.Contains(rec.Body.String(), in.ID) {
		t.Fatalf("credential after resolution: %s", rec.Body)
	}
}
