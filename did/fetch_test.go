package did

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkit"
)

// probe replaces a Fetcher's DNS with a fixed table and records every dial
// attempt (before the dialer's Control hook) and every lookup.
type probe struct {
	mu      sync.Mutex
	dialed  []string
	lookups []string
	dns     map[string][]netip.Addr
}

func (p *probe) dials() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.dialed...)
}

func (p *probe) lookedUp() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lookups...)
}

func probed(cfg FetcherConfig, dns map[string]string) (*Fetcher, *probe) {
	f := NewFetcher(cfg)
	p := &probe{dns: map[string][]netip.Addr{}}
	for host, addrs := range dns {
		for _, a := range strings.Split(addrs, ",") {
			p.dns[host] = append(p.dns[host], netip.MustParseAddr(a))
		}
	}
	f.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.lookups = append(p.lookups, host)
		if a, ok := p.dns[host]; ok {
			return a, nil
		}
		return nil, &net.DNSError{Err: "no such host (test DNS)", Name: host, IsNotFound: true}
	}
	f.dial = func(ctx context.Context, network, addr string, guarded bool) (net.Conn, error) {
		p.mu.Lock()
		p.dialed = append(p.dialed, addr)
		p.mu.Unlock()
		return netDial(ctx, network, addr, guarded)
	}
	return f, p
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// countingServer starts an HTTP server on ln (or 127.0.0.1:0) that counts
// accepted connections.
func countingServer(t *testing.T, ln net.Listener, h http.Handler) (*httptest.Server, *countingListener) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	if ln != nil {
		srv.Listener.Close()
		srv.Listener = ln
	}
	cl := &countingListener{Listener: srv.Listener}
	srv.Listener = cl
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, cl
}

func portOf(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })

// TestFetcherRefusesBeforeConnecting: refused destinations fail with
// fetch_refused before any DNS lookup or dial, and the loopback servers
// listening on those addresses never see a connection.
func TestFetcherRefusesBeforeConnecting(t *testing.T) {
	srv4, accepts4 := countingServer(t, nil, okHandler)
	port := portOf(t, srv4)
	var accepts6 *countingListener
	port6 := "1"
	if ln6, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		var srv6 *httptest.Server
		srv6, accepts6 = countingServer(t, ln6, okHandler)
		port6 = portOf(t, srv6)
	}
	urls := []string{
		"https://127.0.0.1:" + port + "/did.json",
		"http://127.0.0.1:" + port + "/",
		"https://[::1]:" + port6 + "/",
		"https://169.254.169.254/latest/meta-data/",
		"https://10.0.0.1/status/1",
		"https://0.0.0.0:" + port + "/",
		"https://[::]:" + port6 + "/",
		"https://[::ffff:127.0.0.1]:" + port + "/",
		"https://[::ffff:169.254.169.254]/",
		"https://[::ffff:a00:1]/",
		"https://100.64.0.1/",
		"https://100.127.255.254/",
		"https://224.0.0.251/",
		"https://255.255.255.255/",
		"https://[ff02::1]/",
		"https://[fe80::1%25lo]/",
		"https://[fe80::1]/",
		"https://[fd00::1]/",
		"https://192.168.1.1/",
		"https://172.16.0.1/",
		"https://127.1.2.3/",
		"https://[64:ff9b::a9fe:a9fe]/",
		"https://[2002:7f00:1::]/",
		"https://localhost:" + port + "/",
		"https://LOCALHOST./",
		"https://api.localhost/",
		"http://example.com/",
		"ftp://example.com/",
		"file:///etc/passwd",
		"https://user:pw@example.com/",
		"https:///no-host",
		"mailto:a@example.com",
		"://bad",
	}
	f, p := probed(FetcherConfig{}, nil)
	for _, u := range urls {
		t.Run(u, func(t *testing.T) {
			resp, err := f.Get(context.Background(), u, "", 0)
			testkit.WantCode(t, err, errcode.FetchRefused)
			if resp != nil {
				t.Fatal("response with error")
			}
		})
	}
	if d, l := p.dials(), p.lookedUp(); len(d) != 0 || len(l) != 0 {
		t.Fatalf("dials %v, lookups %v: the guard must decide before any of them", d, l)
	}
	// Prove the counters work: an allowed fetch to each server is counted.
	allowed := NewFetcher(FetcherConfig{AllowHosts: []string{"127.0.0.1", "::1"}})
	if _, err := allowed.Get(context.Background(), "http://127.0.0.1:"+port+"/", "", 0); err != nil {
		t.Fatal(err)
	}
	if n := accepts4.n.Load(); n != 1 {
		t.Fatalf("127.0.0.1 server accepted %d connections, want 1 (the allowed one)", n)
	}
	if accepts6 != nil {
		if _, err := allowed.Get(context.Background(), "http://[::1]:"+port6+"/", "", 0); err != nil {
			t.Fatal(err)
		}
		if n := accepts6.n.Load(); n != 1 {
			t.Fatalf("[::1] server accepted %d connections, want 1", n)
		}
	}
}

