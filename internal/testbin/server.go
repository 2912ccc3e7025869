package testbin

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

	"github.com/agentcert/agentcert/internal/testkit"
)

// StartTimeout bounds how long a start, or an exit once asked for, may take
// before the test fails.
const StartTimeout = 60 * time.Second

// ErrAddrInUse is StartProc's error when the process exited because its
// port was taken (another process picked it since FreePort).
var ErrAddrInUse = errors.New("address already in use")

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Proc is one running process of a serving command (`agentcert serve`),
// started by StartProc. Its output is kept for the test to read.
type Proc struct {
	cmd    *exec.Cmd
	stdout testkit.Buffer
	stderr testkit.Buffer
	exited chan struct{}
	exit   error // the Wait error; read only once exited is closed
}

// StartProc starts bin with args in dir (env nil: the test's environment)
// and returns once it has printed a line starting with "listening on ". It
// returns ErrAddrInUse when the process exited because its port was taken;
// the caller ends the process (Stop, Kill).
func StartProc(bin, dir string, env []string, args ...string) (*Proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	p := &Proc{cmd: cmd, exited: make(chan struct{})}
	cmd.Stderr = &p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			p.stdout.WriteString(line + "\n")
			if !signalled && strings.HasPrefix(line, "listening on ") {
				signalled = true
				close(listening)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.exit = cmd.Wait()
		close(p.exited)
	}()
	select {
	case <-listening:
		return p, nil
	case <-p.exited:
		if strings.Contains(p.Stderr(), "address already in use") {
			return nil, fmt.Errorf("%w: %s", ErrAddrInUse, p.Stderr())
		}
		return nil, fmt.Errorf("%s exited before listening: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), p.exit, p.Stdout(), p.Stderr())
	case <-time.After(StartTimeout):
		_ = cmd.Process.Kill()
		<-p.exited
		return nil, fmt.Errorf("%s did not listen within %s\nstderr: %s", strings.Join(args, " "), StartTimeout, p.Stderr())
	}
}

// Stdout is what the process printed on stdout so far.
func (p *Proc) Stdout() string { return p.stdout.String() }

// Stderr is what the process printed on stderr so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Value returns the rest (trimmed) of the first stdout line starting with
// prefix, or "".
func (p *Proc) Value(prefix string) string {
	for _, line := range strings.Split(p.Stdout(), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// ExitErr is the process's Wait error once it has exited (nil before).
func (p *Proc) ExitErr() error {
	if !p.Exited() {
		return nil
	}
	return p.exit
}

// Signal sends sig to the process (not an error once it has ended).
func (p *Proc) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %v: %w", sig, err)
	}
	return nil
}

// Wait waits up to StartTimeout for the process to exit and returns its
// exit code (-1 when a signal killed it). When it does not exit in time it
// is killed and Wait returns an error.
func (p *Proc) Wait() (int, error) {
	select {
	case <-p.exited:
	case <-time.After(StartTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return 0, fmt.Errorf("process did not exit within %s", StartTimeout)
	}
	var ee *exec.ExitError
	if errors.As(p.exit, &ee) {
		return ee.ExitCode(), nil
	}
	if p.exit != nil {
		return 0, fmt.Errorf("wait: %w", p.exit)
	}
	return 0, nil
}

// Stop sends sig and waits for the exit; it returns an error unless the
// process exited with status 0.
func (p *Proc) Stop(sig os.Signal) error {
	if err := p.Signal(sig); err != nil {
		return err
	}
	code, err := p.Wait()
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("exited with %d after %v", code, sig)
	}
	return nil
}

// ServerOptions shape the config and environment StartServer runs with.
type ServerOptions struct {
	// LogLevel is the log_level of the config ("info" when empty).
	LogLevel string
	// Config is YAML (whole sections) added after the listen, public_url,
	// data_dir and log_level lines the server is given.
	Config string
	// Env entries ("KEY=VALUE") are added to the test's environment on
	// every (re)start.
	Env []string
	// NoIssuer says the config disables the issuer, so the server prints
	// no issuer DID (otherwise a start that prints none fails).
	NoIssuer bool
	// CPUs, when set, is a taskset(1) CPU list the server runs on ("0":
	// one CPU, as in a container limited to one), on every (re)start.
	CPUs string
}

// Server is one running `agentcert serve` on a free loopback port with a
// config StartServer writes; it can be stopped, killed and restarted on the
// same port and data directory.
type Server struct {
	t       testing.TB
	bin     string
	opts    ServerOptions
	env     []string
	client  *http.Client
	DataDir string
	Config  string // the YAML config file the server runs with (also usable by verify --config)
	Addr    string // 127.0.0.1:PORT
	URL     string // http://127.0.0.1:PORT
	// AdminToken is the bootstrap admin token printed on the first start.
	AdminToken string
	// IssuerDID is the issuer DID the server printed.
	IssuerDID string

	mu   sync.Mutex
	proc *Proc
}

// StartServer writes a config into dataDir (listen and public_url on a free
// loopback port, data_dir, log_level, then opts.Config) and starts bin
// serve with it. It returns once the server has printed "listening on" and
// answers /healthz. The server is stopped with SIGTERM at the end of the
// test, and its stderr logged when the test failed.
func StartServer(t testing.TB, bin, dataDir string, opts ServerOptions) *Server {
	t.Helper()
	if opts.LogLevel == "" {
		opts.LogLevel = "info"
	}
	ts := &Server{
		t: t, bin: bin, opts: opts, DataDir: dataDir, Config: filepath.Join(dataDir, "agentcert-test.yaml"),
		env:    append(os.Environ(), opts.Env...),
		client: &http.Client{Timeout: 30 * time.Second},
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			t.Fatalf("pick a port: %v", err)
		}
		ts.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		ts.URL = "http://" + ts.Addr
		ts.WriteConfig()
		if lastErr = ts.launch(); lastErr == nil {
			break
		}
		if !errors.Is(lastErr, ErrAddrInUse) {
			t.Fatalf("start server: %v", lastErr)
		}
	}
	if lastErr != nil {
		t.Fatalf("start server: %v", lastErr)
	}
	t.Cleanup(func() {
		if !ts.Exited() {
			_ = ts.Stop()
		}
		if t.Failed() {
			t.Logf("server stderr:\n%s", ts.Stderr())
		}
	})
	return ts
}

