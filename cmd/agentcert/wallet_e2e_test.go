package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/oid4vci"
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
	var out map[string]any
	ts.Call(http.MethodPost, "/v1/offers", token, req, http.StatusCreated, &out)
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
	ts.Restart() // the offer and its code survive
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

// badProof signs an OpenID4VCI proof by hand: signer signs, the header
// carries named's public jwk and typ, the payload is claims.
func badProof(t *testing.T, signer, named jwk.Key, typ string, claims map[string]any) string {
	t.Helper()
	hdr := jws.NewHeaders()
	pub, err := keyutil.Public(named)
	if err != nil {
		t.Fatal(err)
	}
	_ = pub.Remove(jwk.KeyIDKey)
	if err := hdr.Set(jws.TypeKey, typ); err != nil {
		t.Fatal(err)
	}
	if err := hdr.Set(jws.JWKKey, pub); err != nil {
		t.Fatal(err)
	}
	var raw any
	if err := signer.Raw(&raw); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	out, err := jws.Sign(b, jws.WithKey(jwa.ES256, raw, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestOID4VCINegativesE2E sends refused credential requests to the real
// binary and checks each OAuth error and code; the refusals leave the access
// token usable, and the request that then succeeds spends it.
func TestOID4VCINegativesE2E(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	token := issueToken(t, dir, "issuer")
	o := ts.createOffer(t, token, false)
	code := o["credential_offer"].(map[string]any)["grants"].(map[string]any)[oid4vci.GrantPreAuthorizedCode].(map[string]any)["pre-authorized_code"].(string)
	st, tok := vciToken(t, ts, code, "")
	if st != 200 {
		t.Fatalf("token: %d %+v", st, tok)
	}
	newKey := func() jwk.Key {
		k, err := keyutil.Generate(jwa.ES256)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	nonce := func() string {
		_, n := vciPost(t, ts, oid4vci.NoncePath, "", nil)
		return n.CNonce
	}
	k, other := newKey(), newKey()
	claims := func(aud string) map[string]any {
		return map[string]any{"aud": aud, "iat": time.Now().Unix(), "nonce": nonce()}
	}
	good := func(k jwk.Key, n string) string {
		p, err := oid4vci.SignProof(k, ts.URL, n, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var batch []string
	for range oid4vci.DefaultBatchSize + 1 {
		batch = append(batch, good(newKey(), nonce()))
	}
	spent := nonce()
	for _, c := range []struct {
		name, oauth, code string
		proofs            []string
	}{
		{"proof signed by another key", "invalid_proof", "proof_bad_signature", []string{badProof(t, other, k, oid4vci.ProofTyp, claims(ts.URL))}},
		{"proof aud wrong", "invalid_proof", "proof_wrong_audience", []string{badProof(t, k, k, oid4vci.ProofTyp, claims("https://elsewhere.example"))}},
		{"proof typ wrong", "invalid_proof", "proof_wrong_typ", []string{badProof(t, k, k, "JWT", claims(ts.URL))}},
		{"batch over the limit", "invalid_credential_request", "too_large", batch},
		{"a foreign c_nonce", "invalid_nonce", "nonce_invalid", []string{good(k, "not-ours")}},
	} {
		st, a := vciPost(t, ts, oid4vci.CredentialPath, tok.AccessToken, map[string]any{"credential_configuration_id": "agent_certification", "proofs": map[string]any{"jwt": c.proofs}})
		if st != http.StatusBadRequest || a.Error != c.oauth || a.Code != c.code {
			t.Fatalf("%s: %d %+v, want %s / %s", c.name, st, a, c.oauth, c.code)
		}
	}
	req := map[string]any{"credential_configuration_id": "agent_certification", "proofs": map[string]any{"jwt": []string{good(k, spent)}}}
	if st, a := vciPost(t, ts, oid4vci.CredentialPath, tok.AccessToken, req); st != 200 || len(a.Credentials) != 1 {
		t.Fatalf("credential after the refusals: %d %+v", st, a)
	}
	if st, a := vciPost(t, ts, oid4vci.CredentialPath, tok.AccessToken, req); st != http.StatusUnauthorized || a.Code != "invalid_token" {
		t.Fatalf("the access token again: %d %+v", st, a)
	}
	o2 := ts.createOffer(t, token, false)
	code2 := o2["credential_offer"].(map[string]any)["grants"].(map[string]any)[oid4vci.GrantPreAuthorizedCode].(map[string]any)["pre-authorized_code"].(string)
	_, tok2 := vciToken(t, ts, code2, "")
	ts.Restart() // spent nonces and tokens survive
	req["proofs"] = map[string]any{"jwt": []string{good(other, spent)}}
	if st, a := vciPost(t, ts, oid4vci.CredentialPath, tok2.AccessToken, req); st != http.StatusBadRequest || a.Code != "nonce_replayed" {
		t.Fatalf("the spent c_nonce after a restart: %d %+v", st, a)
	}
	if st, a := vciPost(t, ts, oid4vci.CredentialPath, tok.AccessToken, req); st != http.StatusUnauthorized || a.Code != "invalid_token" {
		t.Fatalf("the used access token after a restart: %d %+v", st, a)
	}
}