// TestFetcherRefusesResolvedAddresses: a public-looking name that resolves
// to a refused address is refused after DNS and before any dial.
func TestFetcherRefusesResolvedAddresses(t *testing.T) {
	dns := map[string]string{
		"internal.example": "10.0.0.1",
		"metadata.example": "169.254.169.254",
		"loop.example":     "127.0.0.1",
		"loop6.example":    "::1",
		"mapped.example":   "::ffff:127.0.0.1",
		"cgnat.example":    "100.64.0.10",
		"zero.example":     "0.0.0.0",
		"mixed.example":    "93.184.215.14,10.1.2.3",
		"2130706433":       "127.0.0.1", // what a libc resolver makes of a decimal IPv4
	}
	f, p := probed(FetcherConfig{}, dns)
	for host := range dns {
		t.Run(host, func(t *testing.T) {
			_, err := f.Get(context.Background(), "https://"+host+"/did.json", "", 0)
			testkit.WantCode(t, err, errcode.FetchRefused)
		})
	}
	if d := p.dials(); len(d) != 0 {
		t.Fatalf("dialed %v", d)
	}
	if l := p.lookedUp(); len(l) != len(dns) {
		t.Fatalf("lookups %v", l)
	}
	// A name that does not resolve is a failure, not a refusal.
	_, err := f.Get(context.Background(), "https://nowhere.example/", "", 0)
	testkit.WantCode(t, err, errcode.FetchFailed)
}

// TestControlGuard: the dialer's Control hook refuses before connect.
func TestControlGuard(t *testing.T) {
	for _, a := range []string{"127.0.0.1:443", "[::1]:443", "10.0.0.1:443", "169.254.169.254:80", "[::ffff:127.0.0.1]:1", "0.0.0.0:1", "[fe80::1%lo]:1", "not-an-address"} {
		var re *refusedError
		if err := controlGuard("tcp", a, nil); !errors.As(err, &re) {
			t.Errorf("controlGuard(%s) = %v", a, err)
		}
	}
	if err := controlGuard("tcp", "93.184.215.14:443", nil); err != nil {
		t.Errorf("public address refused: %v", err)
	}
	srv, accepts := countingServer(t, nil, okHandler)
	addr := srv.Listener.Addr().String()
	_, err := netDial(context.Background(), "tcp", addr, true)
	var re *refusedError
	if !errors.As(err, &re) {
		t.Fatalf("guarded dial to %s: %v", addr, err)
	}
	c, err := netDial(context.Background(), "tcp", addr, false)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// The first accepted connection is the unguarded one.
	deadline := time.Now().Add(5 * time.Second)
	for accepts.n.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := accepts.n.Load(); n != 1 {
		t.Fatalf("accepted %d connections, want 1", n)
	}
}