// WriteConfig (re)writes the config file from the server's address and
// data directory.
func (ts *Server) WriteConfig() {
	ts.t.Helper()
	cfg := fmt.Sprintf("listen: %s\npublic_url: %s\ndata_dir: %s\nlog_level: %s\n%s", ts.Addr, ts.URL, ts.DataDir, ts.opts.LogLevel, ts.opts.Config)
	if err := os.WriteFile(ts.Config, []byte(cfg), 0o600); err != nil {
		ts.t.Fatal(err)
	}
}

// launch starts the process and waits until it serves.
func (ts *Server) launch() error {
	bin, args := ts.bin, []string{"serve", "--config", ts.Config}
	if ts.opts.CPUs != "" {
		bin, args = "taskset", append([]string{"-c", ts.opts.CPUs, ts.bin}, args...)
	}
	p, err := StartProc(bin, ts.DataDir, ts.env, args...)
	if err != nil {
		return err
	}
	ts.mu.Lock()
	ts.proc = p
	ts.mu.Unlock()
	if tok := p.Value("bootstrap admin token (shown once, store it now): "); tok != "" {
		ts.AdminToken = tok
	}
	did := p.Value("issuer DID: ")
	if did == "" && !ts.opts.NoIssuer {
		return fmt.Errorf("server printed no issuer DID:\n%s", p.Stdout())
	}
	if ts.IssuerDID != "" && did != ts.IssuerDID {
		return fmt.Errorf("issuer DID changed from %s to %s", ts.IssuerDID, did)
	}
	ts.IssuerDID = did
	if got := p.Value("listening on "); got != ts.URL {
		return fmt.Errorf("server listens on %q, want %q", got, ts.URL)
	}
	if status, _, _, err := ts.TryDo(http.MethodGet, "/healthz", "", nil, nil); err != nil || status != http.StatusOK {
		return fmt.Errorf("/healthz answered %d (%v)", status, err)
	}
	return nil
}

func (ts *Server) current() *Proc {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.proc
}

