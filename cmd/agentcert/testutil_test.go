package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/problem"
)

// Helpers shared by the end-to-end tests that run `agentcert serve` (binPath,
// built once in TestMain) on a free loopback port with a temporary data
// directory.

// testServer is one running `agentcert serve` process.
type testServer struct {
	t       *testing.T
	DataDir string
	Config  string // the YAML config file the server runs with (also usable by verify --config)
	Addr    string // 127.0.0.1:PORT
	URL     string // http://127.0.0.1:PORT
	// AdminToken is the bootstrap admin token printed on the first start.
	AdminToken string
	// IssuerDID is the issuer DID the server printed.
	IssuerDID string

	env    []string
	client *http.Client

	mu     sync.Mutex
	cmd    *exec.Cmd
	stdout *lockedBuffer
	stderr *lockedBuffer
	exited chan struct{}
	exit   error // the Wait error, once exited is closed
}

// serverStartTimeout bounds how long a start may take before the test fails.
const serverStartTimeout = 60 * time.Second

// startServer writes a config into dataDir (listen and public_url on a free
// loopback port, data_dir, status.ttl 2s) and starts the server with it.
// extraEnv entries ("KEY=VALUE", e.g. AGENTCERT_HTTP_MAX_BODY_BYTES=4096) are
// added to the server's environment, on every (re)start. It returns once the
// server has printed "listening on" and answers /healthz. The server is
// stopped with SIGTERM at the end of the test.
func startServer(t *testing.T, dataDir string, extraEnv ...string) *testServer {
	t.Helper()
	ts := &testServer{
		t: t, DataDir: dataDir, Config: filepath.Join(dataDir, "agentcert-test.yaml"),
		env:    append(os.Environ(), extraEnv...),
		client: &http.Client{Timeout: 30 * time.Second},
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("pick a port: %v", err)
		}
		ts.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		ts.URL = "http://" + ts.Addr
		ts.writeConfig()
		if lastErr = ts.launch(); lastErr == nil {
			break
		}
		if !errors.Is(lastErr, errAddrInUse) {
			t.Fatalf("start server: %v", lastErr)
		}
	}
	if lastErr != nil {
		t.Fatalf("start server: %v", lastErr)
	}
	servers.Store(dataDir, ts)
	t.Cleanup(func() {
		servers.Delete(dataDir)
		ts.mu.Lock()
		running := ts.cmd != nil && !ts.hasExited()
		ts.mu.Unlock()
		if running {
			_ = ts.stop()
		}
		if t.Failed() {
			t.Logf("server stderr:\n%s", ts.stderrText())
		}
	})
	return ts
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (ts *testServer) writeConfig() {
	ts.t.Helper()
	cfg := fmt.Sprintf("listen: %s\npublic_url: %s\ndata_dir: %s\nlog_level: info\nstatus:\n  ttl: 2s\n", ts.Addr, ts.URL, ts.DataDir)
	if err := os.WriteFile(ts.Config, []byte(cfg), 0o600); err != nil {
		ts.t.Fatal(err)
	}
}

var errAddrInUse = errors.New("address already in use")

// launch starts the process and waits until it serves.
func (ts *testServer) launch() error {
	cmd := exec.Command(binPath, "serve", "--config", ts.Config)
	cmd.Env = ts.env
	cmd.Dir = ts.DataDir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	errBuf := &lockedBuffer{}
	cmd.Stderr = errBuf
	if err := cmd.Start(); err != nil {
		return err
	}
	outBuf := &lockedBuffer{}
	listening := make(chan struct{})
	exited := make(chan struct{})
	ts.mu.Lock()
	ts.cmd, ts.stdout, ts.stderr, ts.exited = cmd, outBuf, errBuf, exited
	ts.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			outBuf.WriteString(line + "\n")
			if !signalled && strings.HasPrefix(line, "listening on ") {
				signalled = true
				close(listening)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		err := cmd.Wait()
		ts.mu.Lock()
		ts.exit = err
		ts.mu.Unlock()
		close(exited)
	}()
	select {
	case <-listening:
	case <-exited:
		if strings.Contains(errBuf.String(), "address already in use") {
			return errAddrInUse
		}
		return fmt.Errorf("server exited before listening: %v\nstdout: %s\nstderr: %s", ts.exitErr(), outBuf.String(), errBuf.String())
	case <-time.After(serverStartTimeout):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("server did not listen within %s\nstderr: %s", serverStartTimeout, errBuf.String())
	}
	out := outBuf.String()
	if tok := lineValue(out, "bootstrap admin token (shown once, store it now): "); tok != "" {
		ts.AdminToken = tok
	}
	did := lineValue(out, "issuer DID: ")
	if did == "" {
		return fmt.Errorf("server printed no issuer DID:\n%s", out)
	}
	if ts.IssuerDID != "" && did != ts.IssuerDID {
		return fmt.Errorf("issuer DID changed from %s to %s", ts.IssuerDID, did)
	}
	ts.IssuerDID = did
	if got := lineValue(out, "listening on "); got != ts.URL {
		return fmt.Errorf("server listens on %q, want %q", got, ts.URL)
	}
	if status, _ := ts.do(http.MethodGet, "/healthz", "", nil); status != http.StatusOK {
		return fmt.Errorf("/healthz answered %d", status)
	}
	return nil
}

