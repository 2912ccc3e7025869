package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/agentcert/agentcert/internal/benchreport"
)

// What the report presents and asks the verifier to decide.
const (
	audience = "https://cp.example"
	nonce    = "n1"
	action   = "invoices:read"
)

// env runs the tools of one report in a temporary directory.
type env struct {
	o   options
	tmp string
	log io.Writer
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "benchreport: "+format+"\n", args...)
}

func (e *env) bin(name string) string { return filepath.Join(e.tmp, name) }

// output runs a command in dir and returns its stdout; a failure carries
// its stderr.
func (e *env) output(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, tail(errb.String(), 2000))
	}
	return out.String(), nil
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// The test binaries the report runs, by package directory.
var testPackages = []string{"verifier", "server", "revocation"}

// build builds the two commands and the test binaries into e.tmp.
func (e *env) build(ctx context.Context) error {
	for _, c := range []string{"agentcert", "loadgen"} {
		e.logf("building %s", c)
		if _, err := e.output(ctx, e.o.root, e.o.goCmd, "build", "-o", e.bin(c), "./cmd/"+c); err != nil {
			return err
		}
	}
	for _, p := range testPackages {
		e.logf("building the %s test binary", p)
		if _, err := e.output(ctx, e.o.root, e.o.goCmd, "test", "-c", "-o", e.bin(p+".test"), "./"+p); err != nil {
			return err
		}
	}
	return nil
}

// bench runs the benchmarks of pkg matching pattern for n iterations each,
// from the package's directory as go test would, and parses the output.
func (e *env) bench(ctx context.Context, pkg, pattern string, n int) (*benchreport.BenchOutput, error) {
	e.logf("go test -bench '%s' -benchtime %dx ./%s", pattern, n, pkg)
	args := []string{"-test.run", "^$", "-test.bench", pattern, "-test.benchtime", fmt.Sprintf("%dx", n), "-test.benchmem", "-test.timeout", "20m"}
	out, err := e.output(ctx, filepath.Join(e.o.root, pkg), e.bin(pkg+".test"), args...)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, tail(out, 4000))
	}
	res, err := benchreport.ParseBench(strings.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("./%s: %w", pkg, err)
	}
	if len(res.Failed) > 0 {
		return nil, fmt.Errorf("./%s: benchmarks failed: %v\n%s", pkg, res.Failed, tail(out, 4000))
	}
	if len(res.Results) == 0 {
		return nil, fmt.Errorf("./%s: no benchmark matched %s:\n%s", pkg, pattern, tail(out, 4000))
	}
	return res, nil
}

// server is a running `agentcert serve`.
type server struct {
	url, admin string
	cmd        *exec.Cmd
	done       chan struct{}
	errLog     string
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

const bootstrapPrefix = "bootstrap admin token (shown once, store it now): "

// startServer starts agentcert serve with a fresh data directory and waits
// for its "listening on" line.
func (e *env) startServer(ctx context.Context) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(e.tmp, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	cfg := filepath.Join(e.tmp, "config.yaml")
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	conf := fmt.Sprintf("listen: 127.0.0.1:%d\npublic_url: %s\ndata_dir: %s\nlog_level: warn\n", port, url, data)
	if e.o.verifySlots > 0 {
		conf += fmt.Sprintf("http:\n  admission:\n    verify:\n      max_concurrent: %d\n", e.o.verifySlots)
	}
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	s := &server{url: url, done: make(chan struct{}), errLog: filepath.Join(e.tmp, "serve.err")}
	errFile, err := os.Create(s.errLog)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(e.bin("agentcert"), "serve", "--config", cfg)
	s.cmd.Dir = e.tmp
	s.cmd.Stderr = errFile
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		errFile.Close()
		return nil, err
	}
	e.logf("starting agentcert serve on %s", url)
	if err := s.cmd.Start(); err != nil {
		errFile.Close()
		return nil, err
	}
	ready := make(chan error, 1)
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, bootstrapPrefix); ok {
				s.admin = strings.TrimSpace(v)
			}
			if strings.HasPrefix(line, "listening on ") {
				once.Do(func() {
					if s.admin == "" {
						ready <- errors.New("agentcert serve printed no bootstrap admin token")
					} else {
						ready <- nil
					}
				})
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		once.Do(func() { ready <- errors.New("agentcert serve stopped before listening") })
	}()
	go func() {
		_ = s.cmd.Wait()
		errFile.Close()
		close(s.done)
	}()
	select {
	case err = <-ready:
	case <-time.After(2 * time.Minute):
		err = errors.New("agentcert serve did not listen within 2 minutes")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		s.stop(e.log)
		b, _ := os.ReadFile(s.errLog)
		return nil, fmt.Errorf("%w: %s", err, tail(string(b), 2000))
	}
	if e.o.verifySlots > 0 {
		got, err := s.verifySlots(ctx)
		if err == nil && got != e.o.verifySlots {
			err = fmt.Errorf("the server reports %d verify slots, -verify-slots is %d", got, e.o.verifySlots)
		}
		if err != nil {
			s.stop(e.log)
			return nil, err
		}
	}
	return s, nil
}

