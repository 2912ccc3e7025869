package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/testbin"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

var (
	binPath    string // the agentcert binary, built once in TestMain
	interopDir string // testdata/interop, absolute
	nodePath   string // empty when node is not installed
)

func TestMain(m *testing.M) {
	root, err := filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	interopDir = filepath.Join(root, "testdata", "interop")
	nodePath, _ = exec.LookPath("node")
	testbin.Main(m, &binPath)
}

// requireNode skips when node is absent and fails when the pinned packages
// are not installed.
func requireNode(t *testing.T) {
	t.Helper()
	if nodePath == "" {
		t.Skip("node is not installed: the sd-jwt-js interop tests need node 20+ and `npm ci` in testdata/interop")
	}
	if _, err := os.Stat(filepath.Join(interopDir, "node_modules", "@sd-jwt", "sd-jwt-vc")); err != nil {
		t.Fatalf("sd-jwt-js is not installed: run `npm ci` in testdata/interop (%v)", err)
	}
}

// node runs one sdjwt-tool.mjs command with req as its JSON input and
// decodes its JSON answer into out.
func node(t *testing.T, cmd string, req, out any) {
	t.Helper()
	nodeScript(t, "sdjwt-tool.mjs", cmd, req, out)
}

// nodeScript runs one command of a tool script in testdata/interop.
func nodeScript(t *testing.T, script, cmd string, req, out any) {
	t.Helper()
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(nodePath, script, cmd)
	c.Dir = interopDir
	c.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("node %s %s: %v\nstderr: %s", script, cmd, err, stderr.String())
	}
	dec := json.NewDecoder(&stdout)
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("node %s %s: answer: %v", script, cmd, err)
	}
}

// jsVerdict is the answer of sdjwt-tool.mjs verify.
type jsVerdict struct {
	Library struct {
		OK      bool           `json:"ok"`
		Error   string         `json:"error"`
		Payload map[string]any `json:"payload"`
		KB      map[string]any `json:"kb"`
	} `json:"library"`
	Harness struct {
		OK     bool     `json:"ok"`
		Errors []string `json:"errors"`
	} `json:"harness"`
}

// run runs the agentcert binary in dir and returns stdout, stderr and the
// exit code.
func run(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	return testbin.Run(t, binPath, dir, nil, args...)
}

func mustRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return testbin.MustRun(t, binPath, dir, nil, args...)
}

// verifyResult is what `agentcert verify --json` and POST /v1/verify answer.
type verifyResult struct {
	Verified bool           `json:"verified"`
	Issuer   string         `json:"issuer"`
	Subject  string         `json:"subject"`
	VCT      string         `json:"vct"`
	Claims   map[string]any `json:"claims"`
	Decision *struct {
		Allowed bool `json:"allowed"`
	} `json:"decision"`
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (r verifyResult) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Code
}

// agentcertVerify runs `agentcert verify --json` on a presentation.
func agentcertVerify(t *testing.T, dir, presentation string, args ...string) verifyResult {
	t.Helper()
	f := filepath.Join(dir, fmt.Sprintf("pres-%d.txt", time.Now().UnixNano()))
	writeFile(t, f, presentation)
	out, errOut, code := run(t, dir, append([]string{"verify", "--presentation", f, "--json"}, args...)...)
	var res verifyResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("agentcert verify: exit %d, output %q, stderr %q: %v", code, out, errOut, err)
	}
	if (code == 0) != res.Verified || (code != 0 && code != 1) {
		t.Fatalf("agentcert verify: exit %d with verified=%v\n%s", code, res.Verified, errOut)
	}
	return res
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// readKey reads a JWK file written by `agentcert did create`.
func readKey(t *testing.T, path string) jwk.Key {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.ParseKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// server is one running `agentcert serve` (see testbin.Server).
type server struct {
	*testbin.Server
}

// startServer starts `agentcert serve` on a free loopback port with a
// temporary data directory and a config made of the common part (log level
// warn, fetches allowed to 127.0.0.1) plus extra (YAML sections). It is
// stopped with SIGTERM when the test ends.
func startServer(t *testing.T, extra string) *server {
	t.Helper()
	return &server{testbin.StartServer(t, binPath, t.TempDir(), testbin.ServerOptions{
		LogLevel: "warn",
		Config:   "fetch:\n  allow_hosts: [127.0.0.1]\n" + extra,
		NoIssuer: strings.Contains(extra, "issuer:\n  enabled: false\n"),
	})}
}

// call sends a JSON request and decodes the JSON answer into out (a
// *string takes the body as it is); it returns the HTTP status.
func (s *server) call(t *testing.T, method, path, token string, body, out any) int {
	t.Helper()
	status, _, b, err := s.TryDo(method, path, token, body, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if out != nil {
		if s, ok := out.(*string); ok {
			*s = string(b)
		} else if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, status, b, err)
		}
	}
	return status
}

// token creates an API token with the given role.
func (s *server) token(t *testing.T, role string) string {
	t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	if st := s.call(t, http.MethodPost, "/v1/admin/tokens", s.AdminToken, map[string]string{"role": role, "name": "interop-" + role}, &out); st != http.StatusCreated || out.Token == "" {
		t.Fatalf("create %s token: HTTP %d", role, st)
	}
	return out.Token
}
