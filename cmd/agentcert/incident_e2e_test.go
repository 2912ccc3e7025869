package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/testsvc"
	"github.com/agentcert/agentcert/issuer"
)

// TestIncidentFlowThroughTheBinary: a counterparty's verification is
// refused and leaves a signed receipt; the receipt checks offline; the
// counterparty reports it as an incident; an auditor revokes through the
// incident; the agent's next presentation is refused with revoked. Every
// step runs the real binary over HTTP.
func TestIncidentFlowThroughTheBinary(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "receipts.jsonl")
	ts := startServer(t, dir, "AGENTCERT_RECEIPTS_LOG_FILE="+logFile)
	tokens := func(role string) string { return issueToken(t, dir, role) }
	incidentFlow(t, dir, ts, tokens, []string{logFile})
}

// TestIncidentFlowOnPostgreSQL: the same flow with the issuer's store and
// the receipt log in PostgreSQL (receipts search --store).
func TestIncidentFlowOnPostgreSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server on PostgreSQL")
	}
	db := testsvc.Postgres(t)
	logDB := testsvc.Postgres(t)
	kek := make([]byte, issuer.KEKSize)
	_, _ = rand.Read(kek)
	dir := t.TempDir()
	ts := startServer(t, dir, "AGENTCERT_STORE_URL="+db, "AGENTCERT_KEY_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(kek),
		"AGENTCERT_RECEIPTS_LOG_STORE="+logDB)
	tokens := func(role string) string { return ts.Token(ts.AdminToken, role, "pg-"+role) }
	incidentFlow(t, dir, ts, tokens, []string{"--store", logDB})
}