// verifySlotsMetric is the series of the verify class's slots in /metrics.
const verifySlotsMetric = `agentcert_admission_max_concurrent{class="verify"} `

// verifySlots reads the verify class's slots from the server's /metrics.
func (s *server) verifySlots(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read the verify slots: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), verifySlotsMetric); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("read the verify slots: %q: %w", v, err)
			}
			return int(n), nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read the verify slots: %w", err)
	}
	return 0, errors.New("read the verify slots: /metrics has no " + strings.TrimSpace(verifySlotsMetric))
}

// stop asks the server to shut down (SIGTERM) and kills it if it has not
// within 30 seconds.
func (s *server) stop(log io.Writer) {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		fmt.Fprintln(log, "benchreport: agentcert serve did not stop; killing it")
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// call sends a JSON request with a bearer token and decodes the answer
// into out; any status but want is an error.
func (s *server) call(ctx context.Context, path, bearer string, body any, want int, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: HTTP %d: %s", path, resp.StatusCode, tail(string(rb), 1000))
	}
	if err := json.Unmarshal(rb, out); err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	return nil
}

// token creates a token of role with the bootstrap admin token.
func (s *server) token(ctx context.Context, role string) (string, error) {
	var r struct {
		Token string `json:"token"`
	}
	if err := s.call(ctx, "/v1/admin/tokens", s.admin, map[string]string{"role": role, "name": "bench-report"}, http.StatusCreated, &r); err != nil {
		return "", err
	}
	if r.Token == "" {
		return "", errors.New("POST /v1/admin/tokens: no token in the answer")
	}
	return r.Token, nil
}

// credential creates an ES256 agent key (agent.jwk) and has the server
// issue it a credential (credential.txt): three permissions, each
// selectively disclosable.
func (e *env) credential(ctx context.Context, s *server, issuerToken string) error {
	keyFile := filepath.Join(e.tmp, "agent.jwk")
	out, err := e.output(ctx, e.tmp, e.bin("agentcert"), "did", "create", "--method", "key", "--alg", "ES256", "--out", keyFile)
	if err != nil {
		return err
	}
	req := map[string]any{
		"subject":                 strings.TrimSpace(out),
		"valid_for":               "24h",
		"selectively_disclosable": []string{"/permissions/*"},
		"claims": map[string]any{
			"principal":   map[string]any{"id": "did:web:acme.example", "name": "ACME", "type": "organization"},
			"agent":       map[string]any{"class": "ap-assistant", "version": "1.4.0"},
			"permissions": []any{map[string]any{"action": "invoices:read"}, map[string]any{"action": "invoices:list"}, map[string]any{"action": "payments:initiate", "constraints": map[string]any{"max_amount": 500, "currency": "EUR"}}},
			"autonomy":    "supervised",
		},
	}
	var r struct {
		Credential string `json:"credential"`
	}
	if err := s.call(ctx, "/v1/credentials", issuerToken, req, http.StatusCreated, &r); err != nil {
		return err
	}
	if r.Credential == "" {
		return errors.New("POST /v1/credentials: no credential in the answer")
	}
	return os.WriteFile(filepath.Join(e.tmp, "credential.txt"), []byte(r.Credential+"\n"), 0o600)
}

// present writes a presentation of the credential (the first permission
// disclosed, a KB-JWT made now) and returns its file.
func (e *env) present(ctx context.Context) (string, error) {
	out, err := e.output(ctx, e.tmp, e.bin("agentcert"), "present", "--credential", filepath.Join(e.tmp, "credential.txt"),
		"--key", filepath.Join(e.tmp, "agent.jwk"), "--aud", audience, "--nonce", nonce, "--disclose", "/permissions/0")
	if err != nil {
		return "", err
	}
	file := filepath.Join(e.tmp, "presentation.txt")
	return file, os.WriteFile(file, []byte(strings.TrimSpace(out)+"\n"), 0o600)
}

// loadgen runs loadgen -json against s and parses its report, kept as
// <name>.json in e.tmp. Exit status 1 (some requests failed) still gives a
// report; the caller judges it.
func (e *env) loadgen(ctx context.Context, s *server, name string, args []string) (*benchreport.Load, error) {
	args = append([]string{"-url", s.url, "-json"}, args...)
	e.logf("loadgen %s", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, e.bin("loadgen"), args...)
	cmd.Dir = e.tmp
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		return nil, fmt.Errorf("loadgen %s: %w: %s", name, err, tail(errb.String(), 2000))
	}
	_ = os.WriteFile(filepath.Join(e.tmp, name+".json"), out.Bytes(), 0o600)
	l, err := benchreport.ParseLoadgen(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("loadgen %s: %w: %s", name, err, tail(errb.String(), 2000))
	}
	if t := l.Trouble(); t != "" {
		e.logf("loadgen %s: %s", name, t)
	}
	return l, nil
}
