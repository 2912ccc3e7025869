package revocation

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// httpFetch is a plain HTTP GET standing in for the did package's guarded
// fetcher.
func httpFetch(ctx context.Context, url, accept string, maxBytes int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, errcode.Wrap(errcode.FetchFailed, err, "request")
	}
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, errcode.Wrap(errcode.FetchFailed, err, "get %s", url)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errcode.New(errcode.FetchFailed, "get %s: status %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, errcode.Wrap(errcode.FetchFailed, err, "read %s", url)
	}
	if int64(len(b)) > maxBytes {
		return nil, errcode.New(errcode.FetchFailed, "%s: body over %d bytes", url, maxBytes)
	}
	return b, nil
}

const testIssuer = "did:web:issuer.example"

// listServer serves Status List Tokens signed by key, one per path, and
// counts requests per path.
type listServer struct {
	t     *testing.T
	srv   *httptest.Server
	key   jwk.Key
	clock *testkit.Clock

	mu     sync.Mutex
	lists  map[string]*List
	bodies map[string]string // overrides: a fixed body per path
	status map[string]int    // overrides: an HTTP status per path
	claims func(path string, c *TokenClaims)
	hits   map[string]int
	accept []string
	gate   chan struct{} // when set, each request waits for it to close
	inside chan struct{} // receives once per request that reached the gate
}