func TestRefusedIP(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "::1", "0.0.0.0", "::", "10.255.0.1", "172.31.1.1", "192.168.0.1",
		"169.254.169.254", "fe80::1", "100.64.0.1", "100.127.255.255", "224.0.0.1", "239.255.255.250", "ff05::2",
		"::ffff:10.0.0.1", "::ffff:0.0.0.0", "fc00::1", "fd12:3456::1", "192.0.2.1", "198.18.0.1", "240.0.0.1",
		"255.255.255.255", "64:ff9b::a00:1", "2001:db8::1", "::a00:1", "0.1.2.3",
		"::ffff:0:7f00:1", "::ffff:0:a9fe:a9fe", "2001:2::1", "2001::1", "3fff::1"} {
		if refusedIP(netip.MustParseAddr(s)) == "" {
			t.Errorf("%s not refused", s)
		}
	}
	for _, s := range []string{"93.184.215.14", "8.8.8.8", "100.63.255.255", "100.128.0.0", "2606:4700::1111", "::ffff:8.8.8.8", "172.32.0.1", "11.0.0.1"} {
		if r := refusedIP(netip.MustParseAddr(s)); r != "" {
			t.Errorf("%s refused: %s", s, r)
		}
	}
	if refusedIP(netip.Addr{}) == "" {
		t.Error("zero Addr not refused")
	}
}

func TestAllowed(t *testing.T) {
	f := NewFetcher(FetcherConfig{AllowHosts: []string{"127.0.0.1", "LocalHost:8080", "[::1]", "dev.example.", "[::1]:9"}})
	for host, want := range map[string]bool{
		"127.0.0.1":          true,
		"127.0.0.1:5000":     true,
		"localhost:8080":     true,
		"LOCALHOST:8080":     true,
		"localhost":          false,
		"localhost:8081":     false,
		"::1":                true,
		"[::1]":              true,
		"[::1]:443":          true,
		"dev.example":        true,
		"dev.example.:443":   true,
		"dev.example.com":    false,
		"127.0.0.2":          false,
		"":                   false,
		"example.com":        false,
		"127.0.0.1.evil.com": false,
	} {
		if got := f.Allowed(host); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", host, got, want)
		}
	}
	if NewFetcher(FetcherConfig{}).Allowed("127.0.0.1") {
		t.Error("empty AllowHosts allows 127.0.0.1")
	}
}

// TestFetcherRedirects: every hop is checked, and a redirect away from an
// allowed host:port is refused before connecting.
func TestFetcherRedirects(t *testing.T) {
	target, targetAccepts := countingServer(t, nil, okHandler)
	tport := portOf(t, target)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-metadata":
			http.Redirect(w, r, "https://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/to-private":
			http.Redirect(w, r, "https://10.0.0.1/", http.StatusMovedPermanently)
		case "/to-other-port-http":
			http.Redirect(w, r, "http://127.0.0.1:"+tport+"/", http.StatusFound)
		case "/to-other-port-https":
			http.Redirect(w, r, "https://127.0.0.1:"+tport+"/", http.StatusTemporaryRedirect)
		case "/to-name":
			http.Redirect(w, r, "https://rebind.example:"+tport+"/", http.StatusFound)
		case "/to-mapped":
			http.Redirect(w, r, "https://[::ffff:7f00:1]:"+tport+"/", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/hop":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/final":
			io.WriteString(w, "final")
		}
	}))
	t.Cleanup(origin.Close)
	oport := portOf(t, origin)
	f, p := probed(FetcherConfig{AllowHosts: []string{"127.0.0.1:" + oport}}, map[string]string{"rebind.example": "127.0.0.1"})
	for _, path := range []string{"/to-metadata", "/to-private", "/to-other-port-http", "/to-other-port-https", "/to-name", "/to-mapped"} {
		t.Run(path, func(t *testing.T) {
			_, err := f.Get(context.Background(), origin.URL+path, "", 0)
			testkit.WantCode(t, err, errcode.FetchRefused)
		})
	}
	for _, d := range p.dials() {
		if d != "127.0.0.1:"+oport {
			t.Errorf("dialed %s", d)
		}
	}
	if n := targetAccepts.n.Load(); n != 0 {
		t.Errorf("target accepted %d connections", n)
	}
	resp, err := f.Get(context.Background(), origin.URL+"/hop", "", 0)
	if err != nil || string(resp.Body) != "final" {
		t.Fatalf("same-host redirect: %v", err)
	}
	_, err = f.Get(context.Background(), origin.URL+"/loop", "", 0)
	testkit.WantCode(t, err, errcode.FetchFailed)
	none, _ := probed(FetcherConfig{AllowHosts: []string{"127.0.0.1"}, MaxRedirects: -1}, nil)
	_, err = none.Get(context.Background(), origin.URL+"/hop", "", 0)
	testkit.WantCode(t, err, errcode.FetchFailed)
}

