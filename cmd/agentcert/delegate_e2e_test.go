package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/verifier"
)

// TestDelegationEndToEnd: the server certifies an agent; the agent hands
// one task to a sub-agent, which hands part of it to another; the last one
// presents the chain; `agentcert verify` (offline and through POST
// /v1/verify) shows every hop and authorizes against the last one; widening
// is refused at delegation time; revoking the root refuses the chain.
func TestDelegationEndToEnd(t *testing.T) {
	dir := t.TempDir()
	ts, issuerTok, auditor := startWithTokens(t, dir, "AGENTCERT_VERIFIER_MAX_STATUS_AGE=0s", "AGENTCERT_STATUS_TTL=1s")
	agentDID := mustRun(t, dir, "did", "create", "--method", "key", "--alg", "EdDSA", "--out", "agent.jwk")
	subDID := mustRun(t, dir, "did", "create", "--method", "jwk", "--alg", "ES256", "--out", "sub.jwk")
	sub2DID := mustRun(t, dir, "did", "create", "--method", "key", "--alg", "ES256", "--out", "sub2.jwk")

	var cred issuer.Issued
	ts.Call(http.MethodPost, "/v1/credentials", issuerTok, map[string]any{"subject": agentDID, "claims": demoClaims()}, http.StatusCreated, &cred)
	write(t, filepath.Join(dir, "cred.txt"), cred.Credential)

	hop1 := mustRun(t, dir, "delegate", "--credential", "cred.txt", "--key", "agent.jwk", "--to", subDID,
		"--permission", `{"action":"invoices:read"}`, "--permission", `{"action":"invoices:list"}`,
		"--ttl", "15m", "--task-id", "T-7", "--purpose", "January invoices")
	if strings.Count(hop1, "~~") != 1 || !strings.HasSuffix(hop1, "~") {
		t.Fatalf("hop 1 is not a dSD-JWT: %s", hop1)
	}
	write(t, filepath.Join(dir, "hop1.txt"), hop1)
	hop2 := mustRun(t, dir, "delegate", "--credential", "hop1.txt", "--key", "sub.jwk", "--to", sub2DID,
		"--permission", `{"action":"invoices:read"}`, "--prohibit", "invoices:list", "--ttl", "10m", "--task-id", "T-7.1")
	write(t, filepath.Join(dir, "hop2.txt"), hop2)

	// Widening is refused before anything is signed.
	for perm, code := range map[string]string{
		`{"action":"payments:initiate"}`:                           "delegation_widened",
		`{"action":"invoices:*"}`:                                  "delegation_widened",
		`{"action":"invoices:read","constraints":{"max_count":1}}`: "unknown_constraint",
	} {
		out, errOut, exit := run(t, dir, "delegate", "--credential", "hop1.txt", "--key", "sub.jwk", "--to", sub2DID, "--permission", perm, "--ttl", "5m")
		if exit != 2 || !strings.Contains(errOut, code) || out != "" {
			t.Fatalf("delegate %s: exit %d, stdout %q, stderr %q, want %s", perm, exit, out, errOut, code)
		}
	}
	if _, errOut, exit := run(t, dir, "delegate", "--credential", "hop1.txt", "--key", "sub.jwk", "--to", sub2DID, "--permission", `{"action":"invoices:read"}`, "--ttl", "16m"); exit != 2 || !strings.Contains(errOut, "delegation_outlives_parent") {
		t.Fatalf("a hop outliving its parent: exit %d %s", exit, errOut)
	}
	if _, errOut, exit := run(t, dir, "delegate", "--credential", "hop1.txt", "--key", "agent.jwk", "--to", sub2DID, "--permission", `{"action":"invoices:read"}`, "--ttl", "1m"); exit != 2 || !strings.Contains(errOut, "not the holder key") {
		t.Fatalf("delegating with the wrong key: exit %d %s", exit, errOut)
	}

	const aud = "https://invoices.example"
	pres := mustRun(t, dir, "present", "--credential", "hop2.txt", "--key", "sub2.jwk", "--aud", aud, "--nonce", "n-42")
	write(t, filepath.Join(dir, "pres.txt"), pres)

	// inspect decodes the chain hop by hop (nothing verified).
	out := mustRun(t, dir, "inspect", "hop2.txt")
	for _, want := range []string{"kind:        delegation chain (dSD-JWT: 2 hops, no final KB-JWT)", "sub:         " + agentDID,
		"hop 1:       typ kb+sd-jwt+kb\n  delegator:    " + agentDID + "\n  delegate:     " + subDID + "\n  link:         sd_hash matches",
		"hop 2:       typ kb+sd-jwt+kb (this position requires kb+sd-jwt)\n  delegator:    " + subDID + "\n  delegate:     " + sub2DID,
		`  task:         {"id":"T-7","purpose":"January invoices"}`, `  permissions:  [{"action":"invoices:read"}]`, `  prohibitions: ["payments:initiate","invoices:list"]`,
		"key binding: none"} {
		if !strings.Contains(out, want) {
			t.Fatalf("inspect hop2.txt: no %q in\n%s", want, out)
		}
	}
	var insp struct {
		Kind string `json:"kind"`
		Hops []struct {
			Sub    string         `json:"sub"`
			Claims map[string]any `json:"claims"`
		} `json:"hops"`
		KeyBinding map[string]any `json:"key_binding"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, dir, "inspect", "pres.txt", "--json")), &insp); err != nil || insp.Kind != "delegation_presentation" || len(insp.Hops) != 2 || insp.Hops[1].Sub != sub2DID || insp.KeyBinding["sd_hash_matches"] != true {
		t.Fatalf("inspect --json pres.txt: %v %+v", err, insp)
	}

	var exit int
	// Offline, with the server's status list, and through POST /v1/verify.
	offline := []string{"verify", "--presentation", "pres.txt", "--aud", aud, "--nonce", "n-42", "--config", ts.Config, "--trust", ts.IssuerDID}
	remote := []string{"verify", "--presentation", "pres.txt", "--aud", aud, "--nonce", "n-42", "--server", ts.URL}
	for _, args := range [][]string{offline, remote} {
		out = mustRun(t, dir, append(args, "--action", "invoices:read")...)
		for _, want := range []string{"VERIFIED", "action:  invoices:read ALLOWED", "status:  valid", "hop 1:   " + subDID + " task T-7 (January invoices)", "hop 2:   " + sub2DID + " task T-7.1", `effective permissions: [{"action":"invoices:read"}]`} {
			if !strings.Contains(out, want) {
				t.Fatalf("%v: no %q in\n%s", args, want, out)
			}
		}
		// The root may list invoices; the last hop may not.
		out, _, exit = run(t, dir, append(args, "--action", "invoices:list", "--json")...)
		var res verifier.Result
		if err := json.Unmarshal([]byte(out), &res); err != nil || exit != 1 || !res.Verified || res.Decision.Code != "action_prohibited" || len(res.Chain) != 2 || res.Subject != agentDID {
			t.Fatalf("%v invoices:list: exit %d %+v (%v)", args, exit, res, err)
		}
	}

	// A tampered chain: the second hop re-signed by the agent is refused.
	parts := strings.Split(pres, "~~")
	other := mustRun(t, dir, "delegate", "--credential", "cred.txt", "--key", "agent.jwk", "--to", sub2DID, "--permission", `{"action":"invoices:read"}`, "--ttl", "5m")
	spliced := strings.Join([]string{parts[0], strings.Split(hop1, "~~")[1][:len(strings.Split(hop1, "~~")[1])-1], strings.Split(other, "~~")[1]}, "~~")
	write(t, filepath.Join(dir, "spliced.txt"), spliced+"x.y.z")
	write(t, filepath.Join(dir, "spliced-chain.txt"), spliced)
	if out := mustRun(t, dir, "inspect", "spliced-chain.txt"); !strings.Contains(out, "hop 2:") || !strings.Contains(out, "sd_hash DOES NOT match the component before") {
		t.Fatalf("inspect of a spliced chain:\n%s", out)
	}
	out, _, exit = run(t, dir, "verify", "--presentation", "spliced.txt", "--aud", aud, "--nonce", "n-42", "--server", ts.URL)
	if exit != 1 || !strings.Contains(out, "NOT VERIFIED: delegation_bad_signature: delegation hop 2") {
		t.Fatalf("spliced chain: exit %d %s", exit, out)
	}

	// Revoking the root certification refuses every chain built on it.
	if status, body := ts.Do(http.MethodPost, "/v1/credentials/"+cred.ID+"/revoke", auditor, map[string]any{"reason": "key_compromise", "incident": "INC-9"}); status != http.StatusOK {
		t.Fatalf("revoke: %d %s", status, body)
	}
	for _, args := range [][]string{remote, offline} {
		out, _, exit := run(t, dir, args...)
		if exit != 1 || !strings.Contains(out, "NOT VERIFIED: revoked") {
			t.Fatalf("%v after revocation: exit %d\n%s", args, exit, out)
		}
	}
	_ = os.Remove(filepath.Join(dir, "pres.txt"))
}
