package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
)

// cliVerify runs `agentcert verify --json args...` in dir and returns the
// exit code and, for exits 0 and 1, the decoded result.
func cliVerify(t *testing.T, dir string, args ...string) (int, *verifier.Result) {
	t.Helper()
	out, errOut, code := run(t, dir, append([]string{"verify", "--json"}, args...)...)
	if code != 0 && code != 1 {
		return code, nil
	}
	var res verifier.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("verify %v: exit %d, output is not a JSON result: %v\nstdout: %s\nstderr: %s", args, code, err, out, errOut)
	}
	if (code == 0) != res.Allowed() {
		t.Fatalf("verify %v: exit %d disagrees with the result %+v", args, code, res)
	}
	return code, &res
}

// firstCode is the error code of res ("" when there is none).
func firstCode(res *verifier.Result) string {
	if res == nil {
		return ""
	}
	return string(res.Code())
}

// wantVerify runs cliVerify and checks the exit code and first error code
// (exit 0 and no code when want is "").
func wantVerify(t *testing.T, dir, want string, args ...string) *verifier.Result {
	t.Helper()
	code, res := cliVerify(t, dir, args...)
	wantExit := 0
	if want != "" {
		wantExit = 1
	}
	if code != wantExit || firstCode(res) != want {
		t.Errorf("verify %v: exit %d code %q, want exit %d code %q (result %+v)", args, code, firstCode(res), wantExit, want, res)
	}
	return res
}

// cliSetup creates an issuer (did:key, ES256) and an agent (did:jwk,
// EdDSA) key in a new directory with demoClaims in claims.json.
func cliSetup(t *testing.T) (dir, issuerDID, agentDID string) {
	t.Helper()
	dir = t.TempDir()
	issuerDID = mustRun(t, dir, "did", "create", "--method", "key", "--alg", "ES256", "--out", "issuer.jwk")
	agentDID = mustRun(t, dir, "did", "create", "--method", "jwk", "--alg", "EdDSA", "--out", "agent.jwk")
	b, _ := json.Marshal(demoClaims())
	write(t, filepath.Join(dir, "claims.json"), string(b))
	return dir, issuerDID, agentDID
}

const cliAud, cliNonce = "https://verifier.example", "n-1"

