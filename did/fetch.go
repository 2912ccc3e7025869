package did

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// FetcherConfig configures a Fetcher. The zero value is the production
// default: HTTPS only, every non-public address refused.
type FetcherConfig struct {
	// AllowHosts are hostnames or IP literals, optionally with ":port",
	// exempt from the address guard and allowed over plain http. For
	// development only. Default empty.
	AllowHosts []string
	// Timeout bounds a whole request, body included. Default 5s.
	Timeout time.Duration
	// MaxBytes caps a response body when Get is given maxBytes <= 0.
	// Default 256 KiB.
	MaxBytes int64
	// MaxRedirects is the number of redirects followed. Default 3; a
	// negative value follows none.
	MaxRedirects int
}

// Fetcher is an HTTP GET client with an outbound guard: it speaks HTTPS
// (plain http only to allowed hosts), and it refuses loopback, private,
// link-local, unspecified, CGNAT, multicast and other non-public addresses
// unless the URL's host is allowed. The check is made on every address a
// host name resolves to, before any connection, on every redirect hop; the
// connection then goes to the checked address (no second DNS lookup), and a
// dialer Control hook checks the address again just before connect. A
// Fetcher is safe for concurrent use.
type Fetcher struct {
	cfg    FetcherConfig
	allow  map[string]bool
	client *http.Client

	// Seams for tests: name resolution and dialing.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	dial   func(ctx context.Context, network, address string, guarded bool) (net.Conn, error)
}

// NewFetcher returns a Fetcher with cfg's defaults filled in.
func NewFetcher(cfg FetcherConfig) *Fetcher {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultFetchTimeout
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxDocumentBytes
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	} else if cfg.MaxRedirects < 0 {
		cfg.MaxRedirects = 0
	}
	f := &Fetcher{cfg: cfg, allow: map[string]bool{}}
	f.cfg.AllowHosts = append([]string(nil), cfg.AllowHosts...)
	for _, h := range cfg.AllowHosts {
		if k := normalizeHost(h); k != "" {
			f.allow[k] = true
		}
	}
	f.lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	f.dial = netDial
	tr := &http.Transport{
		Proxy:                  nil, // a proxy would dial on our behalf, out of the guard's sight
		DialContext:            f.dialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		MaxIdleConns:           16,
		IdleConnTimeout:        90 * time.Second,
	}
	f.client = &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			// A POST is never re-sent (a 307/308 would carry its body to
			// the new location) nor turned into a GET elsewhere.
			if via[0].Method != http.MethodGet {
				return fmt.Errorf("%s %s was answered with a redirect, which is not followed", via[0].Method, via[0].URL.Redacted())
			}
			if len(via) > f.cfg.MaxRedirects {
				return errors.New("too many redirects")
			}
			return f.checkURL(req.URL)
		},
	}
	return f
}

// normalizeHost lowercases a host or host:port, strips IPv6 brackets and a
// trailing dot, and returns "host" or "host:port" (IPv6 as [addr]:port).
func normalizeHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if host, port, err := net.SplitHostPort(h); err == nil {
		host = strings.TrimSuffix(host, ".")
		if host == "" || port == "" {
			return ""
		}
		return net.JoinHostPort(host, port)
	}
	h = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), ".")
	return h
}

// Allowed reports whether host ("name", "name:port", "[v6]:port" or an IP
// literal) is in AllowHosts: an entry without a port allows every port.
func (f *Fetcher) Allowed(host string) bool {
	if len(f.allow) == 0 {
		return false
	}
	n := normalizeHost(host)
	if n == "" {
		return false
	}
	if f.allow[n] {
		return true
	}
	if h, _, err := net.SplitHostPort(n); err == nil {
		return f.allow[h]
	}
	return false
}

