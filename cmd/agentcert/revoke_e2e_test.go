package main

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/internal/testbin"
	"github.com/agentcert/agentcert/issuer"
)

// End-to-end tests of `agentcert revoke|suspend|reinstate` and `agentcert
// status check` against a running `agentcert serve` (testutil_test.go).

// runRevokeCLI runs the binary with env added to an environment that has
// no AGENTCERT_TOKEN, and returns stdout, stderr and the exit code.
func runRevokeCLI(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	var all []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, tokenEnv+"=") {
			all = append(all, kv)
		}
	}
	return testbin.Run(t, binPath, dir, append(all, env...), args...)
}

// issueForRevoke issues a credential for a fresh agent DID with token.
func issueForRevoke(t *testing.T, ts *testServer, token string) issuer.Issued {
	t.Helper()
	_, agent, err := createDIDKey("key", "EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	var out issuer.Issued
	ts.Call(http.MethodPost, "/v1/credentials", token, map[string]any{"subject": agent, "claims": demoClaims()}, http.StatusCreated, &out)
	return out
}

func TestCLIRevokeAndStatusCheck(t *testing.T) {
	dir := t.TempDir()
	ts, issuerA, auditor := startWithTokens(t, dir)
	issuerB := issueToken(t, dir, "issuer")
	a := issueForRevoke(t, ts, issuerA)
	b := issueForRevoke(t, ts, issuerA)
	srv := []string{"--server", ts.URL}
	idx := func(c issuer.Issued) string { return strconv.Itoa(c.Status.Idx) }

	// status check: valid, with iat/exp, and says where the issuer came from.
	out, errOut, code := runRevokeCLI(t, dir, nil, "status", "check", a.Status.URI, idx(a), "--config", ts.Config)
	if code != 0 || !strings.HasPrefix(out, "valid\n") || !strings.Contains(out, "iat:") || !strings.Contains(out, "exp:") ||
		!strings.Contains(out, "issuer:  "+ts.IssuerDID+" (taken from the token itself") {
		t.Fatalf("status check: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runRevokeCLI(t, dir, nil, "status", "check", a.Status.URI, idx(a), "--config", ts.Config, "--issuer", ts.IssuerDID)
	if code != 0 || !strings.HasPrefix(out, "valid\n") || !strings.Contains(out, "(as required by --issuer)") {
		t.Fatalf("status check --issuer: exit %d\n%s%s", code, out, errOut)
	}

	// revoke with --token: exit 0, the record on stdout.
	out, errOut, code = runRevokeCLI(t, dir, nil, append([]string{"revoke", a.ID, "--reason", "key_compromise", "--incident", "INC-1", "--note", "key leaked", "--token", auditor}, srv...)...)
	if code != 0 {
		t.Fatalf("revoke: exit %d\n%s%s", code, out, errOut)
	}
	var rec struct {
		ID, Status     string
		StatusReason   string            `json:"status_reason"`
		StatusIncident string            `json:"status_incident"`
		StatusNote     string            `json:"status_note"`
		StatusList     struct{ Idx int } `json:"status_list"`
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("revoke output: %v\n%s", err, out)
	}
	if rec.ID != a.ID || rec.Status != "revoked" || rec.StatusReason != "key_compromise" || rec.StatusIncident != "INC-1" || rec.StatusNote != "key leaked" || rec.StatusList.Idx != a.Status.Idx {
		t.Fatalf("revoke record %+v", rec)
	}
	out, _, code = runRevokeCLI(t, dir, nil, "status", "check", a.Status.URI, idx(a), "--config", ts.Config)
	if code != 1 || !strings.HasPrefix(out, "revoked\n") {
		t.Fatalf("status check after revoke: exit %d\n%s", code, out)
	}

	// The token from the environment: the issuer suspends its own
	// credential, only the auditor reinstates it.
	for _, step := range []struct {
		action, want, token string
		exit                int
	}{
		{"suspend", "suspended", issuerA, 1},
		{"reinstate", "valid", auditor, 0},
	} {
		env := []string{tokenEnv + "=" + step.token}
		out, errOut, code = runRevokeCLI(t, dir, env, append([]string{step.action, b.ID, "--reason", "incident"}, srv...)...)
		if code != 0 || !strings.Contains(out, `"status": "`+step.want+`"`) {
			t.Fatalf("%s: exit %d\n%s%s", step.action, code, out, errOut)
		}
		out, _, code = runRevokeCLI(t, dir, nil, "status", "check", b.Status.URI, idx(b), "--config", ts.Config, "--issuer", ts.IssuerDID)
		if code != step.exit || !strings.HasPrefix(out, step.want+"\n") {
			t.Fatalf("status check after %s: exit %d, want %d\n%s", step.action, code, step.exit, out)
		}
	}

	// Errors from the server: exit 1 and the problem's code on one stderr line.
	for _, tc := range []struct {
		name string
		args []string
		code string
	}{
		{"revoke again is idempotent", []string{"revoke", a.ID, "--reason", "other", "--token", auditor}, ""},
		{"reinstate revoked", []string{"reinstate", a.ID, "--reason", "other", "--token", auditor}, "conflict"},
		{"suspend revoked", []string{"suspend", a.ID, "--reason", "other", "--token", auditor}, "conflict"},
		{"other issuer", []string{"suspend", b.ID, "--reason", "other", "--token", issuerB}, "not_found"}, // another issuer's credential answers as an unknown one
		{"unknown credential", []string{"revoke", "urn:uuid:00000000-0000-4000-8000-000000000000", "--reason", "other", "--token", auditor}, "not_found"},
		{"unknown token", []string{"revoke", b.ID, "--reason", "other", "--token", "act_unknown"}, "unauthorized"},
	} {
		out, errOut, code := runRevokeCLI(t, dir, nil, append(tc.args, srv...)...)
		if tc.code == "" {
			if code != 0 || !strings.Contains(out, `"status": "revoked"`) {
				t.Errorf("%s: exit %d\n%s%s", tc.name, code, out, errOut)
			}
			continue
		}
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != 1 || out != "" || len(lines) != 1 || !strings.Contains(lines[0], "("+tc.code+")") {
			t.Errorf("%s: exit %d, want 1 with %s on one stderr line\nstdout: %s\nstderr: %s", tc.name, code, tc.code, out, errOut)
		}
	}

	// Usage errors: exit 2, nothing sent.
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no reason", []string{"revoke", b.ID, "--token", auditor}},
		{"bad reason", []string{"revoke", b.ID, "--reason", "because", "--token", auditor}},
		{"no token", []string{"revoke", b.ID, "--reason", "other"}},
		{"no ID", []string{"revoke", "--reason", "other", "--token", auditor}},
		{"bad server", []string{"suspend", b.ID, "--reason", "other", "--token", auditor, "--server", "ftp://x"}},
		{"unknown flag", []string{"reinstate", b.ID, "--reason", "other", "--token", auditor, "--force"}},
		{"bad IDX", []string{"status", "check", b.Status.URI, "-1"}},
		{"IDX not a number", []string{"status", "check", b.Status.URI, "x"}},
		{"URI not absolute", []string{"status", "check", "statuslists/1", "0"}},
		{"missing IDX", []string{"status", "check", b.Status.URI}},
	} {
		out, errOut, code := runRevokeCLI(t, dir, nil, tc.args...)
		if code != 2 {
			t.Errorf("%s: exit %d, want 2\n%s%s", tc.name, code, out, errOut)
		}
	}
	// b was never changed by the refused calls.
	out, _, code = runRevokeCLI(t, dir, nil, "status", "check", b.Status.URI, idx(b), "--config", ts.Config)
	if code != 0 || !strings.HasPrefix(out, "valid\n") {
		t.Errorf("b after refused calls: exit %d\n%s", code, out)
	}

	// A config without the dev allow-list: plain http to 127.0.0.1 is refused.
	strict, err := createTemp(dir, "strict-*.yaml", "fetch:\n  allow_hosts: []\n")
	if err != nil {
		t.Fatal(err)
	}

	// status check failures: exit 1, "unverifiable", the code on stderr.
	for _, tc := range []struct {
		name string
		args []string
		code string
	}{
		{"index past the list", []string{b.Status.URI, "131072", "--config", ts.Config}, "status_invalid"},
		{"no such list", []string{ts.URL + "/statuslists/nosuchlist", "0", "--config", ts.Config}, "fetch_failed"},
		{"wrong issuer", []string{b.Status.URI, idx(b), "--config", ts.Config, "--issuer", "did:web:issuer.example"}, "key_not_found"},
		{"not a status list", []string{ts.URL + "/healthz", "0", "--config", ts.Config}, "status_invalid"},
		{"guarded address", []string{"http://10.0.0.1/statuslists/x", "0", "--config", ts.Config}, "fetch_refused"},
		{"no allow-list", []string{b.Status.URI, idx(b), "--config", strict}, "fetch_refused"},
	} {
		out, errOut, code := runRevokeCLI(t, dir, nil, append([]string{"status", "check"}, tc.args...)...)
		if code != 1 || out != "unverifiable\n" || !strings.Contains(errOut, tc.code) {
			t.Errorf("%s: exit %d, want 1 with %s\nstdout: %s\nstderr: %s", tc.name, code, tc.code, out, errOut)
		}
	}
}