// lineValue returns the rest of the first line of out starting with prefix.
func lineValue(out, prefix string) string {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (ts *testServer) hasExited() bool {
	select {
	case <-ts.exited:
		return true
	default:
		return false
	}
}

func (ts *testServer) exitErr() error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.exit
}

func (ts *testServer) stderrText() string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.stderr == nil {
		return ""
	}
	return ts.stderr.String()
}

// signal sends sig to the server process.
func (ts *testServer) signal(sig os.Signal) {
	ts.t.Helper()
	ts.mu.Lock()
	cmd := ts.cmd
	ts.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		ts.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits for the process to exit and returns its exit code (-1 when it
// was killed by a signal).
func (ts *testServer) wait() int {
	ts.t.Helper()
	select {
	case <-ts.exited:
	case <-time.After(serverStartTimeout):
		ts.t.Fatalf("server did not exit within %s", serverStartTimeout)
	}
	err := ts.exitErr()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		ts.t.Fatalf("wait: %v", err)
	}
	return 0
}

// stop sends SIGTERM and waits for the exit; it returns an error unless the
// server exited with status 0.
func (ts *testServer) stop() error {
	ts.signal(syscall.SIGTERM)
	if code := ts.wait(); code != 0 {
		return fmt.Errorf("server exited with %d after SIGTERM", code)
	}
	return nil
}

// kill ends the server with SIGKILL (no chance to clean up) and waits.
func (ts *testServer) kill() {
	ts.t.Helper()
	ts.signal(syscall.SIGKILL)
	ts.wait()
}

// restart stops the server gracefully (unless it has already exited) and
// starts it again on the same port with the same data directory, config
// and environment. The same port keeps the same did:web issuer.
func (ts *testServer) restart() {
	ts.t.Helper()
	if !ts.hasExited() {
		if err := ts.stop(); err != nil {
			ts.t.Fatal(err)
		}
	}
	ts.client.CloseIdleConnections() // keep-alive connections to the old process are dead
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = ts.launch(); !errors.Is(err, errAddrInUse) {
			break
		}
		time.Sleep(250 * time.Millisecond) // the port is still held; try again
	}
	if err != nil {
		ts.t.Fatalf("restart: %v", err)
	}
}

// do sends a request and returns the status and body. body may be nil, a
// []byte or string (sent as is), or any value (sent as JSON). token, when
// not empty, is sent as a bearer token.
func (ts *testServer) do(method, path, token string, body any) (int, []byte) {
	status, _, b := ts.doHeaders(method, path, token, body, nil)
	return status, b
}

// doHeaders is do with extra request headers, also returning the response headers.
func (ts *testServer) doHeaders(method, path, token string, body any, hdr map[string]string) (int, http.Header, []byte) {
	ts.t.Helper()
	status, h, b, err := ts.tryDo(method, path, token, body, hdr)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	return status, h, b
}

// tryDo is doHeaders that returns transport errors instead of failing the
// test, so it may be used from other goroutines and while the server dies.
func (ts *testServer) tryDo(method, path, token string, body any, hdr map[string]string) (int, http.Header, []byte, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("encode body: %w", err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, ts.URL+path, r)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read body: %w", err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

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
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.cmd == nil || ts.hasExited() {
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

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
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