// incidentFlow runs the flow against ts; logArgs name the receipt log for
// receipts search.
func incidentFlow(t *testing.T, dir string, ts *testServer, tokens func(role string) string, logArgs []string) {
	issuerTok := tokens("issuer")
	auditor := tokens("auditor")
	reporter := tokens("reporter")

	agentKey := filepath.Join(dir, "agent.jwk")
	agent := mustRun(t, dir, "did", "create", "--method", "key", "--alg", "EdDSA", "--out", agentKey)
	var issued issuer.Issued
	ts.Call(http.MethodPost, "/v1/credentials", issuerTok, map[string]any{"subject": agent, "claims": demoClaims()}, http.StatusCreated, &issued)
	credFile := filepath.Join(dir, "credential.txt")
	write(t, credFile, issued.Credential)

	present := func(nonce string) string {
		t.Helper()
		p := filepath.Join(dir, "pres-"+nonce+".txt")
		write(t, p, mustRun(t, dir, "present", "--credential", credFile, "--key", agentKey, "--aud", "https://shop.example", "--nonce", nonce, "--disclose-all"))
		return p
	}
	verify := func(nonce, action, receiptFile string) (string, int) {
		t.Helper()
		out, errOut, code := runRevokeCLI(t, dir, nil, "verify", "--server", ts.URL, "--presentation", present(nonce),
			"--aud", "https://shop.example", "--nonce", nonce, "--action", action, "--receipt-out", receiptFile)
		return out + errOut, code
	}

	// 1. The agent tries a prohibited payment: refused, with a receipt.
	receiptFile := filepath.Join(dir, "denied.jwt")
	out, code := verify("n-1", "payments:initiate", receiptFile)
	if code != 1 || !strings.Contains(out, "DENIED") {
		t.Fatalf("prohibited action: exit %d\n%s", code, out)
	}

	// 2. The receipt checks offline against the service's published key.
	out, errOut, code := runRevokeCLI(t, dir, nil, "receipt", "verify", receiptFile, "--config", ts.Config, "--verifier", ts.IssuerDID)
	if code != 0 || !strings.HasPrefix(out, "VALID receipt from "+ts.IssuerDID+" (error") || !strings.Contains(out, `"error": "action_prohibited"`) ||
		!strings.Contains(out, `"subject": "`+agent+`"`) || !strings.Contains(out, `"action": "payments:initiate"`) {
		t.Fatalf("receipt verify: exit %d\n%s%s", code, out, errOut)
	}
	raw, _ := os.ReadFile(receiptFile)
	rcpt := strings.TrimSpace(string(raw))
	parts := strings.Split(rcpt, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "payments:initiate", "invoices:read", 1))) + "." + parts[2]
	tamperedFile := filepath.Join(dir, "tampered.jwt")
	write(t, tamperedFile, tampered)
	if out, errOut, code := runRevokeCLI(t, dir, nil, "receipt", "verify", tamperedFile, "--config", ts.Config); code != 1 || !strings.Contains(errOut, "receipt_bad_signature") {
		t.Fatalf("tampered receipt: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := runRevokeCLI(t, dir, nil, "receipt", "verify", receiptFile, "--config", ts.Config, "--verifier", "did:web:other.example"); code != 1 || !strings.Contains(errOut, "receipt_malformed") {
		t.Fatalf("receipt from an unexpected verifier: exit %d\n%s%s", code, out, errOut)
	}

	// 3. The counterparty reports it.
	report := map[string]any{"category": "unauthorized_action", "severity": "high", "description": "the agent tried to initiate a payment",
		"occurred_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "requested_action": "revoke", "receipts": []string{rcpt}}
	forged := map[string]any{}
	for k, v := range report {
		forged[k] = v
	}
	forged["receipts"] = []string{tampered}
	status, hdr, body := ts.DoHeaders(http.MethodPost, "/v1/incidents", reporter, forged, nil)
	wantProblem(t, "forged receipt", status, hdr, body, 400, "receipt_bad_signature")
	status, body = ts.Do(http.MethodPost, "/v1/incidents", reporter, report)
	if status != http.StatusCreated {
		t.Fatalf("report: %d %s", status, body)
	}
	var in struct {
		ID           string `json:"id"`
		CredentialID string `json:"credential_id"`
	}
	_ = json.Unmarshal(body, &in)
	if in.CredentialID != issued.ID {
		t.Fatalf("incident names %q, want %q", in.CredentialID, issued.ID)
	}

	// 4. The auditor lists, reads and resolves it: revoke.
	srv := []string{"--server", ts.URL, "--token", auditor}
	if out := mustRun(t, dir, append([]string{"incidents", "list", "--state", "open", "--credential", issued.ID}, srv...)...); !strings.Contains(out, in.ID) {
		t.Fatalf("incidents list: %s", out)
	}
	if out := mustRun(t, dir, append([]string{"incidents", "show", in.ID}, srv...)...); !strings.Contains(out, `"state": "open"`) {
		t.Fatalf("incidents show: %s", out)
	}
	if out, errOut, code := runRevokeCLI(t, dir, nil, "incidents", "resolve", in.ID, "--decision", "revoke", "--server", ts.URL, "--token", reporter); code != 1 || !strings.Contains(errOut, "forbidden") {
		t.Fatalf("a reporter resolving: exit %d\n%s%s", code, out, errOut)
	}
	out = mustRun(t, dir, append([]string{"incidents", "resolve", in.ID, "--decision", "revoke", "--note", "confirmed with ACME"}, srv...)...)
	if !strings.Contains(out, `"state": "resolved"`) || !strings.Contains(out, `"decision": "revoke"`) {
		t.Fatalf("incidents resolve: %s", out)
	}
	status, body = ts.Do(http.MethodGet, "/v1/audit?target="+in.ID, auditor, nil)
	if status != 200 || !strings.Contains(string(body), "incident.report") || !strings.Contains(string(body), "incident.resolve") {
		t.Fatalf("audit of the incident: %d %s", status, body)
	}

	// 5. The agent's next presentation is refused: revoked (once the status
	// list the verifier holds is older than its ttl, 2s here).
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		out, code = verify("n-next-"+string(rune('a'+i)), "invoices:read", filepath.Join(dir, "next.jwt"))
		if code == 1 && strings.Contains(out, "NOT VERIFIED: revoked") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the revocation: exit %d\n%s", code, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	out, errOut, code = runRevokeCLI(t, dir, nil, "receipt", "verify", filepath.Join(dir, "next.jwt"), "--config", ts.Config)
	if code != 0 || !strings.Contains(out, `"error": "revoked"`) || !strings.Contains(out, `"value": "revoked"`) {
		t.Fatalf("receipt of the refusal: exit %d\n%s%s", code, out, errOut)
	}

	// 6. The counterparty's action log has every decision.
	search := func(args ...string) string {
		return mustRun(t, dir, append(append([]string{"receipts", "search"}, logArgs...), args...)...)
	}
	out = search("--subject", agent, "--action", "payments:initiate", "--result", "error", "--since", "1h")
	if n := len(strings.Split(out, "\n")); n != 1 || !strings.Contains(out, rcpt) {
		t.Fatalf("receipts search (denied payment): %d lines\n%s", n, out)
	}
	out = search("--principal", "did:web:acme.example")
	if n := len(strings.Split(out, "\n")); n < 2 || !strings.Contains(out, `"error":"revoked"`) {
		t.Fatalf("receipts search (principal): %d lines\n%s", n, out)
	}
	if _, errOut, code := runRevokeCLI(t, dir, nil, append(append([]string{"receipts", "search"}, logArgs...), "--result", "maybe")...); code != 2 {
		t.Fatalf("bad --result: exit %d %s", code, errOut)
	}
}