// Env is the environment the server runs with.
func (ts *Server) Env() []string { return ts.env }

// Pid is the process id of the running server.
func (ts *Server) Pid() int { return ts.current().Pid() }

// Exited reports whether the current server process has ended.
func (ts *Server) Exited() bool { return ts.current().Exited() }

// ExitErr is the current process's Wait error once it has exited.
func (ts *Server) ExitErr() error { return ts.current().ExitErr() }

// Stdout is what the current server process printed on stdout.
func (ts *Server) Stdout() string { return ts.current().Stdout() }

// Stderr is what the current server process printed on stderr.
func (ts *Server) Stderr() string { return ts.current().Stderr() }

// Signal sends sig to the server process.
func (ts *Server) Signal(sig os.Signal) {
	ts.t.Helper()
	if err := ts.current().Signal(sig); err != nil {
		ts.t.Fatal(err)
	}
}

// Wait waits for the process to exit and returns its exit code (-1 when it
// was killed by a signal).
func (ts *Server) Wait() int {
	ts.t.Helper()
	code, err := ts.current().Wait()
	if err != nil {
		ts.t.Fatalf("server: %v", err)
	}
	return code
}

// Stop sends SIGTERM and waits for the exit; it returns an error unless the
// server exited with status 0.
func (ts *Server) Stop() error {
	ts.t.Helper()
	if err := ts.current().Stop(syscall.SIGTERM); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// Kill ends the server with SIGKILL (no chance to clean up) and waits.
func (ts *Server) Kill() {
	ts.t.Helper()
	ts.Signal(syscall.SIGKILL)
	ts.Wait()
}

// Restart stops the server gracefully (unless it has already exited) and
// starts it again on the same port with the same data directory, config
// and environment. The same port keeps the same did:web issuer.
func (ts *Server) Restart() {
	ts.t.Helper()
	if !ts.Exited() {
		if err := ts.Stop(); err != nil {
			ts.t.Fatal(err)
		}
	}
	ts.client.CloseIdleConnections() // keep-alive connections to the old process are dead
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = ts.launch(); !errors.Is(err, ErrAddrInUse) {
			break
		}
		time.Sleep(250 * time.Millisecond) // the port is still held; try again
	}
	if err != nil {
		ts.t.Fatalf("restart: %v", err)
	}
}

// Do sends a request and returns the status and body. body may be nil, a
// []byte or string (sent as is), or any value (sent as JSON). token, when
// not empty, is sent as a bearer token. A transport error fails the test
// that started the server.
func (ts *Server) Do(method, path, token string, body any) (int, []byte) {
	ts.t.Helper()
	status, _, b := ts.DoHeaders(method, path, token, body, nil)
	return status, b
}

// DoHeaders is Do with extra request headers, also returning the response
// headers.
func (ts *Server) DoHeaders(method, path, token string, body any, hdr map[string]string) (int, http.Header, []byte) {
	ts.t.Helper()
	status, h, b, err := ts.TryDo(method, path, token, body, hdr)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	return status, h, b
}

// Call is Do for a JSON API: it fails the test unless the status is want,
// and decodes the body into out (when not nil).
func (ts *Server) Call(method, path, token string, body any, want int, out any) {
	ts.t.Helper()
	status, b := ts.Do(method, path, token, body)
	if status != want {
		ts.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			ts.t.Fatalf("%s %s: answer %s: %v", method, path, b, err)
		}
	}
}

// Token creates an API token with role (and name, when not empty) through
// the admin API with the admin token admin, and returns its secret.
func (ts *Server) Token(admin, role, name string) string {
	ts.t.Helper()
	req := map[string]any{"role": role}
	if name != "" {
		req["name"] = name
	}
	var out struct {
		Token string `json:"token"`
	}
	ts.Call(http.MethodPost, "/v1/admin/tokens", admin, req, http.StatusCreated, &out)
	if out.Token == "" {
		ts.t.Fatalf("create %s token: no token in the answer", role)
	}
	return out.Token
}

// TryDo is DoHeaders that returns transport errors instead of failing the
// test, so it may be used from other goroutines and while the server dies.
func (ts *Server) TryDo(method, path, token string, body any, hdr map[string]string) (int, http.Header, []byte, error) {
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
