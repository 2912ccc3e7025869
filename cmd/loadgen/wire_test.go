package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// wireClient is an http.Client over connTransport to srv.
func wireClient(t *testing.T, srv *httptest.Server, timeout time.Duration) (*http.Client, *connTransport) {
	t.Helper()
	tr := newConnTransport(strings.TrimPrefix(srv.URL, "http://"), timeout, 4)
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, tr
}

func post(t *testing.T, c *http.Client, ctx context.Context, url, body string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// countingServer starts a test server with h that counts the connections
// made to it.
func countingServer(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// The transport keeps a connection alive across requests, sends the body
// and headers as net/http would, and hands the whole answer back.
func TestConnTransportKeepsConnectionsAlive(t *testing.T) {
	srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Test") != "1" || r.ContentLength != int64(len(b)) {
			http.Error(w, "bad request", http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "echo:"+string(b))
	}))
	c, tr := wireClient(t, srv, 5*time.Second)
	for i := range 20 {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/x", strings.NewReader(strings.Repeat("a", i)))
		req.Header.Set("X-Test", "1")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "echo:"+strings.Repeat("a", i) {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
		if _, ok := resp.Body.(answerBody); !ok {
			t.Fatalf("body %T, want the transport's answerBody", resp.Body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 20 sequential requests, want 1", n)
	}
	if len(tr.idle) != 1 {
		t.Fatalf("%d idle connections, want 1", len(tr.idle))
	}
}

// A connection the server closed while it was idle is not an error: the
// request goes again on a new connection. An answer with Connection: close
// is read, and its connection is not reused.
func TestConnTransportStaleAndClosedConnections(t *testing.T) {
	srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, "ok")
	}))
	c, tr := wireClient(t, srv, 5*time.Second)
	ctx := context.Background()
	if _, b, err := post(t, c, ctx, srv.URL+"/a", "x"); err != nil || string(b) != "ok" {
		t.Fatalf("first: %q %v", b, err)
	}
	// The server drops its idle connections.
	srv.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	if _, b, err := post(t, c, ctx, srv.URL+"/a", "yy"); err != nil || string(b) != "ok" {
		t.Fatalf("after the server closed the idle connection: %q %v", b, err)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2 (the stale one replaced once)", n)
	}
	resp, b, err := post(t, c, ctx, srv.URL+"/close", "z")
	if err != nil || string(b) != "ok" || !resp.Close {
		t.Fatalf("Connection: close answer: %v %q %v", resp, b, err)
	}
	if len(tr.idle) != 0 {
		t.Fatalf("%d idle connections after Connection: close, want 0", len(tr.idle))
	}
}

// A server that never answers fails the request at the timeout; a run that
// ends unblocks the request at once; an answer longer than the bound fails.
func TestConnTransportTimeoutCancelAndBound(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Write(make([]byte, maxAnswer+1))
		default:
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	defer close(hang)
	c, _ := wireClient(t, srv, 200*time.Millisecond)

	start := time.Now()
	_, _, err := post(t, c, context.Background(), srv.URL+"/hang", "x")
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("hanging server: %v, want a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the timeout took %s", d)
	}

	c2, _ := wireClient(t, srv, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, _, err := post(t, c2, ctx, srv.URL+"/hang", "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled run: %v, want context.Canceled", err)
	}

	if _, _, err := post(t, c2, context.Background(), srv.URL+"/big", "x"); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("oversized answer: %v", err)
	}
}

// -client picks the transport; anything but lean and std is a usage error.
func TestClientFlag(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"verified":true,"claims":{}}`)
	}))
	defer srv.Close()
	pres := filepath.Join(t.TempDir(), "pres.txt")
	if err := os.WriteFile(pres, []byte("eyJ.e30.sig~"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, client := range []string{"lean", "std"} {
		code, rep, errOut := runJSON(t, "-url", srv.URL, "-mode", "verify", "-presentation", pres, "-aud", "https://cp.example", "-n", "20", "-c", "2", "-client", client)
		if code != 0 || rep.Succeeded != 20 {
			t.Fatalf("-client %s: exit %d, report %+v, %s", client, code, rep, errOut)
		}
	}
	if code, _, errOut := runJSON(t, "-url", srv.URL, "-mode", "verify", "-presentation", pres, "-aud", "x", "-client", "fast"); code != 2 || !strings.Contains(errOut, "-client") {
		t.Fatalf("-client fast: exit %d, %s", code, errOut)
	}
}

// checkVerified takes the usual answer by its first member, and decodes
// every other.
func TestCheckVerified(t *testing.T) {
	for body, want := range map[string]string{
		`{"verified":true,"claims":{"x":1}}`:               "",
		`{"verified": true}`:                               "",
		`{"verified":false,"errors":[{"code":"revoked"}]}`: "not verified: revoked",
		`{"claims":{"verified":true},"verified":false}`:    "not verified: unknown",
		`not json`: "bad verify answer",
		`{"errors":[{"code":"kb_stale"}],"verified":false,"x":1}`: "not verified: kb_stale",
	} {
		if got := checkVerified(200, []byte(body)); got != want {
			t.Errorf("checkVerified(%s) = %q, want %q", body, got, want)
		}
	}
}