func newListServer(t *testing.T, clk *testkit.Clock) *listServer {
	s := &listServer{t: t, key: testkeys.New(t, jwa.ES256, testIssuer+"#key-1"), clock: clk,
		lists: map[string]*List{}, bodies: map[string]string{}, status: map[string]int{}, hits: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *listServer) uri(path string) string { return s.srv.URL + path }

func (s *listServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	s.accept = append(s.accept, r.Header.Get("Accept"))
	gate, inside := s.gate, s.inside
	l, body, code, edit := s.lists[r.URL.Path], s.bodies[r.URL.Path], s.status[r.URL.Path], s.claims
	s.mu.Unlock()
	if gate != nil {
		inside <- struct{}{}
		<-gate
	}
	if code != 0 {
		http.Error(w, "boom", code)
		return
	}
	if body == "" {
		if l == nil {
			http.NotFound(w, r)
			return
		}
		now := s.clock.Now()
		c := TokenClaims{Subject: s.uri(r.URL.Path), Issuer: testIssuer, IssuedAt: now.Add(-time.Second),
			Expires: now.Add(24 * time.Hour), TTL: time.Hour}
		if edit != nil {
			edit(r.URL.Path, &c)
		}
		var err error
		if body, err = SignToken(l, c, s.key); err != nil {
			s.t.Error(err)
		}
	}
	w.Header().Set("Content-Type", "application/statuslist+jwt")
	fmt.Fprint(w, body)
}

// set runs f with the server's lock held.
func (s *listServer) set(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func (s *listServer) setList(path string, l *List) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists[path] = l
}

func (s *listServer) hitsOf(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func (s *listServer) client(maxAge time.Duration, edit func(*ClientOptions)) *Client {
	o := ClientOptions{
		Fetch:  httpFetch,
		Key:    staticKey(testIssuer, publicOf(s.t, s.key)),
		MaxAge: maxAge,
		Now:    s.clock.Now,
	}
	if edit != nil {
		edit(&o)
	}
	return NewClient(o)
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestClientCaches(t *testing.T) {
	clk := testkit.NewClock(t0)
	s := newListServer(t, clk)
	s.setList("/statuslists/1", mustList(t, 1024, 2, map[int]uint8{5: StatusRevoked, 6: StatusSuspended}))
	c := s.client(5*time.Minute, nil)
	ref := Reference{URI: s.uri("/statuslists/1")}
	for i := 0; i < 20; i++ {
		ref.Idx = i % 8
		st, err := c.Status(context.Background(), ref, testIssuer)
		if err != nil {
			t.Fatal(err)
		}
		want := map[int]uint8{5: 1, 6: 2}[ref.Idx]
		if st.Value != want || !st.AsOf.Equal(t0.Add(-time.Second)) || !st.FetchedAt.Equal(t0) {
			t.Fatalf("idx %d: %+v", ref.Idx, st)
		}
	}
	if n := s.hitsOf("/statuslists/1"); n != 1 {
		t.Fatalf("%d fetches for 20 lookups, want 1", n)
	}
	if s.accept[0] != "application/statuslist+jwt" {
		t.Fatalf("Accept %q", s.accept[0])
	}
}

func TestClientMaxAge(t *testing.T) {
	clk := testkit.NewClock(t0)
	s := newListServer(t, clk)
	s.setList("/l", mustList(t, 64, 2, nil))
	c := s.client(5*time.Minute, nil)
	ref := Reference{URI: s.uri("/l"), Idx: 3}
	get := func() Status {
		t.Helper()
		st, err := c.Status(context.Background(), ref, testIssuer)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	get()
	clk.Advance(5*time.Minute - time.Second)
	if st := get(); s.hitsOf("/l") != 1 || !st.FetchedAt.Equal(t0) {
		t.Fatalf("within MaxAge: %d fetches, fetched at %v", s.hitsOf("/l"), st.FetchedAt)
	}
	// A revocation published meanwhile is seen once MaxAge has passed.
	s.setList("/l", mustList(t, 64, 2, map[int]uint8{3: StatusRevoked}))
	clk.Advance(time.Second)
	st := get()
	if s.hitsOf("/l") != 2 || st.Value != StatusRevoked || !st.FetchedAt.Equal(t0.Add(5*time.Minute)) {
		t.Fatalf("past MaxAge: %d fetches, status %+v", s.hitsOf("/l"), st)
	}
}

func TestClientMaxAgeZeroAlwaysFetches(t *testing.T) {
	clk := testkit.NewClock(t0)
	s := newListServer(t, clk)
	s.setList("/l", mustList(t, 64, 2, nil))
	c := s.client(0, nil)
	for i := 0; i < 3; i++ {
		if _, err := c.Status(context.Background(), Reference{URI: s.uri("/l")}, testIssuer); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.hitsOf("/l"); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
}

func TestClientHonoursTTLAndExp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		claims func(c *TokenClaims)
		reuse  time.Duration // still cached at t0+reuse
		stale  time.Duration // re-fetched at t0+stale
	}{
		{"ttl", func(c *TokenClaims) { c.TTL = time.Minute }, 59 * time.Second, time.Minute},
		{"exp", func(c *TokenClaims) { c.Expires = t0.Add(30 * time.Second); c.TTL = 0 }, 29 * time.Second, 30 * time.Second},
		{"MaxAge is the tightest", func(c *TokenClaims) { c.TTL = 0 }, 10*time.Minute - time.Second, 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := testkit.NewClock(t0)
			s := newListServer(t, clk)
			s.setList("/l", mustList(t, 64, 2, nil))
			s.set(func() {
				s.claims = func(_ string, c *TokenClaims) {
					if clk.Now().Equal(t0) {
						tc.claims(c)
					}
				}
			})
			c := s.client(10*time.Minute, nil)
			ref := Reference{URI: s.uri("/l")}
			if _, err := c.Status(context.Background(), ref, testIssuer); err != nil {
				t.Fatal(err)
			}
			clk.Advance(tc.reuse)
			if _, err := c.Status(context.Background(), ref, testIssuer); err != nil || s.hitsOf("/l") != 1 {
				t.Fatalf("at +%v: %d fetches, %v", tc.reuse, s.hitsOf("/l"), err)
			}
			clk.Advance(tc.stale - tc.reuse)
			if _, err := c.Status(context.Background(), ref, testIssuer); err != nil || s.hitsOf("/l") != 2 {
				t.Fatalf("at +%v: %d fetches, %v", tc.stale, s.hitsOf("/l"), err)
			}
		})
	}
}

// TestClientStatusUsableUntil: a status states when it stops being usable,
// the token's exp or its fetch plus its ttl, whichever comes first, so
// that a caller keeping the answer keeps it no longer than the client
// keeps the token; and a cached answer keeps the time of its fetch.
func TestClientStatusUsableUntil(t *testing.T) {
	for _, tc := range []struct {
		name   string
		claims func(c *TokenClaims)
		want   time.Duration // after t0; 0 = zero time
	}{
		{"ttl first", func(c *TokenClaims) { c.TTL = time.Minute }, time.Minute},
		{"exp first", func(c *TokenClaims) { c.Expires, c.TTL = t0.Add(30*time.Second), time.Hour }, 30 * time.Second},
		{"exp only", func(c *TokenClaims) { c.Expires, c.TTL = t0.Add(2*time.Hour), 0 }, 2 * time.Hour},
		{"neither", func(c *TokenClaims) { c.Expires, c.TTL = time.Time{}, 0 }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := testkit.NewClock(t0)
			s := newListServer(t, clk)
			s.setList("/l", mustList(t, 64, 2, nil))
			s.set(func() { s.claims = func(_ string, c *TokenClaims) { tc.claims(c) } })
			c := s.client(10*time.Minute, nil)
			ref := Reference{URI: s.uri("/l")}
			want := time.Time{}
			if tc.want != 0 {
				want = t0.Add(tc.want)
			}
			for i := 0; i < 2; i++ {
				st, err := c.Status(context.Background(), ref, testIssuer)
				if err != nil {
					t.Fatal(err)
				}
				if !st.UsableUntil.Equal(want) {
					t.Fatalf("lookup %d: usable until %v, want %v", i, st.UsableUntil, want)
				}
				clk.Advance(10 * time.Second) // the second lookup is a cache hit
			}
			if s.hitsOf("/l") != 1 {
				t.Fatalf("%d fetches, want 1", s.hitsOf("/l"))
			}
		})
	}
}

// TestClientNeverServesPastExp: once the cached token's exp has passed and
// the server still serves that token, the answer is status_unavailable.
func TestClientNeverServesPastExp(t *testing.T) {
	clk := testkit.NewClock(t0)
	s := newListServer(t, clk)
	l := mustList(t, 64, 2, nil)
	body, err := SignToken(l, TokenClaims{Subject: s.uri("/l"), Issuer: testIssuer, IssuedAt: t0, Expires: t0.Add(time.Minute)}, s.key)
	if err != nil {
		t.Fatal(err)
	}
	s.set(func() { s.bodies["/l"] = body })
	c := s.client(time.Hour, nil)
	ref := Reference{URI: s.uri("/l")}
	if _, err := c.Status(context.Background(), ref, testIssuer); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	_, err = c.Status(context.Background(), ref, testIssuer)
	testkit.WantCode(t, err, errcode.StatusUnavailable)
	testkit.WantCause(t, err, errcode.Expired)
	if s.hitsOf("/l") != 2 {
		t.Fatalf("%d fetches, want 2", s.hitsOf("/l"))
	}
}

// TestClientStaleRefetchFailsClosed: past MaxAge a failed re-fetch is
// status_unavailable, not the stale cached value.
func TestClientStaleRefetchFailsClosed(t *testing.T) {
	clk := testkit.NewClock(t0)
	s := newListServer(t, clk)
	s.setList("/l", mustList(t, 64, 2, nil))
	c := s.client(time.Minute, nil)
	ref := Reference{URI: s.uri("/l")}
	if _, err := c.Status(context.Background(), ref, testIssuer); err != nil {
		t.Fatal(err)
	}
	s.set(func() { s.status["/l"] = http.StatusServiceUnavailable })
	clk.Advance(time.Minute)
	_, err := c.Status(context.Background(), ref, testIssuer)
	testkit.WantCode(t, err, errcode.StatusUnavailable)
	testkit.WantCause(t, err, errcode.FetchFailed)
}

func TestClientSingleflight(t *testing.T) {
	const n = 16
	clk := testkit.NewClock(t0)
	s := newListServer(t, clk)
	s.setList("/l", mustList(t, 64, 2, map[int]uint8{1: StatusRevoked}))
	var nowCalls atomic.Int64
	c := s.client(time.Minute, func(o *ClientOptions) {
		o.Now = func() time.Time { nowCalls.Add(1); return clk.Now() }
	})
	gate := make(chan struct{})
	s.set(func() { s.gate, s.inside = gate, make(chan struct{}, n) })

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := c.Status(context.Background(), Reference{URI: s.uri("/l"), Idx: 1}, testIssuer)
			if err == nil && st.Value != StatusRevoked {
				err = fmt.Errorf("status %d", st.Value)
			}
			errs <- err
		}()
	}
	// Wait until the first fetch is in flight and every caller has missed
	// the cache (one clock read each, plus the flight's own re-check), so
	// that without request collapsing each of them would fetch.
	<-s.inside
	for nowCalls.Load() < n+1 {
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := s.hitsOf("/l"); got != 1 {
		t.Fatalf("%d concurrent lookups made %d fetches, want 1", n, got)
	}
}

