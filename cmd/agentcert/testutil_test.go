package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/problem"
	"github.com/agentcert/agentcert/internal/testbin"
	"github.com/agentcert/agentcert/issuer"
)

// Helpers shared by the end-to-end tests that run `agentcert serve` (binPath,
// built once in TestMain) on a free loopback port with a temporary data
// directory.

// testServer is one running `agentcert serve` process (see testbin.Server);
// the methods of the end-to-end tests are defined on it.
type testServer struct {
	*testbin.Server
}

// serverStartTimeout bounds how long a start may take before the test fails.
const serverStartTimeout = testbin.StartTimeout

// startServer writes a config into dataDir (listen and public_url on a free
// loopback port, data_dir, status.ttl 2s) and starts the server with it.
// extraEnv entries ("KEY=VALUE", e.g. AGENTCERT_HTTP_MAX_BODY_BYTES=4096) are
// added to the server's environment, on every (re)start. It returns once the
// server has printed "listening on" and answers /healthz. The server is
// stopped with SIGTERM at the end of the test.
func startServer(t *testing.T, dataDir string, extraEnv ...string) *testServer {
	t.Helper()
	return startServerOn(t, dataDir, "", extraEnv...)
}

// startServerOn is startServer with the server on the CPUs of a taskset(1)
// list (all when empty).
func startServerOn(t *testing.T, dataDir, cpus string, extraEnv ...string) *testServer {
	t.Helper()
	ts := &testServer{testbin.StartServer(t, binPath, dataDir, testbin.ServerOptions{Config: "status:\n  ttl: 2s\n", Env: extraEnv, CPUs: cpus})}
	servers.Store(dataDir, ts)
	t.Cleanup(func() { servers.Delete(dataDir) })
	return ts
}

// startWithTokens starts a server on dataDir (extraEnv as for
// startServer) and creates an issuer and an auditor API token on it.
func startWithTokens(t *testing.T, dataDir string, extraEnv ...string) (ts *testServer, issuerTok, auditorTok string) {
	t.Helper()
	ts = startServer(t, dataDir, extraEnv...)
	return ts, issueToken(t, dataDir, "issuer"), issueToken(t, dataDir, "auditor")
}

// issuedServer is a running server with an issuer token, an agent did:key
// and one credential issued to that agent (see startIssued).
type issuedServer struct {
	*testServer
	Dir      string        // the data directory
	Token    string        // an issuer API token
	Agent    string        // the agent's did:key
	AgentKey string        // the file of the agent's private JWK, in Dir
	Cred     issuer.Issued // the credential issued to Agent
}

// startIssued starts a server on a new data directory (extraEnv as for
// startServer), creates an issuer token and an agent "agent", and issues
// the agent a credential (issueRequest) through POST /v1/credentials.
func startIssued(t *testing.T, extraEnv ...string) *issuedServer {
	t.Helper()
	return startIssuedOn(t, "", extraEnv...)
}

// startIssuedOn is startIssued with the server on the CPUs of a taskset(1)
// list (all when empty).
func startIssuedOn(t *testing.T, cpus string, extraEnv ...string) *issuedServer {
	t.Helper()
	dir := t.TempDir()
	s := &issuedServer{testServer: startServerOn(t, dir, cpus, extraEnv...), Dir: dir}
	s.Token = issueToken(t, dir, "issuer")
	s.Agent, s.AgentKey = newAgent(t, dir, "agent")
	s.Cred = s.issue(t, s.Token, issueRequest(s.Agent))
	return s
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) { return testbin.FreePort() }

// issueToken creates an API token with `agentcert token create` on the data
// directory (the server may be running) and returns its secret.
func issueToken(t *testing.T, dataDir, role string) string {
	t.Helper()
	secret, _ := issueNamedToken(t, dataDir, role, "")
	return secret
}

// issueNamedToken creates a token and returns its secret and id. While a
// test server runs on dataDir the token is made through its admin API
// (the data directory is locked), otherwise on the directory itself.
func issueNamedToken(t *testing.T, dataDir, role, name string) (secret, id string) {
	t.Helper()
	if name == "" {
		name = fmt.Sprintf("%s-%d", role, time.Now().UnixNano())
	}
	where := []string{"--data-dir", dataDir}
	if ts := runningServer(dataDir); ts != nil {
		where = []string{"--server", ts.URL, "--token", ts.AdminToken}
	}
	secret = mustRun(t, dataDir, append([]string{"token", "create", "--role", role, "--name", name}, where...)...)
	if !strings.HasPrefix(secret, "act_") {
		t.Fatalf("token create printed %q", secret)
	}
	for _, line := range strings.Split(mustRun(t, dataDir, append([]string{"token", "list"}, where...)...), "\n") {
		f := strings.Split(line, "\t")
		if len(f) >= 3 && f[1] == role && f[2] == name {
			return secret, f[0]
		}
	}
	t.Fatalf("token %q not in token list", name)
	return "", ""
}

// servers maps a data directory to the test server started on it.
var servers sync.Map

// runningServer returns the test server running on dataDir, or nil.
func runningServer(dataDir string) *testServer {
	v, ok := servers.Load(dataDir)
	if !ok {
		return nil
	}
	ts := v.(*testServer)
	if ts.Exited() {
		return nil
	}
	return ts
}

// wantProblem checks that a response is problem+json with the status and code.
func wantProblem(t *testing.T, what string, status int, hdr http.Header, body []byte, wantStatus int, wantCode string) problem.Problem {
	t.Helper()
	var p problem.Problem
	if status != wantStatus {
		t.Fatalf("%s: status %d, want %d: %s", what, status, wantStatus, body)
	}
	if ct := hdr.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%s: Content-Type %q, want application/problem+json", what, ct)
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("%s: problem body: %v: %s", what, err, body)
	}
	if string(p.Code) != wantCode || p.Status != wantStatus || p.Type == "" || p.Title == "" {
		t.Fatalf("%s: problem %+v, want status %d code %s", what, p, wantStatus, wantCode)
	}
	return p
}

// createTemp writes content to a new file in dir named after pattern (see
// os.CreateTemp) and returns its path.
func createTemp(dir, pattern, content string) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return "", err
	}
	return f.Name(), f.Close()
}