// Response is a fetched response. Body holds at most the byte cap.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Get fetches url with GET: https, or http only for allowed hosts. accept
// is the Accept header ("" sends none); maxBytes caps the body (<= 0 means
// the configured MaxBytes).
//
// A destination the guard refuses (scheme, userinfo, a non-public address,
// directly or after DNS, on any redirect hop) is fetch_refused, and no
// connection is made to it. Network errors, timeouts, too many redirects,
// non-2xx statuses and a body over the cap are fetch_failed.
func (f *Fetcher) Get(ctx context.Context, url, accept string, maxBytes int64) (*Response, error) {
	return f.GetConditional(ctx, url, accept, "", maxBytes)
}

// GetConditional is Get with an If-None-Match header when ifNoneMatch is not
// empty; a 304 Not Modified answer is then returned (empty body) instead of
// failing.
func (f *Fetcher) GetConditional(ctx context.Context, rawURL, accept, ifNoneMatch string, maxBytes int64) (*Response, error) {
	hdr := http.Header{}
	if accept != "" {
		hdr.Set("Accept", accept)
	}
	if ifNoneMatch != "" {
		hdr.Set("If-None-Match", ifNoneMatch)
	}
	return f.do(ctx, http.MethodGet, rawURL, hdr, nil, maxBytes)
}

// Post sends body (of media type ctype) to url under the same guard and
// limits as Get, and returns the answer; a non-2xx answer is fetch_failed.
// A redirect is not followed (fetch_failed): the body goes to url or
// nowhere.
func (f *Fetcher) Post(ctx context.Context, rawURL, ctype string, body []byte, maxBytes int64) (*Response, error) {
	return f.do(ctx, http.MethodPost, rawURL, http.Header{"Content-Type": {ctype}}, body, maxBytes)
}

// do makes one guarded request; a 304 answers a conditional GET.
func (f *Fetcher) do(ctx context.Context, method, rawURL string, hdr http.Header, reqBody []byte, maxBytes int64) (*Response, error) {
	if maxBytes <= 0 {
		maxBytes = f.cfg.MaxBytes
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errcode.Wrap(errcode.FetchRefused, err, "URL does not parse")
	}
	if err := f.checkURL(u); err != nil {
		return nil, refused(err)
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if reqBody != nil {
		rd = bytes.NewReader(reqBody)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, errcode.Wrap(errcode.FetchRefused, err, "bad request URL")
	}
	req.Header.Set("User-Agent", "agentcert")
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := f.client.Do(req)
	if err != nil {
		var re *refusedError
		if errors.As(err, &re) {
			return nil, refused(re)
		}
		if ctx.Err() != nil {
			return nil, errcode.Wrap(errcode.FetchFailed, err, "fetch timed out or was cancelled")
		}
		return nil, errcode.Wrap(errcode.FetchFailed, err, "fetch failed")
	}
	defer resp.Body.Close()
	out := &Response{StatusCode: resp.StatusCode, Header: resp.Header}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	case resp.StatusCode == http.StatusNotModified && hdr.Get("If-None-Match") != "":
		return out, nil
	default:
		return nil, errcode.New(errcode.FetchFailed, "fetch answered HTTP %d", resp.StatusCode)
	}
	if resp.ContentLength > maxBytes {
		return nil, errcode.New(errcode.FetchFailed, "response body larger than %d bytes", maxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, errcode.Wrap(errcode.FetchFailed, err, "reading the response body failed")
	}
	if int64(len(body)) > maxBytes {
		return nil, errcode.New(errcode.FetchFailed, "response body larger than %d bytes", maxBytes)
	}
	out.Body = body
	return out, nil
}

// refusedError is the guard's verdict; it travels through net/http's error
// wrapping and becomes fetch_refused.
type refusedError struct{ reason string }

func (e *refusedError) Error() string { return "outbound guard: " + e.reason }

func refused(err error) error {
	return errcode.Wrap(errcode.FetchRefused, err, "destination not allowed by the outbound guard")
}

// checkURL applies the checks that need no DNS: scheme, userinfo and IP
// literals.
func (f *Fetcher) checkURL(u *url.URL) error {
	if u.Opaque != "" || u.Host == "" {
		return &refusedError{"URL has no host"}
	}
	if u.User != nil {
		return &refusedError{"URL carries userinfo"}
	}
	hostport := u.Host
	if u.Port() == "" {
		port := "443"
		if strings.EqualFold(u.Scheme, "http") {
			port = "80"
		}
		hostport = net.JoinHostPort(u.Hostname(), port)
	}
	allowed := f.Allowed(hostport)
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !allowed {
			return &refusedError{"plain http is only allowed for configured dev hosts"}
		}
	default:
		return &refusedError{fmt.Sprintf("scheme %q is not allowed", u.Scheme)}
	}
	if allowed {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if r := refusedIP(ip); r != "" {
			return &refusedError{r}
		}
	} else if h := strings.TrimSuffix(strings.ToLower(host), "."); strings.Contains(h, "%") || h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return &refusedError{"host " + host + " is local"}
	}
	return nil
}