func TestClientBoundedCache(t *testing.T) {
	clk := testkit.NewClock(t0)
	s := newListServer(t, clk)
	for _, p := range []string{"/a", "/b", "/c"} {
		s.setList(p, mustList(t, 8, 2, nil))
	}
	c := s.client(time.Hour, func(o *ClientOptions) { o.MaxEntries = 2 })
	get := func(p string) {
		t.Helper()
		if _, err := c.Status(context.Background(), Reference{URI: s.uri(p)}, testIssuer); err != nil {
			t.Fatal(err)
		}
	}
	get("/a")
	get("/b")
	get("/a") // a is now the most recently used
	get("/c") // evicts b
	get("/a")
	get("/c")
	if s.hitsOf("/a") != 1 || s.hitsOf("/c") != 1 || s.hitsOf("/b") != 1 {
		t.Fatalf("hits a=%d b=%d c=%d", s.hitsOf("/a"), s.hitsOf("/b"), s.hitsOf("/c"))
	}
	get("/b")
	if s.hitsOf("/b") != 2 {
		t.Fatalf("evicted list was not re-fetched: b=%d", s.hitsOf("/b"))
	}
	if size := c.cache.Len(); size != 2 {
		t.Fatalf("cache holds %d lists, bound is 2", size)
	}
}

