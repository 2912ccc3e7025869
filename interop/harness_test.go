package interop

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/testbin"
	"github.com/lestrrat-go/jwx/v2/jwa"
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
	bin, cleanup, err := testbin.Build()
	if err != nil {
		panic("build agentcert: " + err.Error())
	}
	binPath = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
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

// newES256 returns a P-256 private key with kid and alg.
func newES256(t *testing.T, kid string) jwk.Key {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.AlgorithmKey, jwa.ES256); err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	return k
}

// jwkMap renders a key (private or public) as a JSON object.
func jwkMap(t *testing.T, k jwk.Key) map[string]any {
	t.Helper()
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func publicMap(t *testing.T, k jwk.Key) map[string]any {
	t.Helper()
	pub, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return jwkMap(t, pub)
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

// server is one running `agentcert serve`.
type server struct {
	URL, Config, DataDir string
	AdminToken           string
	IssuerDID            string
}

// startServer starts `agentcert serve` on a free loopback port with a
// temporary data directory and a config made of the common part plus extra
// (YAML sections). It is stopped with SIGTERM when the test ends.
func startServer(t *testing.T, extra string) *server {
	t.Helper()
	var lastErr error
	for range 5 {
		s, err := launch(t, extra)
		if err == nil {
			return s
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("start agentcert serve: %v", lastErr)
	return nil
}

func launch(t *testing.T, extra string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &server{URL: "http://" + addr, DataDir: t.TempDir()}
	s.Config = filepath.Join(s.DataDir, "agentcert.yaml")
	cfg := fmt.Sprintf("listen: %s\npublic_url: %s\ndata_dir: %s\nlog_level: warn\nfetch:\n  allow_hosts: [127.0.0.1]\n%s",
		addr, s.URL, s.DataDir, extra)
	writeFile(t, s.Config, cfg)

	cmd := exec.Command(binPath, "serve", "--config", s.Config)
	cmd.Dir = s.DataDir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				stop()
				return nil, fmt.Errorf("agentcert serve exited before listening: %s", stderr.String())
			}
			switch {
			case strings.HasPrefix(line, "bootstrap admin token"):
				s.AdminToken = strings.TrimSpace(line[strings.LastIndex(line, ":")+1:])
			case strings.HasPrefix(line, "issuer DID: "):
				s.IssuerDID = strings.TrimPrefix(line, "issuer DID: ")
			case strings.HasPrefix(line, "listening on "):
				go func() {
					for range lines {
					}
				}()
				t.Cleanup(func() {
					stop()
					if t.Failed() {
						t.Logf("agentcert serve stderr:\n%s", stderr.String())
					}
				})
				return s, nil
			}
		case <-timeout:
			stop()
			return nil, fmt.Errorf("agentcert serve did not listen within 60s: %s", stderr.String())
		}
	}
}

// call sends a JSON request and decodes the JSON answer into out; it
// returns the HTTP status.
func (s *server) call(t *testing.T, method, path, token string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if s, ok := out.(*string); ok {
			*s = string(b)
		} else if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
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

// normalize round-trips v through JSON so that numbers compare equal
// whatever decoder produced them.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
