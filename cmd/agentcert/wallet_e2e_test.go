package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// createOffer makes an OpenID4VCI offer through the running server.
func (ts *testServer) createOffer(t *testing.T, token string, txCode bool) map[string]any {
	t.Helper()
	req := map[string]any{"claims": map[string]any{
		"principal":    map[string]any{"id": "did:web:acme.example", "name": "ACME Corp", "type": "organization"},
		"agent":        map[string]any{"class": "accounts-payable-assistant", "version": "1.4.0"},
		"permissions":  []any{map[string]any{"action": "invoices:read"}, map[string]any{"action": "invoices:list"}},
		"prohibitions": []any{"payments:initiate"},
		"autonomy":     "supervised",
	}}
	if txCode {
		req["tx_code"] = map[string]any{"description": "the code your operator sent"}
	}
	status, body := ts.do("POST", "/v1/offers", token, req)
	if status != 201 {
		t.Fatalf("POST /v1/offers: %d %s", status, body)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWalletReceive runs `agentcert wallet receive` against `agentcert serve`:
// an offer made before a restart is redeemed after it, by reference, with a
// transaction code, for a batch of two keys (did:key kid proofs); each
// credential then presents and verifies. The negatives: a reused offer, a
// wrong and a missing transaction code.
func TestWalletReceive(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	token := issueToken(t, dir, "issuer")
	keyA, keyB := filepath.Join(dir, "a.jwk"), filepath.Join(dir, "b.jwk")
	didA := mustRun(t, dir, "did", "create", "--method", "key", "--alg", "ES256", "--out", keyA)
	didB := mustRun(t, dir, "did", "create", "--method", "key", "--alg", "EdDSA", "--out", keyB)

	offer := ts.createOffer(t, token, true)
	ts.restart() // the offer and its code survive
	link, tx := offer["offer_uri_link"].(string), offer["tx_code"].(string)
	out := filepath.Join(dir, "creds.txt")
	got := mustRun(t, dir, "wallet", "receive", link, "--key", keyA, "--key", keyB, "--tx-code", tx, "--out", out)
	if !strings.Contains(got, "received 2 credential(s)") {
		t.Fatalf("wallet receive printed %q", got)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	creds := strings.Fields(string(b))
	if len(creds) != 2 {
		t.Fatalf("%d credentials in %s, want 2", len(creds), out)
	}
	for i, c := range []struct{ cred, key, did string }{{creds[0], keyA, didA}, {creds[1], keyB, didB}} {
		res, code := ts.presentAndVerifyStatus(t, dir, c.cred, c.key, true)
		if code != 0 || res.Claims["sub"] != c.did {
			t.Fatalf("credential %d: verify exit %d, sub %v (want %s): %+v", i, code, res.Claims["sub"], c.did, res)
		}
	}
	// The second credential's key cannot present the first.
	if _, code := ts.presentAndVerifyStatus(t, dir, creds[0], keyB, false); code == 0 {
		t.Fatal("another key presented a credential bound to its proof's key")
	}

	fail := func(name, wantStderr string, args ...string) {
		t.Helper()
		_, errOut, code := run(t, dir, append([]string{"wallet", "receive"}, args...)...)
		if code == 0 || !strings.Contains(errOut, wantStderr) {
			t.Fatalf("%s: exit %d, stderr %q, want it to name %s", name, code, errOut, wantStderr)
		}
	}
	fail("offer reused", "pre_authorized_code_used", link, "--key", keyA, "--tx-code", tx, "--out", out)
	o2 := ts.createOffer(t, token, true)
	fail("wrong tx code", "tx_code_wrong", o2["offer_link"].(string), "--key", keyA, "--tx-code", "wrong", "--out", out)
	fail("missing tx code", "give --tx-code", o2["offer_link"].(string), "--key", keyA, "--out", out)
	fail("not an offer", "the offer", "https://example.com/?x=1", "--key", keyA, "--out", out)
}