// TestCLIVerifyIssuerJWK: --issuer-jwk pins the issuer key, whatever iss
// says, for the credential and for its status list.
func TestCLIVerifyIssuerJWK(t *testing.T) {
	dir, _, agentDID := cliSetup(t)
	const iss = "https://unrelated.example/issuer"
	cred := mustRun(t, dir, "issue", "--key", "issuer.jwk", "--claims", "claims.json", "--sd", "/permissions/*", "--holder", agentDID, "--iss", iss)
	write(t, filepath.Join(dir, "cred.txt"), cred)
	write(t, filepath.Join(dir, "pres.txt"), mustRun(t, dir, "present", "--credential", "cred.txt", "--key", "agent.jwk", "--aud", cliAud, "--nonce", cliNonce, "--disclose-all"))

	// The pinned key as a public JWK file.
	priv, err := keyutil.ReadPrivateFile(filepath.Join(dir, "issuer.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := keyutil.Public(priv)
	if b, err := keyutil.Marshal(pub); err != nil {
		t.Fatal(err)
	} else {
		write(t, filepath.Join(dir, "issuer.pub.jwk"), string(b))
	}
	mustRun(t, dir, "did", "create", "--method", "key", "--out", "wrong.jwk")

	common := []string{"--presentation", "pres.txt", "--aud", cliAud, "--nonce", cliNonce, "--no-status"}
	res := wantVerify(t, dir, "", append(common, "--issuer-jwk", "issuer.pub.jwk")...)
	if res != nil && res.Issuer != iss {
		t.Errorf("issuer %q, want %q", res.Issuer, iss)
	}
	wantVerify(t, dir, "", append(common, "--issuer-jwk", "issuer.jwk")...) // a private JWK file is reduced to its public key
	wantVerify(t, dir, "bad_signature", append(common, "--issuer-jwk", "wrong.jwk")...)
	if _, _, code := run(t, dir, append([]string{"verify"}, append(common, "--issuer-jwk", "missing.jwk")...)...); code != 2 {
		t.Errorf("--issuer-jwk of a missing file: exit %d, want 2", code)
	}

	// The status list is verified with the pinned key too.
	claims := demoClaims()
	srv := httptest.NewUnstartedServer(nil)
	uri := "http://" + srv.Listener.Addr().String() + "/lists/1"
	claims["status"] = map[string]any{"status_list": map[string]any{"idx": 3, "uri": uri}}
	b, _ := json.Marshal(claims)
	write(t, filepath.Join(dir, "claims-status.json"), string(b))
	l, err := revocation.NewList(16, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Set(3, revocation.StatusRevoked); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := revocation.SignToken(l, revocation.TokenClaims{Subject: uri, Issuer: iss, IssuedAt: now, Expires: now.Add(time.Hour)}, priv)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/statuslist+jwt")
		_, _ = w.Write([]byte(tok))
	})
	srv.Start()
	defer srv.Close()
	cred = mustRun(t, dir, "issue", "--key", "issuer.jwk", "--claims", "claims-status.json", "--holder", agentDID, "--iss", iss)
	write(t, filepath.Join(dir, "cred-status.txt"), cred)
	write(t, filepath.Join(dir, "pres-status.txt"), mustRun(t, dir, "present", "--credential", "cred-status.txt", "--key", "agent.jwk", "--aud", cliAud, "--nonce", cliNonce))
	wantVerify(t, dir, "revoked", "--presentation", "pres-status.txt", "--aud", cliAud, "--nonce", cliNonce, "--issuer-jwk", "issuer.pub.jwk")
}

// TestCLIVerifyNow: --now moves the verifier's clock.
func TestCLIVerifyNow(t *testing.T) {
	dir, issuerDID, agentDID := cliSetup(t)
	cred := mustRun(t, dir, "issue", "--key", "issuer.jwk", "--claims", "claims.json", "--holder", agentDID, "--ttl", "1h")
	write(t, filepath.Join(dir, "cred.txt"), cred)
	write(t, filepath.Join(dir, "pres.txt"), mustRun(t, dir, "present", "--credential", "cred.txt", "--key", "agent.jwk", "--aud", cliAud, "--nonce", cliNonce))
	common := []string{"--presentation", "pres.txt", "--aud", cliAud, "--nonce", cliNonce, "--no-status", "--trust", issuerDID}
	at := func(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }
	for _, tc := range []struct {
		now, want string
	}{
		{at(time.Minute), ""},
		{at(2 * time.Hour), "expired"},
		{at(-2 * time.Hour), "not_yet_valid"},
	} {
		wantVerify(t, dir, tc.want, append(common, "--now", tc.now)...)
	}
	if _, _, code := run(t, dir, append([]string{"verify"}, append(common, "--now", "yesterday")...)...); code != 2 {
		t.Errorf("--now yesterday: exit %d, want 2", code)
	}
}

// TestCLIVerifyMaxKBAge: --max-kb-age bounds the KB-JWT's age (plus the
// config's 30s leeway).
func TestCLIVerifyMaxKBAge(t *testing.T) {
	dir, issuerDID, agentDID := cliSetup(t)
	cred := mustRun(t, dir, "issue", "--key", "issuer.jwk", "--claims", "claims.json", "--holder", agentDID)
	agentKey, err := keyutil.ReadPrivateFile(filepath.Join(dir, "agent.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	pres, err := sdjwt.Present(cred, []string{""}, &sdjwt.KBOptions{Key: agentKey, Audience: cliAud, Nonce: cliNonce, IssuedAt: time.Now().Add(-5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "pres.txt"), pres)
	common := []string{"--presentation", "pres.txt", "--aud", cliAud, "--nonce", cliNonce, "--no-status", "--trust", issuerDID}
	wantVerify(t, dir, "kb_stale", append(common, "--max-kb-age", "1m")...)
	wantVerify(t, dir, "", append(common, "--max-kb-age", "10m")...)
	for _, bad := range []string{"soon", "0s", "-1m"} {
		if _, _, code := run(t, dir, append([]string{"verify"}, append(common, "--max-kb-age", bad)...)...); code != 2 {
			t.Errorf("--max-kb-age %s: exit %d, want 2", bad, code)
		}
	}
}

// TestCLIVerifyNoKB: a presentation without KB-JWT verifies with --no-kb
// only.
func TestCLIVerifyNoKB(t *testing.T) {
	dir, issuerDID, agentDID := cliSetup(t)
	cred := mustRun(t, dir, "issue", "--key", "issuer.jwk", "--claims", "claims.json", "--holder", agentDID, "--sd", "/permissions/*")
	pres, err := sdjwt.Present(cred, []string{""}, nil)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "pres.txt"), pres)
	wantVerify(t, dir, "", "--presentation", "pres.txt", "--no-kb", "--no-status", "--trust", issuerDID)
	wantVerify(t, dir, "kb_missing", "--presentation", "pres.txt", "--aud", cliAud, "--nonce", cliNonce, "--no-status", "--trust", issuerDID)
	if _, errOut, code := run(t, dir, "verify", "--presentation", "pres.txt", "--no-status", "--trust", issuerDID); code != 2 || errOut == "" {
		t.Errorf("neither --no-kb nor --aud/--nonce: exit %d, want 2 with a message", code)
	}
}

// TestCLIPresentDiscloseAll: --disclose-all reveals every disclosure, at
// every level; --disclose only the ones named.
func TestCLIPresentDiscloseAll(t *testing.T) {
	dir, issuerDID, agentDID := cliSetup(t)
	cred := mustRun(t, dir, "issue", "--key", "issuer.jwk", "--claims", "claims.json", "--holder", agentDID,
		"--sd", "/permissions/*", "--sd", "/principal/name", "--sd", "/agent/model")
	write(t, filepath.Join(dir, "cred.txt"), cred)
	if n := strings.Count(cred, "~") - 1; n < 5 {
		t.Fatalf("credential has %d disclosures, want at least 5", n)
	}
	for _, tc := range []struct {
		args        []string
		perms       int
		name, model bool
	}{
		{[]string{"--disclose-all"}, 3, true, true},
		{[]string{"--disclose", "/permissions/1"}, 1, false, false},
	} {
		pres := mustRun(t, dir, append([]string{"present", "--credential", "cred.txt", "--key", "agent.jwk", "--aud", cliAud, "--nonce", cliNonce}, tc.args...)...)
		write(t, filepath.Join(dir, "pres.txt"), pres)
		res := wantVerify(t, dir, "", "--presentation", "pres.txt", "--aud", cliAud, "--nonce", cliNonce, "--no-status", "--trust", issuerDID)
		if res == nil {
			continue
		}
		perms, _ := res.Claims["permissions"].([]any)
		principal, _ := res.Claims["principal"].(map[string]any)
		agent, _ := res.Claims["agent"].(map[string]any)
		_, name := principal["name"]
		_, model := agent["model"]
		if len(perms) != tc.perms || name != tc.name || model != tc.model {
			t.Errorf("%v: %d permissions, principal.name %v, agent.model %v; want %d, %v, %v", tc.args, len(perms), name, model, tc.perms, tc.name, tc.model)
		}
	}
}

// TestCLIIssueFlags: --iss, --vct and --ttl end up in the claims.
func TestCLIIssueFlags(t *testing.T) {
	dir, _, agentDID := cliSetup(t)
	const iss, vct = "https://issuer.example/tenants/7", "urn:example:test-credential:v1"
	cred := mustRun(t, dir, "issue", "--key", "issuer.jwk", "--claims", "claims.json", "--holder", agentDID, "--iss", iss, "--vct", vct, "--ttl", "1h")
	p := testkit.JWTPayload(t, cred)
	iat, _ := p["iat"].(float64)
	exp, _ := p["exp"].(float64)
	nbf, _ := p["nbf"].(float64)
	if p["iss"] != iss || p["vct"] != vct || p["sub"] != agentDID || exp-iat != 3600 || nbf != iat || iat == 0 {
		t.Errorf("claims iss %v vct %v sub %v iat %v nbf %v exp %v; want %s, %s, %s, exp-iat 3600, nbf = iat", p["iss"], p["vct"], p["sub"], iat, nbf, exp, iss, vct, agentDID)
	}
	if cnf, _ := p["cnf"].(map[string]any); cnf["jwk"] == nil {
		t.Errorf("no cnf.jwk in %v", p)
	}
	write(t, filepath.Join(dir, "cred.txt"), cred)
	write(t, filepath.Join(dir, "pres.txt"), mustRun(t, dir, "present", "--credential", "cred.txt", "--key", "agent.jwk", "--aud", cliAud, "--nonce", cliNonce))
	res := wantVerify(t, dir, "", "--presentation", "pres.txt", "--aud", cliAud, "--nonce", cliNonce, "--no-status", "--issuer-jwk", "issuer.jwk")
	if res != nil && (res.Issuer != iss || res.VCT != vct) {
		t.Errorf("verified issuer %q vct %q, want %q %q", res.Issuer, res.VCT, iss, vct)
	}

	// The defaults: iss from the key's DID, the agent certification vct, 24h.
	issuerDID := strings.TrimSpace(mustRun(t, dir, "did", "create", "--method", "key", "--out", "issuer2.jwk"))
	p = testkit.JWTPayload(t, mustRun(t, dir, "issue", "--key", "issuer2.jwk", "--claims", "claims.json", "--holder", agentDID))
	iat, _ = p["iat"].(float64)
	exp, _ = p["exp"].(float64)
	if p["iss"] != issuerDID || p["vct"] != "urn:agentcert:agent-certification:v1" || exp-iat != 86400 {
		t.Errorf("default claims iss %v vct %v exp-iat %v", p["iss"], p["vct"], exp-iat)
	}
	for _, ttl := range []string{"0s", "-1h", "an hour"} {
		if _, _, code := run(t, dir, "issue", "--key", "issuer.jwk", "--claims", "claims.json", "--ttl", ttl); code != 2 {
			t.Errorf("--ttl %s: exit %d, want 2", ttl, code)
		}
	}
}

// TestCLIDIDResolve: did resolve prints the document of a did:key and a
// did:jwk; a malformed DID is a usage error (2) and a did:web that cannot
// be fetched a failure (1), each with one line on stderr.
func TestCLIDIDResolve(t *testing.T) {
	dir := t.TempDir()
	for _, method := range []string{"key", "jwk"} {
		for _, alg := range []string{"ES256", "EdDSA"} {
			id := mustRun(t, dir, "did", "create", "--method", method, "--alg", alg, "--out", method+"-"+alg+".jwk")
			out := mustRun(t, dir, "did", "resolve", id)
			var doc map[string]any
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("did resolve %s: %v\n%s", id, err, out)
			}
			vms, _ := doc["verificationMethod"].([]any)
			if doc["id"] != id || len(vms) == 0 {
				t.Errorf("did resolve %s: id %v, %d verification methods", id, doc["id"], len(vms))
			}
		}
	}
	closed, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		did  string
		exit int
	}{
		{"notadid", 2},
		{"did:key:", 2},
		{fmt.Sprintf("did:web:127.0.0.1%%3A%d", closed), 1},
	} {
		out, errOut, code := run(t, dir, "did", "resolve", tc.did)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if code != tc.exit || out != "" || strings.TrimSpace(errOut) == "" || len(lines) != 1 {
			t.Errorf("did resolve %s: exit %d, stdout %q, stderr %q; want exit %d, no output, one line on stderr", tc.did, code, out, errOut, tc.exit)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("did resolve wrote files: %v", entries)
	}
}
