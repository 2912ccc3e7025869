package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/internal/testbin"
	"github.com/agentcert/agentcert/verifier"
)

// Operators' and newcomers' first day: how the server starts, what the
// offline commands may do beside it, and the everyday online commands.

// runEnv is run with extra environment entries.
func runEnv(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	return testbin.Run(t, binPath, dir, append(os.Environ(), env...), args...)
}

// remoteVerify presents cred (disclosing everything) to the verifier at
// url with a nonce from its /v1/nonce (token, when set, is sent to both)
// and returns the verify --json result and exit code.
func remoteVerifyCLI(t *testing.T, dir, url, token, credFile, keyFile, action string) (verifier.Result, int) {
	t.Helper()
	status, body := httpJSON(t, http.MethodGet, url+"/v1/nonce", token, nil)
	nonce, _ := body["nonce"].(string)
	if status != 200 || nonce == "" {
		t.Fatalf("GET /v1/nonce: %d %v", status, body)
	}
	pres := mustRun(t, dir, "present", "--credential", credFile, "--key", keyFile, "--aud", testVerifierAud, "--nonce", nonce, "--disclose-all")
	p, err := createTemp(dir, "pres-*.txt", pres)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"verify", "--server", url, "--presentation", p, "--aud", testVerifierAud, "--nonce", nonce, "--json"}
	if token != "" {
		args = append(args, "--token", token)
	}
	if action != "" {
		args = append(args, "--action", action)
	}
	out, errOut, code := run(t, dir, args...)
	var res verifier.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("verify --json: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	return res, code
}

// issueCLI issues a credential for a new agent through `credentials issue`
// and returns its id, the credential file and the agent's key file.
func issueCLI(t *testing.T, dir, url, token string) (id, credFile, keyFile string) {
	t.Helper()
	agent, key := newAgent(t, dir, "agent-"+randomHex(4))
	req, err := json.Marshal(issueRequest(agent))
	if err != nil {
		t.Fatal(err)
	}
	reqFile, err := createTemp(dir, "req-*.json", string(req))
	if err != nil {
		t.Fatal(err)
	}
	credFile = filepath.Join(dir, "cred-"+randomHex(4)+".txt")
	id = mustRun(t, dir, "credentials", "issue", "--request", reqFile, "--out", credFile, "--server", url, "--token", token)
	if !strings.HasPrefix(id, "urn:uuid:") {
		t.Fatalf("credentials issue printed %q", id)
	}
	return id, credFile, key
}

