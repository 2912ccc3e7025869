package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/testkit"
)

// rawConn is one client connection that sends requests by hand, so that
// the test sees what the server does with the connection itself.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

// get sends GET path (keep-alive) and reads the answer.
func (r *rawConn) get(path string) *http.Response {
	r.t.Helper()
	if _, err := io.WriteString(r.c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		r.t.Fatal(err)
	}
	return r.read()
}

func (r *rawConn) read() *http.Response {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(time.Minute)) // a hang fails the test instead of the run
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// hold sends the head of a POST /v1/verify whose body never comes, so the
// connection stays busy until the client closes it.
func (r *rawConn) hold() {
	r.t.Helper()
	if _, err := io.WriteString(r.c, "POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"); err != nil {
		r.t.Fatal(err)
	}
}

// serveLoopback runs s.Serve on a new loopback listener and returns its
// address; stop cancels Serve and returns its error.
func serveLoopback(t *testing.T, s *Server) (addr string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	return ln.Addr().String(), func() error {
		cancel()
		return <-served
	}
}

// closedByServer: the server closed the connection (a read sees EOF).
func (r *rawConn) closedByServer() bool {
	_ = r.c.SetReadDeadline(time.Now().Add(time.Minute))
	_, err := r.br.ReadByte()
	return errors.Is(err, io.EOF)
}

// TestConnectionLimit: with http.max_connections 2, connections below the
// bound are kept alive; at the bound every answer says Connection: close
// and the server closes the connection after it; a client past the bound
// waits in the backlog until a connection closes, and is then served; once
// below the bound, keep-alive is back.
func TestConnectionLimit(t *testing.T) {
	env := NewTestEnv(t, func(c *config.Config) {
		c.HTTP.MaxConnections = 2
		c.HTTP.Admission.Verify.MaxConcurrent = 4 // the held requests below all get a slot
		c.HTTP.ReadTimeout = time.Minute          // and keep it while the test runs
	})
	s := env.Server
	addr, stop := serveLoopback(t, s)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	testkit.Eventually(t, "Serve bounds the listener", func() bool { return s.conns.Load() != nil })
	cl := s.conns.Load()
	open := func(n int) func() bool { return func() bool { return cl.Open() == n } }

	a := dialRaw(t, addr)
	for range 2 {
		if resp := a.get("/healthz"); resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("one connection of two: status %d, close %v; want 200 kept alive", resp.StatusCode, resp.Close)
		}
	}
	if cl.Open() != 1 || cl.Full() {
		t.Fatalf("open %d, full %v; want 1, false", cl.Open(), cl.Full())
	}

	// A second connection, busy with a request, reaches the bound: a's
	// next answer closes it.
	h1 := dialRaw(t, addr)
	h1.hold()
	testkit.Eventually(t, "two connections open", open(2))
	if resp := a.get("/healthz"); resp.StatusCode != http.StatusOK || !resp.Close {
		t.Fatalf("at the bound: status %d, close %v; want 200 with Connection: close", resp.StatusCode, resp.Close)
	}
	if !a.closedByServer() {
		t.Fatal("the connection answered with Connection: close stayed open")
	}
	testkit.Eventually(t, "the bound being reached is counted", func() bool { return count(s.metrics.connLimitReached) >= 1 })
	testkit.Eventually(t, "a's place is free", open(1))

	// Two busy connections: a third client waits in the backlog, and is
	// served once one of them closes.
	h2 := dialRaw(t, addr)
	h2.hold()
	testkit.Eventually(t, "both places busy", open(2))
	c := dialRaw(t, addr)
	answered := make(chan *http.Response, 1)
	go func() {
		if _, err := io.WriteString(c.c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			answered <- nil
			return
		}
		_ = c.c.SetReadDeadline(time.Now().Add(time.Minute))
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			answered <- nil
			return
		}
		resp.Body.Close()
		answered <- resp
	}()
	select {
	case <-answered:
		t.Fatal("a client past the bound was answered while both places were busy")
	default:
	}
	if cl.Open() != 2 {
		t.Fatalf("open %d past the bound of 2", cl.Open())
	}
	h1.c.Close()
	if resp := <-answered; resp == nil || resp.StatusCode != http.StatusOK || !resp.Close {
		t.Fatalf("the client that waited in the backlog: %+v, want 200 with Connection: close (at the bound again)", resp)
	}
	h2.c.Close()
	testkit.Eventually(t, "every connection closed", open(0))
	d := dialRaw(t, addr)
	for range 2 {
		if resp := d.get("/healthz"); resp.Close {
			t.Fatal("below the bound again, the answer still closes the connection")
		}
	}
}

