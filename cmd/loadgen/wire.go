package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// connTransport is the load tool's HTTP/1.1 client for plain http:// URLs:
// keep-alive connections, each request written with (*http.Request).Write
// and its answer read with http.ReadResponse, both on the calling
// goroutine. net/http's Transport runs a reader and a writer goroutine for
// every connection and hands each request and answer between them; on a
// loopback benchmark where the tool shares the cores with the server, those
// hand-offs cost the tool about as much CPU as the server spends on HTTP,
// CPU the server then cannot use. This client spends it on the two
// syscalls alone.
//
// Every request gets its own connection for as long as it is outstanding
// (no pipelining), so an open-loop run still sends each request on time,
// whatever the earlier ones are waiting for. The answer's body is read
// whole before RoundTrip returns (at most maxAnswer bytes).
type connTransport struct {
	addr    string        // host:port
	timeout time.Duration // per request, dial to last byte of the answer
	maxIdle int
	dialer  net.Dialer

	mu   sync.Mutex
	idle []*wireConn
}

// wireConn is one keep-alive connection.
type wireConn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

// maxAnswer bounds an answer's body.
const maxAnswer = 4 << 20

// answerBody is a body read whole; send takes its bytes without copying.
type answerBody struct {
	*bytes.Reader
	b []byte
}

func (answerBody) Close() error { return nil }

func newConnTransport(addr string, timeout time.Duration, maxIdle int) *connTransport {
	return &connTransport{addr: addr, timeout: timeout, maxIdle: maxIdle, dialer: net.Dialer{Timeout: timeout}}
}

// errStale marks a reused connection that the server had closed before the
// request reached it: nothing of the answer was read, so the request is
// sent again on a new connection.
var errStale = errors.New("loadgen: connection closed by the server while idle")

// RoundTrip sends req and reads its answer. A request whose reused
// connection turns out to have been closed while idle is sent once more on
// a fresh one, as net/http's Transport does.
func (t *connTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.GetBody == nil {
		// Keep the body for a second attempt.
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	for attempt := 0; ; attempt++ {
		if body != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
		} else if req.GetBody != nil && attempt > 0 {
			rc, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req.Body = rc
		}
		conn, reused, err := t.get(req.Context())
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(conn, reused, req)
		if errors.Is(err, errStale) && attempt == 0 {
			continue
		}
		return resp, err
	}
}

// exchange writes req on conn and reads the answer; conn goes back to the
// idle list when both sides keep it open, and is closed otherwise.
func (t *connTransport) exchange(conn *wireConn, reused bool, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	deadline := time.Now().Add(t.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.c.SetDeadline(deadline); err != nil {
		conn.c.Close()
		return nil, err
	}
	// A canceled run unblocks the read at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(err error) (*http.Response, error) {
		conn.c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if err := req.Write(conn.bw); err != nil {
		return fail(fmt.Errorf("write request: %w", err))
	}
	if err := conn.bw.Flush(); err != nil {
		return fail(fmt.Errorf("write request: %w", err))
	}
	if reused {
		// Nothing at all came back: the server closed the idle connection.
		if _, err := conn.br.Peek(1); err != nil && ctx.Err() == nil && !isTimeout(err) {
			conn.c.Close()
			return nil, errStale
		}
	}
	resp, err := http.ReadResponse(conn.br, req)
	if err != nil {
		return fail(fmt.Errorf("read answer: %w", err))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	resp.Body.Close()
	if err != nil {
		return fail(fmt.Errorf("read answer: %w", err))
	}
	if len(b) > maxAnswer {
		return fail(fmt.Errorf("answer longer than %d bytes", maxAnswer))
	}
	resp.Body = answerBody{Reader: bytes.NewReader(b), b: b}
	if resp.Close || req.Close || !stop() {
		conn.c.Close()
	} else {
		t.put(conn)
	}
	return resp, nil
}

// isTimeout reports whether err is a deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// get takes an idle connection or dials a new one.
func (t *connTransport) get(ctx context.Context) (*wireConn, bool, error) {
	t.mu.Lock()
	if n := len(t.idle); n > 0 {
		c := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		return c, true, nil
	}
	t.mu.Unlock()
	c, err := t.dialer.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, false, err
	}
	return &wireConn{c: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 16<<10)}, false, nil
}

func (t *connTransport) put(c *wireConn) {
	t.mu.Lock()
	if len(t.idle) < t.maxIdle {
		t.idle = append(t.idle, c)
		c = nil
	}
	t.mu.Unlock()
	if c != nil {
		c.c.Close()
	}
}

// CloseIdleConnections closes the idle connections (http.Client calls it).
func (t *connTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, c := range idle {
		c.c.Close()
	}
}