func TestFetcherResponses(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo-accept":
			io.WriteString(w, r.Header.Get("Accept"))
		case "/etag":
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", `"v1"`)
			io.WriteString(w, "list")
		case "/size":
			var n int
			fmt.Sscan(r.URL.Query().Get("n"), &n)
			if r.URL.Query().Get("chunked") == "" {
				w.Header().Set("Content-Length", fmt.Sprint(n))
			}
			for i := 0; i < n; i += 100 {
				w.Write([]byte(strings.Repeat("a", min(100, n-i))))
				w.(http.Flusher).Flush()
			}
		case "/lying-length":
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "abc")
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	ctx := context.Background()
	f := NewFetcher(FetcherConfig{AllowHosts: []string{"127.0.0.1"}, MaxBytes: 300, Timeout: 200 * time.Millisecond})

	resp, err := f.Get(ctx, srv.URL+"/echo-accept", "application/did+json", 0)
	if err != nil || string(resp.Body) != "application/did+json" || resp.StatusCode != 200 {
		t.Fatalf("accept: %v %+v", err, resp)
	}
	resp, err = f.GetConditional(ctx, srv.URL+"/etag", "", `"v1"`, 0)
	if err != nil || resp.StatusCode != http.StatusNotModified || len(resp.Body) != 0 {
		t.Fatalf("304: %v %+v", err, resp)
	}
	resp, err = f.GetConditional(ctx, srv.URL+"/etag", "", `"v0"`, 0)
	if err != nil || string(resp.Body) != "list" || resp.Header.Get("ETag") != `"v1"` {
		t.Fatalf("etag changed: %v %+v", err, resp)
	}

	tests := []struct {
		name     string
		path     string
		maxBytes int64
		wantCode errcode.Code
	}{
		{"exactly the default cap", "/size?n=300", 0, ""},
		{"over the default cap", "/size?n=301", 0, errcode.FetchFailed},
		{"over the default cap, chunked", "/size?n=301&chunked=1", 0, errcode.FetchFailed},
		{"under an explicit cap", "/size?n=1000", 1000, ""},
		{"over an explicit cap", "/size?n=1001", 1000, errcode.FetchFailed},
		{"over an explicit cap, chunked", "/size?n=1001&chunked=1", 1000, errcode.FetchFailed},
		{"body shorter than Content-Length", "/lying-length", 0, errcode.FetchFailed},
		{"404", "/missing", 0, errcode.FetchFailed},
		{"timeout", "/slow", 0, errcode.FetchFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.Get(ctx, srv.URL+tt.path, "", tt.maxBytes)
			testkit.WantCode(t, err, tt.wantCode)
			if err == nil && int64(len(resp.Body)) > max(tt.maxBytes, 300) {
				t.Fatalf("body of %d bytes", len(resp.Body))
			}
		})
	}
	t.Run("304 without If-None-Match", func(t *testing.T) {
		s304 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) }))
		defer s304.Close()
		_, err := f.Get(ctx, s304.URL, "", 0)
		testkit.WantCode(t, err, errcode.FetchFailed)
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := f.Get(cctx, srv.URL+"/echo-accept", "", 0)
		testkit.WantCode(t, err, errcode.FetchFailed)
	})
	t.Run("connection refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		_, err := f.Get(ctx, "http://"+addr+"/", "", 0)
		testkit.WantCode(t, err, errcode.FetchFailed)
	})
}