// TestNoConnectionLimit: with http.max_connections 0 the listener is not
// bounded (and the gauges read 0).
func TestNoConnectionLimit(t *testing.T) {
	env := NewTestEnv(t, func(c *config.Config) { c.HTTP.MaxConnections = 0 })
	s := env.Server
	addr, stop := serveLoopback(t, s)
	var conns []*rawConn
	for range 5 {
		conns = append(conns, dialRaw(t, addr))
	}
	for i, c := range conns {
		if resp := c.get("/healthz"); resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("connection %d: status %d close %v", i, resp.StatusCode, resp.Close)
		}
	}
	if s.conns.Load() != nil {
		t.Fatal("max_connections 0 bounded the listener")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestShedBeforeReadingTheBody: a request of a saturated class is answered
// 503 overloaded from its head alone: its (large, never sent) body is not
// waited for, and the connection, whose unread body cannot be skipped
// cheaply, is closed after the answer.
func TestShedBeforeReadingTheBody(t *testing.T) {
	env := NewTestEnv(t, func(c *config.Config) {
		c.HTTP.Admission.Verify = config.AdmissionClass{MaxConcurrent: 1, MaxQueue: 0, QueueTimeout: time.Second}
	})
	s := env.Server
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	release := holdSlot(t, srv.URL)
	defer release()
	testkit.Eventually(t, "the held request has the slot", func() bool { return s.admission.classes[classVerify].Active() == 1 })

	c := dialRaw(t, srv.Listener.Addr().String())
	if _, err := io.WriteString(c.c, "POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.c.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("no answer without the body: %v", err)
	}
	if !resp.Close {
		t.Error("the connection with an unread megabyte of body is kept alive")
	}
	wantShed(t, "a request whose body never came", resp)
	if !c.closedByServer() {
		t.Fatal("the connection stayed open after the shed answer")
	}

	// The same request with the slot free is not answered before its body
	// arrives: the handler reads it.
	release()
	testkit.Eventually(t, "the slot is free", func() bool { return s.admission.classes[classVerify].Active() == 0 })
	d := dialRaw(t, srv.Listener.Addr().String())
	if _, err := io.WriteString(d.c, "POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the admitted request holds the slot, waiting for its body", func() bool { return s.admission.classes[classVerify].Active() == 1 })
	if _, err := io.WriteString(d.c, "{}"); err != nil {
		t.Fatal(err)
	}
	if resp := d.read(); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("the admitted request with body {}: %d, want 400", resp.StatusCode)
	}
}

// TestHeaderBytesBounded: a header section past maxHeaderBytes is refused
// (431) before any handler runs, so max_connections of them stay bounded;
// one carrying a presentation as large as sdjwt allows is served.
func TestHeaderBytesBounded(t *testing.T) {
	env := NewTestEnv(t, nil)
	addr, stop := serveLoopback(t, env.Server)
	defer func() { _ = stop() }()
	get := func(value string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz", nil)
		req.Header.Set("X-Padding", value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(strings.Repeat("a", 96<<10)); got != http.StatusOK {
		t.Fatalf("a 96 KiB header: %d, want 200", got)
	}
	if got := get(strings.Repeat("a", maxHeaderBytes+8<<10)); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a header past %d bytes: %d, want 431", maxHeaderBytes, got)
	}
}