func TestClientFailsClosed(t *testing.T) {
	clk := testkit.NewClock(t0)
	s := newListServer(t, clk)
	l := mustList(t, 64, 2, nil)
	for _, p := range []string{"/ok", "/500", "/wrong-iss", "/expired", "/other-key", "/garbage", "/huge"} {
		s.setList(p, l)
	}
	otherKey := testkeys.New(t, jwa.ES256, testIssuer+"#key-1")
	forged, err := SignToken(l, TokenClaims{Subject: s.uri("/other-key"), Issuer: testIssuer, IssuedAt: t0}, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	s.set(func() {
		s.status["/500"] = http.StatusInternalServerError
		s.bodies["/garbage"] = "not a jwt"
		s.bodies["/huge"] = strings.Repeat("a", 5000)
		s.bodies["/other-key"] = forged
		s.claims = func(path string, c *TokenClaims) {
			switch path {
			case "/wrong-iss":
				c.Issuer = "did:web:someone-else"
			case "/expired":
				c.IssuedAt, c.Expires = t0.Add(-2*time.Hour), t0.Add(-time.Hour)
			}
		}
	})
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	for _, tc := range []struct {
		name   string
		uri    string
		issuer string
		cause  errcode.Code
	}{
		{"HTTP 500", s.uri("/500"), testIssuer, errcode.FetchFailed},
		{"HTTP 404", s.uri("/missing"), testIssuer, errcode.FetchFailed},
		{"network down", downURL + "/l", testIssuer, errcode.FetchFailed},
		{"bad signature", s.uri("/other-key"), testIssuer, errcode.BadSignature},
		{"wrong iss", s.uri("/wrong-iss"), testIssuer, errcode.StatusInvalid},
		{"credential from another issuer", s.uri("/ok"), "did:web:someone-else", errcode.KeyNotFound},
		{"sub mismatch", s.uri("/ok") + "?x=1", testIssuer, errcode.StatusInvalid},
		{"expired", s.uri("/expired"), testIssuer, errcode.Expired},
		{"not a token", s.uri("/garbage"), testIssuer, errcode.StatusInvalid},
		{"body over MaxBytes", s.uri("/huge"), testIssuer, errcode.FetchFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := s.client(time.Hour, func(o *ClientOptions) { o.MaxBytes = 4096 })
			_, err := c.Status(context.Background(), Reference{URI: tc.uri, Idx: 0}, tc.issuer)
			testkit.WantCode(t, err, errcode.StatusUnavailable)
			testkit.WantCause(t, err, tc.cause)
		})
	}

	t.Run("fetch func ignoring the size cap", func(t *testing.T) {
		c := s.client(time.Hour, func(o *ClientOptions) {
			o.MaxBytes = 100
			o.Fetch = func(context.Context, string, string, int64) ([]byte, error) { return make([]byte, 101), nil }
		})
		_, err := c.Status(context.Background(), Reference{URI: s.uri("/ok")}, testIssuer)
		testkit.WantCode(t, err, errcode.StatusUnavailable)
		testkit.WantCause(t, err, errcode.TooLarge)
	})
	t.Run("context cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		release := make(chan struct{})
		defer close(release)
		c := s.client(time.Hour, func(o *ClientOptions) {
			o.Fetch = func(context.Context, string, string, int64) ([]byte, error) {
				<-release
				return nil, errcode.New(errcode.FetchFailed, "released")
			}
		})
		_, err := c.Status(ctx, Reference{URI: s.uri("/ok")}, testIssuer)
		testkit.WantCode(t, err, errcode.StatusUnavailable)
	})
}

