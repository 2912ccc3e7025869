package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestServeStartFailureExitCodes: a start that fails on something outside
// the configuration (the database not reachable yet, the listen address
// taken) exits 1, which systemd restarts (Restart=on-failure); exit 2
// (RestartPreventExitStatus) is kept for a configuration it refuses. The
// bootstrap admin token is made by the first start that serves, not by one
// that failed.
func TestServeStartFailureExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kek := "AGENTCERT_KEY_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 32))

	// PostgreSQL not (yet) listening: nothing answers on a port just freed.
	closed, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runEnv(t, dir, []string{kek, fmt.Sprintf("AGENTCERT_STORE_URL=postgres://agentcert:pw@127.0.0.1:%d/agentcert", closed)},
		"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--data-dir", filepath.Join(dir, "pg"))
	if code != 1 || !strings.Contains(errOut, "connect") {
		t.Errorf("serve with its database unreachable: exit %d, want 1: %s", code, errOut)
	}

	// The listen address is taken.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := filepath.Join(dir, "busy")
	// (did:key: the data directory is then bound to no listen address.)
	didKey := "AGENTCERT_ISSUER_DID_METHOD=key"
	out, errOut, code := runEnv(t, dir, []string{didKey}, "serve", "--listen", ln.Addr().String(), "--data-dir", busy)
	if code != 1 || !strings.Contains(errOut, "listen") {
		t.Errorf("serve on a taken address: exit %d, want 1: %s", code, errOut)
	}
	// The failed start made no bootstrap token: the start that serves does.
	if strings.Contains(out, "bootstrap admin token") {
		t.Errorf("a start that failed printed the bootstrap admin token: %s", out)
	}
	if ts := startServer(t, busy, didKey); ts.AdminToken == "" {
		t.Errorf("the first start that serves printed no bootstrap admin token")
	}

	// A refused configuration still exits 2.
	_, errOut, code = runEnv(t, dir, []string{"AGENTCERT_STORE_URL=mysql://db/agentcert"}, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--data-dir", filepath.Join(dir, "bad"))
	if code != 2 || !strings.Contains(errOut, "store.url") {
		t.Errorf("serve with a bad store.url: exit %d, want 2: %s", code, errOut)
	}
}

// TestServeShutdownTimeoutExitCode: a request still in flight when
// http.shutdown_timeout runs out makes the stop unclean: exit 1 (a
// failure), not 0, and not 2, the code of a refused configuration.
func TestServeShutdownTimeoutExitCode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ts := startServer(t, dir, "AGENTCERT_HTTP_SHUTDOWN_TIMEOUT=200ms")
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A request whose body never comes: the handler waits for it.
	fmt.Fprintf(conn, "POST /v1/verify HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n", ts.Addr)
	br := bufio.NewReader(conn)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("want 100 Continue, got %q %v", line, err)
	}
	ts.Signal(syscall.SIGTERM)
	if code := ts.Wait(); code != exitFailure || !strings.Contains(ts.Stderr(), "shutdown") {
		t.Fatalf("exit %d after a shutdown that timed out, want %d:\n%s", code, exitFailure, ts.Stderr())
	}
}