// TestServeDerivesPublicURL (issue 10, defect 1): `serve --listen` on a
// loopback address without --public-url serves, and signs with, the DID of
// that address, and verifies its own credentials; a non-loopback address
// without a public URL is refused before anything is written.
func TestServeDerivesPublicURL(t *testing.T) {
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	srv := startFromConfig(t, dir, "data_dir: "+filepath.Join(dir, "data")+"\n", "--listen", addr)
	if got, want := srv.Value("issuer DID: "), "did:web:127.0.0.1%3A"+strconv.Itoa(port); got != want {
		t.Fatalf("issuer DID %q, want %q", got, want)
	}
	if srv.url != "http://"+addr {
		t.Fatalf("listening on %q", srv.url)
	}
	admin := srv.Value("bootstrap admin token (shown once, store it now): ")
	tok := mustRun(t, dir, "token", "create", "--role", "issuer", "--server", srv.url, "--token", admin)
	_, cred, key := issueCLI(t, dir, srv.url, tok)
	if res, code := remoteVerifyCLI(t, dir, srv.url, "", cred, key, ""); code != 0 || !res.Verified || res.Status.Value != "valid" {
		t.Fatalf("the server's own credential: exit %d %+v", code, res)
	}

	fresh := filepath.Join(dir, "refused")
	_, errOut, code := run(t, dir, "serve", "--listen", "0.0.0.0:"+strconv.Itoa(port+1), "--data-dir", fresh)
	if code != 2 || !strings.Contains(errOut, "public_url: is required when listen (0.0.0.0:") {
		t.Fatalf("serve on 0.0.0.0 without a public URL: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("a refused start created %s (%v)", fresh, err)
	}
}

// TestDataDirectoryLock (defect 3): while a server runs, offline commands
// that change its data directory are refused and point to the admin API, a
// second server cannot start on it, readers still work, and the online
// rotation takes effect in the running server at once.
func TestDataDirectoryLock(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	for _, args := range [][]string{
		{"keys", "rotate", "--config", ts.Config},
		{"keys", "retire", "did:web:x#y", "--config", ts.Config},
		{"token", "create", "--role", "issuer", "--data-dir", dir},
		{"token", "revoke", "tok_x", "--data-dir", dir},
		{"restore", "--from", ts.Config, "--data-dir", dir, "--force"},
	} {
		_, errOut, code := run(t, dir, args...)
		if code != 2 || !strings.Contains(errOut, "is in use by process") {
			t.Errorf("%v beside a running server: exit %d, stderr %q", args, code, errOut)
		}
		if args[0] != "restore" && !strings.Contains(errOut, "agentcert "+args[0]+" "+args[1]) || (args[0] != "restore" && !strings.Contains(errOut, "--server URL --token ADMIN_TOKEN")) {
			t.Errorf("%v: the refusal does not name the online command: %q", args, errOut)
		}
	}
	// A second server on the same directory.
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(t.TempDir(), "second.yaml")
	write(t, second, fmt.Sprintf("listen: 127.0.0.1:%d\npublic_url: %s\ndata_dir: %s\n", port, ts.URL, dir))
	if _, errOut, code := run(t, dir, "serve", "--config", second); code != 2 || !strings.Contains(errOut, "two servers never share a data directory") {
		t.Fatalf("a second server on the same data directory: exit %d, stderr %q", code, errOut)
	}
	// Readers run beside it.
	if out := mustRun(t, dir, "audit", "verify", "--data-dir", dir); !strings.HasPrefix(out, "audit log intact") {
		t.Fatalf("audit verify beside the server: %s", out)
	}
	mustRun(t, dir, "token", "list", "--data-dir", dir)

	// The online rotation: the running server signs with the new key and
	// publishes it at once.
	kid := mustRun(t, dir, "keys", "rotate", "--alg", "EdDSA", "--server", ts.URL, "--token", ts.AdminToken)
	if !strings.HasPrefix(kid, ts.IssuerDID+"#") {
		t.Fatalf("keys rotate --server printed %q", kid)
	}
	status, body := ts.Do(http.MethodGet, "/.well-known/did.json", "", nil)
	if status != 200 || !strings.Contains(string(body), kid) {
		t.Fatalf("the DID document does not list the new key %s: %s", kid, body)
	}
	tok := issueToken(t, dir, "issuer")
	agent, key := newAgent(t, dir, "agent")
	c := ts.issue(t, tok, issueRequest(agent))
	if got := headerKID(t, c.Credential); got != kid {
		t.Fatalf("a credential after the online rotation has kid %s, want %s", got, kid)
	}
	credFile, err := createTemp(dir, "cred-*.txt", c.Credential)
	if err != nil {
		t.Fatal(err)
	}
	if res, code := remoteVerifyCLI(t, dir, ts.URL, "", credFile, key, ""); code != 0 || !res.Verified {
		t.Fatalf("a credential of the new key: exit %d %+v", code, res.Error)
	}
	// Online token commands with a non-admin token are refused by the server.
	if _, errOut, code := run(t, dir, "token", "list", "--server", ts.URL, "--token", tok); code != 1 || !strings.Contains(errOut, "(forbidden)") {
		t.Fatalf("token list with an issuer token: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := run(t, dir, "token", "revoke", "tok_nope", "--server", ts.URL, "--token", ts.AdminToken); code != 1 || !strings.Contains(errOut, "(not_found)") {
		t.Fatalf("token revoke of an unknown id online: exit %d, stderr %q", code, errOut)
	}
	if err := ts.Stop(); err != nil {
		t.Fatal(err)
	}
	// Stopped: the offline commands work again, with clear errors.
	if _, errOut, code := run(t, dir, "token", "revoke", "tok_nope", "--data-dir", dir); code != 2 || !strings.Contains(errOut, "no token tok_nope") || !strings.Contains(errOut, "(not_found)") || strings.Contains(errOut, "store:") {
		t.Fatalf("token revoke of an unknown id offline: exit %d, stderr %q", code, errOut)
	}
}

// TestMissingKEKRefused (defect 4): a database holding encrypted keys
// without its key-encryption key is refused with the file's name, and no
// new key is made; a configuration without any KEK fails before a database
// file exists.
func TestMissingKEKRefused(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	if err := ts.Stop(); err != nil {
		t.Fatal(err)
	}
	kek := filepath.Join(dir, "kek.key")
	if err := os.Remove(kek); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, dir, "serve", "--config", ts.Config)
	if code != 2 || !strings.Contains(errOut, "key-encryption key file "+kek+" is missing") || !strings.Contains(errOut, "holds 1 issuer key") {
		t.Fatalf("serve without kek.key: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(kek); !os.IsNotExist(err) {
		t.Fatalf("a refused start created %s", kek)
	}

	fresh := filepath.Join(t.TempDir(), "fresh")
	cfg := filepath.Join(t.TempDir(), "nokek.yaml")
	write(t, cfg, "listen: 127.0.0.1:1\ndata_dir: "+fresh+"\nissuer: {generate_kek: false}\n")
	_, errOut, code = runEnv(t, dir, []string{"AGENTCERT_KEY_ENCRYPTION_KEY="}, "serve", "--config", cfg)
	if code != 2 || !strings.Contains(errOut, "set $AGENTCERT_KEY_ENCRYPTION_KEY") || !strings.Contains(errOut, filepath.Join(fresh, "kek.key")) {
		t.Fatalf("serve without any KEK: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(fresh, dbFile)); !os.IsNotExist(err) {
		t.Fatalf("a start that failed on configuration created the database (%v)", err)
	}
}

// TestLocalVerifierSeesStatusAtOnce (defect 2): with a 5-minute status
// ttl and max_status_age, the service's own verifier reports each change
// at the next verification; a remote verifier keeps its stated freshness.
func TestLocalVerifierSeesStatusAtOnce(t *testing.T) {
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	srv := startFromConfig(t, dir, fmt.Sprintf("listen: 127.0.0.1:%d\ndata_dir: %s\nstatus: {ttl: 5m}\nverifier: {max_status_age: 5m}\n", port, filepath.Join(dir, "data")))
	admin := srv.Value("bootstrap admin token (shown once, store it now): ")
	issuerTok := mustRun(t, dir, "token", "create", "--role", "issuer", "--server", srv.url, "--token", admin)
	auditor := mustRun(t, dir, "token", "create", "--role", "auditor", "--server", srv.url, "--token", admin)
	id, cred, key := issueCLI(t, dir, srv.url, issuerTok)
	issuerDID := srv.Value("issuer DID: ")

	// A remote verifier-only replica trusting this issuer.
	vport, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	remote := startFromConfig(t, t.TempDir(), fmt.Sprintf(`listen: 127.0.0.1:%d
issuer: {enabled: false}
verifier:
  trusted: [{issuer: "%s", vcts: [urn:agentcert:agent-certification:v1]}]
  max_status_age: 5m
`, vport, issuerDID))

	want := func(what, url, value string) verifier.Result {
		t.Helper()
		res, _ := remoteVerifyCLI(t, dir, url, "", cred, key, "")
		if res.Status.Value != value {
			t.Fatalf("%s: status %q (errors %+v), want %q", what, res.Status.Value, res.Error, value)
		}
		return res
	}
	want("before", srv.url, "valid")
	first := want("remote before", remote.url, "valid")
	for _, step := range []struct{ action, want string }{
		{"suspend", "suspended"}, {"reinstate", "valid"}, {"suspend", "suspended"},
	} {
		mustRun(t, dir, step.action, id, "--reason", "incident", "--server", srv.url, "--token", auditor)
		want("local after "+step.action, srv.url, step.want)
	}
	// The remote replica answers from its cache, and says how old it is.
	res := want("remote after the changes", remote.url, "valid")
	if res.Status.FetchedAt == nil || first.Status.FetchedAt == nil || !res.Status.FetchedAt.Equal(*first.Status.FetchedAt) {
		t.Fatalf("the remote verifier refetched: %v then %v", first.Status.FetchedAt, res.Status.FetchedAt)
	}
	mustRun(t, dir, "revoke", id, "--reason", "key_compromise", "--server", srv.url, "--token", auditor)
	if res := want("local after revoke", srv.url, "revoked"); res.Verified || res.Error == nil || res.Error.Code != "revoked" {
		t.Fatalf("after revoke: %+v", res)
	}
}

// TestShippedConfigs (defect 5): each file in configs/ starts as shipped
// (only the listen port, data directory and secrets set through the
// environment) and verifies what it should: dev and issuer verify their
// own credentials (issuer.yaml although issuer.example.com does not
// resolve), verifier.yaml writes nothing and judges by its trust list.
func TestShippedConfigs(t *testing.T) {
	kek := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	t.Run("dev", func(t *testing.T) {
		dir := t.TempDir()
		port, _ := freePort()
		srv := startFromConfigFile(t, dir, "../../configs/dev.yaml", "AGENTCERT_LISTEN=127.0.0.1:"+strconv.Itoa(port), "AGENTCERT_DATA_DIR="+filepath.Join(dir, "data"))
		if got := srv.Value("issuer DID: "); got != "did:web:127.0.0.1%3A"+strconv.Itoa(port) {
			t.Fatalf("dev issuer DID %q", got)
		}
		admin := srv.Value("bootstrap admin token (shown once, store it now): ")
		tok := mustRun(t, dir, "token", "create", "--role", "issuer", "--server", srv.url, "--token", admin)
		_, cred, key := issueCLI(t, dir, srv.url, tok)
		if res, code := remoteVerifyCLI(t, dir, srv.url, "", cred, key, "invoices:read"); code != 0 || !res.Allowed() {
			t.Fatalf("dev: exit %d %+v", code, res)
		}
	})
	t.Run("issuer", func(t *testing.T) {
		dir := t.TempDir()
		port, _ := freePort()
		srv := startFromConfigFile(t, dir, "../../configs/issuer.yaml", "AGENTCERT_LISTEN=0.0.0.0:"+strconv.Itoa(port), "AGENTCERT_DATA_DIR="+filepath.Join(dir, "data"), "AGENTCERT_KEY_ENCRYPTION_KEY="+kek)
		if srv.url != "http://0.0.0.0:"+strconv.Itoa(port) {
			t.Fatalf("issuer.yaml: listening on %q, want http://0.0.0.0:%d", srv.url, port)
		}
		if got := srv.Value("issuer DID: "); got != "did:web:issuer.example.com" {
			t.Fatalf("issuer.yaml DID %q", got)
		}
		if _, err := os.Stat(filepath.Join(dir, "data", "kek.key")); !os.IsNotExist(err) {
			t.Fatalf("issuer.yaml wrote a kek.key (%v)", err)
		}
		url := "http://127.0.0.1:" + strconv.Itoa(port)
		admin := srv.Value("bootstrap admin token (shown once, store it now): ")
		tok := mustRun(t, dir, "token", "create", "--role", "issuer", "--server", url, "--token", admin)
		_, cred, key := issueCLI(t, dir, url, tok)
		// require_token: the verifier answers only with a token.
		status, _ := httpJSON(t, http.MethodGet, url+"/v1/nonce", "", nil)
		if status != 401 {
			t.Fatalf("issuer.yaml /v1/nonce without a token: %d", status)
		}
		res, code := remoteVerifyCLI(t, dir, url, tok, cred, key, "invoices:read")
		if code != 0 || !res.Allowed() || res.Status.Value != "valid" {
			t.Fatalf("issuer.yaml verifying its own credential: exit %d %+v", code, res)
		}
	})
	t.Run("verifier", func(t *testing.T) {
		dir := t.TempDir()
		port, _ := freePort()
		srv := startFromConfigFile(t, dir, "../../configs/verifier.yaml", "AGENTCERT_LISTEN=127.0.0.1:"+strconv.Itoa(port))
		if srv.Value("issuer DID: ") != "" {
			t.Fatal("verifier.yaml started an issuer")
		}
		// A credential of an issuer it does not trust.
		other := startServer(t, t.TempDir())
		tok := issueToken(t, other.DataDir, "issuer")
		agent, key := newAgent(t, dir, "agent")
		c := other.issue(t, tok, issueRequest(agent))
		credFile, err := createTemp(dir, "cred-*.txt", c.Credential)
		if err != nil {
			t.Fatal(err)
		}
		res, code := remoteVerifyCLI(t, dir, srv.url, "", credFile, key, "")
		if code != 1 || res.Verified || res.Error == nil || res.Error.Code != "untrusted_issuer" {
			t.Fatalf("verifier.yaml with an untrusted issuer: exit %d %+v", code, res)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), "cred-") && !strings.HasPrefix(e.Name(), "pres-") && !strings.HasPrefix(e.Name(), "agent") {
				t.Errorf("verifier.yaml wrote %s", e.Name())
			}
		}
	})
}

// startFromConfigFile starts `serve --config FILE` with extra environment.
func startFromConfigFile(t *testing.T, dir, file string, env ...string) *vproc {
	t.Helper()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	return startProc(t, dir, env, "serve", "--config", abs)
}