func TestClientReferenceErrors(t *testing.T) {
	clk := testkit.NewClock(t0)
	s := newListServer(t, clk)
	s.setList("/l", mustList(t, 16, 2, nil)) // 4 bytes: 16 entries
	c := s.client(time.Hour, nil)
	for _, tc := range []struct {
		name string
		ref  Reference
		code errcode.Code
	}{
		{"idx past the end", Reference{URI: s.uri("/l"), Idx: 16}, errcode.StatusInvalid},
		{"negative idx", Reference{URI: s.uri("/l"), Idx: -1}, errcode.StatusInvalid},
		{"no uri", Reference{Idx: 1}, errcode.StatusInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Status(context.Background(), tc.ref, testIssuer)
			testkit.WantCode(t, err, tc.code)
		})
	}
	before := s.hitsOf("/l")
	_, err := NewClient(ClientOptions{Fetch: httpFetch, Key: staticKey(testIssuer, publicOf(t, s.key)), Now: clk.Now}).
		Status(context.Background(), Reference{URI: s.uri("/l")}, "")
	testkit.WantCode(t, err, errcode.InvalidInput)
	if s.hitsOf("/l") != before {
		t.Fatal("fetched without an issuer to check against")
	}
	if st, err := c.Status(context.Background(), Reference{URI: s.uri("/l"), Idx: 15}, testIssuer); err != nil || st.Value != 0 {
		t.Fatalf("last entry: %+v %v", st, err)
	}
	_, err = NewClient(ClientOptions{}).Status(context.Background(), Reference{URI: "https://x/1"}, testIssuer)
	testkit.WantCode(t, err, errcode.Internal)
}

func TestClientAlgorithmAllowList(t *testing.T) {
	clk := testkit.NewClock(t0)
	s := newListServer(t, clk)
	s.setList("/statuslists/1", mustList(t, 1024, 2, nil))
	ref := Reference{URI: s.uri("/statuslists/1"), Idx: 3}
	if _, err := s.client(time.Minute, nil).Status(context.Background(), ref, testIssuer); err != nil {
		t.Fatalf("default allow-list: %v", err)
	}
	c := s.client(time.Minute, func(o *ClientOptions) { o.Algorithms = []jwa.SignatureAlgorithm{jwa.ES384} })
	_, err := c.Status(context.Background(), ref, testIssuer)
	testkit.WantCode(t, err, errcode.StatusUnavailable)
	testkit.WantCause(t, err, errcode.UnsupportedAlg)
}
