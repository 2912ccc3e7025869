package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/verifier"
)

// End-to-end tests of the defences in docs/security.md that live in the
// binary: the running service and the offline CLI.

// postVerify sends a presentation to POST /v1/verify and decodes the result.
func postVerify(t *testing.T, ts *testServer, pres, nonce string) verifier.Result {
	t.Helper()
	var res verifier.Result
	ts.Call(http.MethodPost, "/v1/verify", "", map[string]any{"presentation": pres, "audience": testVerifierAud, "nonce": nonce}, http.StatusOK, &res)
	return res
}

func firstErr(r verifier.Result) string { return string(r.Code()) }

// TestSec02Sec03NonceSingleUseOverHTTP: with the shipped dev defaults
// (require_nonce: false) a presentation bound to a nonce from GET
// /v1/nonce verifies once; the replay is nonce_replayed; and after a
// restart with the same fixed nonce_secrets it does not verify again
// (nonce_expired: the nonce's epoch died with the process).
func TestSec02Sec03NonceSingleUseOverHTTP(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString([]byte("fixed-nonce-secret-for-this-test"))
	s := startIssued(t, "AGENTCERT_VERIFIER_NONCE_SECRETS="+secret)
	ts, dir, agentKey, cred := s.testServer, s.Dir, s.AgentKey, s.Cred
	credFile, err := createTemp(dir, "cred-*.txt", cred.Credential)
	if err != nil {
		t.Fatal(err)
	}
	status, body := ts.Do(http.MethodGet, "/v1/nonce", "", nil)
	var n struct {
		Nonce string `json:"nonce"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &n) != nil || n.Nonce == "" {
		t.Fatalf("GET /v1/nonce: %d %s", status, body)
	}
	pres := mustRun(t, dir, "present", "--credential", credFile, "--key", agentKey, "--aud", testVerifierAud, "--nonce", n.Nonce, "--disclose", "/permissions/0")

	if r := postVerify(t, ts, pres, n.Nonce); !r.Verified {
		t.Fatalf("first use: %+v", r.Error)
	}
	if r := postVerify(t, ts, pres, n.Nonce); r.Verified || firstErr(r) != "nonce_replayed" {
		t.Fatalf("replay: verified=%v %+v, want nonce_replayed", r.Verified, r.Error)
	}
	if r := postVerify(t, ts, pres, ""); r.Verified || firstErr(r) != "nonce_replayed" {
		t.Fatalf("replay without naming the nonce: verified=%v %+v", r.Verified, r.Error)
	}
	ts.Restart()
	if r := postVerify(t, ts, pres, n.Nonce); r.Verified || firstErr(r) != "nonce_expired" {
		t.Fatalf("replay after a restart with the same secrets: verified=%v %+v, want nonce_expired", r.Verified, r.Error)
	}
}

// TestSec05OfflineVerifyTrustsNobodyByDefault: a self-signed credential
// granting payments:initiate is not ALLOWED by an offline verify that names
// no trusted issuer: exit 2 and the flags to give. --trust-any accepts it
// with a warning on stderr.
func TestSec05OfflineVerifyTrustsNobodyByDefault(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "did", "create", "--method", "key", "--alg", "ES256", "--out", "self.jwk")
	agent := mustRun(t, dir, "did", "create", "--method", "key", "--alg", "EdDSA", "--out", "agent.jwk")
	claims := demoClaims()
	claims["permissions"] = []any{map[string]any{"action": "payments:initiate"}}
	claims["prohibitions"] = []any{}
	b, _ := json.Marshal(claims)
	write(t, filepath.Join(dir, "claims.json"), string(b))
	write(t, filepath.Join(dir, "cred.txt"), mustRun(t, dir, "issue", "--key", "self.jwk", "--claims", "claims.json", "--holder", agent))
	write(t, filepath.Join(dir, "pres.txt"), mustRun(t, dir, "present", "--credential", "cred.txt", "--key", "agent.jwk", "--aud", cliAud, "--nonce", cliNonce, "--disclose-all"))
	common := []string{"verify", "--presentation", "pres.txt", "--aud", cliAud, "--nonce", cliNonce, "--no-status", "--action", "payments:initiate"}

	out, errOut, code := run(t, dir, common...)
	if code != 2 || strings.Contains(out, "ALLOWED") || !strings.Contains(errOut, "--trust") || !strings.Contains(errOut, "--issuer-jwk") || !strings.Contains(errOut, "--trust-any") {
		t.Fatalf("no trust flag: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	out, errOut, code = run(t, dir, append(common, "--trust-any")...)
	if code != 0 || !strings.Contains(out, "payments:initiate ALLOWED") || !strings.Contains(errOut, "warning: --trust-any") {
		t.Fatalf("--trust-any: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if _, errOut, code := run(t, dir, append(common, "--trust-any", "--trust", agent)...); code != 2 || errOut == "" {
		t.Fatalf("--trust-any with --trust: exit %d %s", code, errOut)
	}
	if _, _, code := run(t, dir, append(common, "--trust", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")...); code != 1 {
		t.Fatalf("another trusted issuer: exit %d, want 1", code)
	}
}

// TestSec06OfflineIssueValidatesSchema: the offline issue command refuses
// what the service refuses (the JSON Schema of the agentcert vct).
func TestSec06OfflineIssueValidatesSchema(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "did", "create", "--method", "key", "--out", "k.jwk")
	agent := mustRun(t, dir, "did", "create", "--method", "key", "--out", "agent.jwk")
	for name, edit := range map[string]func(map[string]any){
		"autonomy yolo": func(c map[string]any) { c["autonomy"] = "yolo" },
		"unknown constraint": func(c map[string]any) {
			c["permissions"] = []any{map[string]any{"action": "a:b", "constraints": map[string]any{"max_per_day": 3}}}
		},
		"unknown top-level claim":   func(c map[string]any) { c["superuser"] = true },
		"prohibition not an action": func(c map[string]any) { c["prohibitions"] = []any{"everything"} },
	} {
		c := demoClaims()
		edit(c)
		b, _ := json.Marshal(c)
		write(t, filepath.Join(dir, "claims.json"), string(b))
		out, errOut, code := run(t, dir, "issue", "--key", "k.jwk", "--claims", "claims.json", "--holder", agent)
		if code != 2 || out != "" || !strings.Contains(errOut, "schema_invalid") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 2 and schema_invalid", name, code, out, errOut)
		}
	}
	// A claims file with a duplicated member is refused before anything else.
	write(t, filepath.Join(dir, "claims.json"), `{"autonomy":"read-only","autonomy":"autonomous"}`)
	if _, errOut, code := run(t, dir, "issue", "--key", "k.jwk", "--claims", "claims.json", "--holder", agent); code != 2 || !strings.Contains(errOut, "twice") {
		t.Errorf("duplicate member: exit %d, stderr %q", code, errOut)
	}
}