func TestFetcherTLS(t *testing.T) {
	srv := httptest.NewTLSServer(okHandler)
	t.Cleanup(srv.Close)
	// Unknown CA: a TLS failure is fetch_failed.
	_, err := NewFetcher(FetcherConfig{AllowHosts: []string{"127.0.0.1"}}).Get(context.Background(), srv.URL, "", 0)
	testkit.WantCode(t, err, errcode.FetchFailed)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	// A fetcher that trusts the server's CA from the start: changing the
	// TLS config of a transport that has dialled already races with the
	// dial, which may still be reading it.
	f := NewFetcher(FetcherConfig{AllowHosts: []string{"127.0.0.1"}})
	f.client.Transport.(*http.Transport).TLSClientConfig.RootCAs = pool
	resp, err := f.Get(context.Background(), srv.URL, "", 0)
	if err != nil || string(resp.Body) != "ok" {
		t.Fatalf("https to an allowed host: %v", err)
	}
	// The same server without the allowance is refused.
	g := NewFetcher(FetcherConfig{})
	g.client.Transport.(*http.Transport).TLSClientConfig.RootCAs = pool
	_, err = g.Get(context.Background(), srv.URL, "", 0)
	testkit.WantCode(t, err, errcode.FetchRefused)
}

func TestAllowedDefaultPort(t *testing.T) {
	srv := httptest.NewServer(okHandler)
	t.Cleanup(srv.Close)
	f := NewFetcher(FetcherConfig{AllowHosts: []string{"127.0.0.1:80"}})
	u, _ := url.Parse("http://127.0.0.1/")
	if err := f.checkURL(u); err != nil {
		t.Fatalf("entry with the default port refused %s: %v", u, err)
	}
	u, _ = url.Parse("http://127.0.0.1:8080/")
	if err := f.checkURL(u); err == nil {
		t.Fatalf("entry 127.0.0.1:80 allowed %s", u)
	}
	_, err := f.Get(context.Background(), srv.URL, "", 0)
	testkit.WantCode(t, err, errcode.FetchRefused)
}

// Post goes through the same guard and limits as Get, sending its body.
func TestFetcherPost(t *testing.T) {
	var got []byte
	var ctype string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "no", http.StatusMethodNotAllowed)
			return
		}
		got, _ = io.ReadAll(r.Body)
		ctype = r.Header.Get("Content-Type")
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	f := NewFetcher(FetcherConfig{AllowHosts: []string{"127.0.0.1"}})
	res, err := f.Post(context.Background(), srv.URL+"/cb", "application/json", []byte(`{"a":1}`), 0)
	if err != nil || string(res.Body) != `{"ok":true}` || string(got) != `{"a":1}` || ctype != "application/json" {
		t.Fatalf("Post: %v %+v, server got %q %q", err, res, got, ctype)
	}
	_, err = NewFetcher(FetcherConfig{}).Post(context.Background(), srv.URL+"/cb", "application/json", nil, 0)
	if errcode.CodeOf(err) != errcode.FetchRefused {
		t.Fatalf("Post to loopback without allowing it: %v", err)
	}
}

// TestFetcherPostFollowsNoRedirect: a POST answered with a redirect is not
// re-sent (307/308 would carry the body to the new location) nor turned
// into a GET (301/302/303): it fails with fetch_failed, and only the first
// server sees a request.
func TestFetcherPostFollowsNoRedirect(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Write([]byte(`{"ok":true}`))
	}))
	defer other.Close()
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/stolen", status)
		}))
		f := NewFetcher(FetcherConfig{AllowHosts: []string{"127.0.0.1"}})
		res, err := f.Post(context.Background(), srv.URL+"/cb", "application/json", []byte(`{"secret":1}`), 0)
		srv.Close()
		if errcode.CodeOf(err) != errcode.FetchFailed {
			t.Errorf("POST answered %d: %v %+v, want fetch_failed", status, err, res)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the redirect target got %d requests", n)
	}
}
