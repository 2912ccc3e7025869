package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/verifier"
)

// verifyWithDevConfig presents cred and verifies it with the shipped
// configs/dev.yaml (whose fetch allow-list lets the CLI resolve the test
// server's did:web and fetch its status list over plain http).
func verifyWithDevConfig(t *testing.T, ts *testServer, dir, cred, agentKey string) (verifier.Result, int) {
	t.Helper()
	f, err := createTemp(dir, "cred-*.txt", cred)
	if err != nil {
		t.Fatal(err)
	}
	pres := mustRun(t, dir, "present", "--credential", f, "--key", agentKey, "--aud", testVerifierAud, "--nonce", "n-dev", "--disclose-all")
	p, err := createTemp(dir, "pres-*.txt", pres)
	if err != nil {
		t.Fatal(err)
	}
	devYAML, err := filepath.Abs("../../configs/dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, dir, "verify", "--config", devYAML, "--presentation", p,
		"--aud", testVerifierAud, "--nonce", "n-dev", "--trust", ts.IssuerDID, "--json")
	var res verifier.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("verify --json: %v\n%s\n%s", err, out, errOut)
	}
	return res, code
}

// TestCLIKeysRotateAndRetire: the keys commands work on a stopped server's
// data directory; a rotation keeps old credentials verifying, a retirement
// stops them, and a data directory refuses keys for another DID.
func TestCLIKeysRotateAndRetire(t *testing.T) {
	s := startIssued(t)
	ts, dir, tok, agent, agentKey, old := s.testServer, s.Dir, s.Token, s.Agent, s.AgentKey, s.Cred
	oldKID := headerKID(t, old.Credential)
	res, code := verifyWithDevConfig(t, ts, dir, old.Credential, agentKey)
	if code != 0 || !res.Verified || res.Status.Value != "valid" {
		t.Fatalf("verify with configs/dev.yaml: exit %d %+v", code, res)
	}
	if err := ts.Stop(); err != nil {
		t.Fatal(err)
	}

	// Without the server's public URL the command would mint keys for
	// did:web:127.0.0.1%3A8080 into this issuer's directory: refused.
	if _, errOut, code := run(t, dir, "keys", "rotate", "--data-dir", dir); code == 0 || !strings.Contains(errOut, "holds keys of "+ts.IssuerDID) {
		t.Fatalf("rotate for another DID: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := run(t, dir, "keys", "rotate", "--data-dir", dir+"/typo", "--public-url", ts.URL); code != 2 || !strings.Contains(errOut, "no agentcert database") {
		t.Fatalf("rotate in a mistyped directory: exit %d, stderr %q", code, errOut)
	}
	newKID := mustRun(t, dir, "keys", "rotate", "--config", ts.Config, "--alg", "EdDSA")
	if !strings.HasPrefix(newKID, ts.IssuerDID+"#") || newKID == oldKID {
		t.Fatalf("rotate printed %q (old %s)", newKID, oldKID)
	}
	ts.Restart()
	fresh := ts.issue(t, tok, issueRequest(agent))
	if kid := headerKID(t, fresh.Credential); kid != newKID {
		t.Fatalf("after rotation and restart the kid is %s, want %s", kid, newKID)
	}
	if res, code := verifyWithDevConfig(t, ts, dir, old.Credential, agentKey); code != 0 || !res.Verified {
		t.Fatalf("a credential signed before the rotation: exit %d %+v", code, res.Error)
	}

	if err := ts.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, dir, "keys", "retire", newKID, "--config", ts.Config); code == 0 || !strings.Contains(errOut, "conflict") {
		t.Fatalf("retiring the active key: exit %d, stderr %q", code, errOut)
	}
	mustRun(t, dir, "keys", "retire", oldKID, "--config", ts.Config)
	ts.Restart()
	if res, code := verifyWithDevConfig(t, ts, dir, old.Credential, agentKey); code != 1 || res.Verified || res.Code() != "key_not_found" {
		t.Fatalf("a credential of a retired key: exit %d %+v", code, res.Error)
	}
	if res, code := verifyWithDevConfig(t, ts, dir, fresh.Credential, agentKey); code != 0 || !res.Verified {
		t.Fatalf("a credential of the active key: exit %d %+v", code, res.Error)
	}
}