// dialContext resolves, checks every address, then dials a checked address.
func (f *Fetcher) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	guarded := !f.Allowed(addr)
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ips, err = f.lookup(ctx, host)
		if err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("no address for %s", host)
		}
	}
	if guarded {
		for _, ip := range ips {
			if r := refusedIP(ip); r != "" {
				return nil, &refusedError{r}
			}
		}
	}
	var firstErr error
	for _, ip := range ips {
		c, err := f.dial(ctx, network, net.JoinHostPort(ip.Unmap().String(), port), guarded)
		if err == nil {
			return c, nil
		}
		var re *refusedError
		if errors.As(err, &re) {
			return nil, err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

func netDial(ctx context.Context, network, address string, guarded bool) (net.Conn, error) {
	d := net.Dialer{KeepAlive: 30 * time.Second}
	if guarded {
		d.Control = controlGuard
	}
	return d.DialContext(ctx, network, address)
}

// controlGuard runs after the socket is created and before connect: the last
// check, on the exact address the kernel will connect to.
func controlGuard(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &refusedError{"unparsable dial address"}
	}
	if r := refusedIP(ap.Addr()); r != "" {
		return &refusedError{r}
	}
	return nil
}

var refusedPrefixes = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network"
		"100.64.0.0/10",   // CGNAT shared address space
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // TEST-NET-1
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // TEST-NET-2
		"203.0.113.0/24",  // TEST-NET-3
		"240.0.0.0/4",     // reserved, and 255.255.255.255 broadcast
		"::/96",           // IPv4-compatible (deprecated), :: and ::1 included
		"::ffff:0:0:0/96", // IPv4-translated (SIIT): a translator reaches any IPv4 address
		"64:ff9b::/96",    // NAT64: could reach any IPv4 address
		"64:ff9b:1::/48",  // local-use NAT64
		"100::/64",        // discard-only
		"2001::/23",       // IETF protocol assignments: Teredo, benchmarking, ORCHID
		"2001:db8::/32",   // documentation
		"2002::/16",       // 6to4: embeds an IPv4 address
		"3fff::/20",       // documentation (RFC 9637)
		"fec0::/10",       // site-local (deprecated)
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// refusedIP says why ip is not a public unicast address, or "" if it is.
func refusedIP(ip netip.Addr) string {
	if !ip.IsValid() {
		return "invalid address"
	}
	if ip.Zone() != "" {
		return "scoped address " + ip.String()
	}
	ip = ip.Unmap()
	switch {
	case ip.IsUnspecified():
		return ip.String() + " is unspecified"
	case ip.IsLoopback():
		return ip.String() + " is loopback"
	case ip.IsPrivate():
		return ip.String() + " is private"
	case ip.IsLinkLocalUnicast():
		return ip.String() + " is link-local"
	case ip.IsMulticast():
		return ip.String() + " is multicast"
	}
	for _, p := range refusedPrefixes {
		if p.Contains(ip) {
			return ip.String() + " is in reserved range " + p.String()
		}
	}
	return ""
}

// Fetch is Get that returns only the body, in the shape of the verifier's
// and the revocation client's FetchFunc.
func (f *Fetcher) Fetch(ctx context.Context, url, accept string, maxBytes int64) ([]byte, error) {
	r, err := f.Get(ctx, url, accept, maxBytes)
	if err != nil {
		return nil, err
	}
	return r.Body, nil
}
