package verifier_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentcert/agentcert/agentclient"
	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/noncestore/redisnonce"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testsvc"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

const statusURI = "https://issuer.example/statuslists/1"

// channelEnv is a counterparty behind the middleware with the agent
// channel on, and agents certified by one issuer.
type channelEnv struct {
	t       testing.TB
	mu      sync.Mutex
	now     time.Time
	iss     jwk.Key
	issDID  string
	list    *revocation.List
	nonces  *verifier.Nonces
	channel *verifier.Channel
	srv     *httptest.Server
	bare    http.Handler // the middleware before a handler that does nothing (benchmarks)
	hits    int
	idx     int
}

func (e *channelEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *channelEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

type agent struct {
	key  jwk.Key
	cred string
	idx  int
	kid  string
}

func newChannelEnv(t *testing.T, limits []verifier.RateClass) *channelEnv {
	t.Helper()
	return newChannelEnvTB(t, limits)
}

func newChannelEnvTB(t testing.TB, limits []verifier.RateClass) *channelEnv {
	t.Helper()
	return newChannelEnvWith(t, limits, nil, verifier.ChannelOptions{})
}

// newChannelEnvWith is newChannelEnv with a policy change, channel options
// and, given from, the same issuer and status list as from (another
// replica of the same counterparty).
func newChannelEnvWith(t testing.TB, limits []verifier.RateClass, policy func(*verifier.Policy), chOpts verifier.ChannelOptions, from ...*channelEnv) *channelEnv {
	t.Helper()
	e := &channelEnv{t: t, now: time.Now().Truncate(time.Second)}
	if len(from) > 0 {
		e.iss, e.issDID, e.list, e.now, e.idx = from[0].iss, from[0].issDID, from[0].list, from[0].clock(), 1000*len(from)
	} else {
		e.iss, e.issDID = testkeys.DIDKey(t, jwa.ES256)
		e.list, _ = revocation.NewList(131072, 2)
	}
	e.nonces, _ = verifier.NewNonces(nil, time.Minute, e.clock)
	p := verifier.DefaultPolicy()
	p.Trusted[e.issDID] = []string{"urn:x"}
	p.MaxStatusAge = time.Minute
	if policy != nil {
		policy(&p)
	}
	v, err := verifier.New(p, verifier.WithResolver(did.NewResolver(nil)), verifier.WithClock(e.clock),
		verifier.WithFetch(func(_ context.Context, url, _ string, _ int64) ([]byte, error) {
			now := e.clock()
			e.mu.Lock()
			defer e.mu.Unlock()
			tok, err := revocation.SignToken(e.list, revocation.TokenClaims{Subject: statusURI, Issuer: e.issDID, IssuedAt: now, Expires: now.Add(time.Hour), TTL: time.Minute}, e.iss)
			return []byte(tok), err
		}))
	if err != nil {
		t.Fatal(err)
	}
	if chOpts.SessionLifetime == 0 {
		chOpts.SessionLifetime = 5 * time.Minute
	}
	e.channel, err = verifier.NewChannel(v, chOpts)
	if err != nil {
		t.Fatal(err)
	}
	opts := verifier.MiddlewareOptions{Audience: "aud", Nonces: e.nonces, Channel: e.channel, Action: func(r *http.Request) (string, map[string]any) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/pay") {
			return "payments:initiate", nil
		}
		return "invoices:read", nil
	}}
	if limits != nil {
		opts.Limits, err = verifier.NewRateLimiter(limits, 0)
		if err != nil {
			t.Fatal(err)
		}
	}
	mw, err := verifier.Middleware(v, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.bare = mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	e.srv = httptest.NewServer(mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := verifier.ResultFrom(r.Context())
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.hits++
		e.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"agent": res.Subject, "body": string(b)})
	})))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *channelEnv) agent(alg jwa.SignatureAlgorithm, principal string) *agent {
	e.t.Helper()
	k, sub := testkeys.DIDKey(e.t, alg)
	pub, _ := keyutil.Public(k)
	raw, _ := json.Marshal(pub)
	var cnf map[string]any
	_ = json.Unmarshal(raw, &cnf)
	e.idx++
	now := e.clock()
	cred, err := sdjwt.Issue(map[string]any{
		"iss": e.issDID, "sub": sub, "vct": "urn:x", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "cnf": map[string]any{"jwk": cnf},
		"status":       map[string]any{"status_list": map[string]any{"idx": e.idx, "uri": statusURI}},
		"principal":    map[string]any{"id": principal},
		"permissions":  []any{map[string]any{"action": "invoices:*"}},
		"prohibitions": []any{"payments:initiate"},
	}, []string{"/permissions/*"}, e.iss, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	kid, _ := httpsig.Thumbprint(k)
	return &agent{key: k, cred: cred, idx: e.idx, kid: kid}
}

// recorder counts the requests a transport sends and which presented.
type recorder struct {
	base      http.RoundTripper
	mu        sync.Mutex
	sent      int
	presented int
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	if req.Header.Get("Signature") != "" {
		r.sent++ // the nonce fetch is not counted
	}
	if req.Header.Get(verifier.HeaderAgentCredential) != "" {
		r.presented++
	}
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func (e *channelEnv) client(a *agent, nonceURL bool) (*http.Client, *recorder) {
	rec := &recorder{base: e.srv.Client().Transport}
	o := agentclient.Options{Credential: a.cred, Key: a.key, Audience: func(*http.Request) string { return "aud" }, Now: e.clock, Base: rec}
	if nonceURL {
		nonceSrv := httptest.NewServer(e.nonces.Handler())
		e.t.Cleanup(nonceSrv.Close)
		o.NonceURL = func(*http.Request) string { return nonceSrv.URL }
	}
	tr, err := agentclient.New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	return &http.Client{Transport: tr}, rec
}

type answer struct {
	status int
	code   errcode.Code
	body   map[string]any
	header http.Header
}

func do(t *testing.T, c *http.Client, method, url, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	code, _ := m["code"].(string)
	return answer{resp.StatusCode, errcode.Code(code), m, resp.Header}
}

func TestChannelSessionFlow(t *testing.T) {
	e := newChannelEnv(t, nil)
	for _, alg := range []jwa.SignatureAlgorithm{jwa.EdDSA, jwa.ES256} {
		t.Run(alg.String(), func(t *testing.T) {
			a := e.agent(alg, "did:web:acme.example")
			c, rec := e.client(a, false)
			// First request: the counterparty asks for the credential, the
			// transport presents it and the retry is served.
			if got := do(t, c, http.MethodGet, e.srv.URL+"/invoices", ""); got.status != 200 {
				t.Fatalf("first request: %+v", got)
			}
			if rec.sent != 2 || rec.presented != 1 {
				t.Fatalf("first request: sent %d, presented %d", rec.sent, rec.presented)
			}
			// Later requests: one signature each, no presentation.
			for i := 0; i < 3; i++ {
				got := do(t, c, http.MethodPost, e.srv.URL+"/invoices/inv-1/notes?x=1", `{"note":"ok"}`)
				if got.status != 200 || got.body["body"] != `{"note":"ok"}` {
					t.Fatalf("in session: %+v", got)
				}
			}
			if rec.sent != 5 || rec.presented != 1 {
				t.Fatalf("in session: sent %d, presented %d", rec.sent, rec.presented)
			}
			// Authorization still applies per request.
			if got := do(t, c, http.MethodPost, e.srv.URL+"/invoices/inv-1/pay", `{}`); got.status != 403 || got.code != errcode.ActionProhibited {
				t.Fatalf("prohibited action: %+v", got)
			}
		})
	}
	// With a nonce URL the very first request carries the presentation.
	a := e.agent(jwa.EdDSA, "did:web:acme.example")
	c, rec := e.client(a, true)
	if got := do(t, c, http.MethodGet, e.srv.URL+"/invoices", ""); got.status != 200 || rec.sent != 1 || rec.presented != 1 {
		t.Fatalf("nonce URL: %+v, sent %d presented %d", got, rec.sent, rec.presented)
	}
	if e.channel.Sessions() != 3 {
		t.Fatalf("%d sessions", e.channel.Sessions())
	}
}

// signed builds a request signed by key under keyid with the given
// components; mutate runs after signing.
type signOpts struct {
	key        jwk.Key
	kid        string
	body       string
	components []string
	created    time.Time
	expires    time.Time
	nonce      string
	tag        string
	pres       string
	mutate     func(r *http.Request)
}

func (e *channelEnv) send(t *testing.T, o signOpts) answer {
	t.Helper()
	now := e.clock()
	if o.created.IsZero() {
		o.created = now
	}
	if o.expires.IsZero() {
		o.expires = o.created.Add(time.Minute)
	}
	if o.nonce == "" {
		o.nonce = time.Now().String()
	}
	if o.tag == "" {
		o.tag = verifier.TagAgentCert
	}
	if o.components == nil {
		o.components = []string{"@method", "@authority", "@path", "@query"}
		if o.body != "" {
			o.components = append(o.components, "content-digest")
		}
	}
	var rd io.Reader
	if o.body != "" {
		rd = strings.NewReader(o.body)
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/invoices/inv-1?a=1", rd)
	if o.body != "" {
		cd, _ := httpsig.ContentDigest([]byte(o.body), httpsig.DigestSHA256)
		req.Header.Set("Content-Digest", cd)
	}
	if o.pres != "" {
		req.Header.Set(verifier.HeaderAgentCredential, o.pres)
	}
	alg, _ := httpsig.KeyAlg(o.key)
	in, sig, err := httpsig.Sign(httpsig.Outgoing(req), "sig1", httpsig.Components(o.components...),
		httpsig.Params{Created: o.created, Expires: o.expires, Nonce: o.nonce, Alg: alg, KeyID: o.kid, Tag: o.tag}, o.key)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Signature-Input", in)
	req.Header.Set("Signature", sig)
	if o.mutate != nil {
		o.mutate(req)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	code, _ := m["code"].(string)
	return answer{resp.StatusCode, errcode.Code(code), m, resp.Header}
}

func (e *channelEnv) establish(t *testing.T, a *agent) {
	t.Helper()
	c, _ := e.client(a, true)
	if got := do(t, c, http.MethodGet, e.srv.URL+"/invoices", ""); got.status != 200 {
		t.Fatalf("establish: %+v", got)
	}
}

func (e *channelEnv) presentation(t *testing.T, a *agent) string {
	t.Helper()
	n, _, _ := e.nonces.Issue()
	p, err := sdjwt.Present(a.cred, []string{""}, &sdjwt.KBOptions{Key: a.key, Audience: "aud", Nonce: n, IssuedAt: e.clock()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestChannelRefusals: every check of a signed request, each with the
// exact code it must give.
func TestChannelRefusals(t *testing.T) {
	e := newChannelEnv(t, nil)
	a := e.agent(jwa.EdDSA, "p1")
	b := e.agent(jwa.ES256, "p1")
	e.establish(t, a)
	e.establish(t, b)
	stranger, _ := keyutil.Generate(jwa.EdDSA)
	strangerKid, _ := httpsig.Thumbprint(stranger)
	now := e.clock()

	if got := e.send(t, signOpts{key: a.key, kid: a.kid, body: "{}"}); got.status != 200 {
		t.Fatalf("baseline: %+v", got)
	}
	replayNonce := "fixed-nonce"
	if got := e.send(t, signOpts{key: a.key, kid: a.kid, nonce: replayNonce}); got.status != 200 {
		t.Fatalf("first use of a nonce: %+v", got)
	}
	for _, tc := range []struct {
		name   string
		o      signOpts
		status int
		code   errcode.Code
	}{
		{"body changed", signOpts{key: a.key, kid: a.kid, body: `{"amount":1}`, mutate: func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"amount":9}`))
		}}, 401, errcode.DigestMismatch},
		{"body and digest changed", signOpts{key: a.key, kid: a.kid, body: `{"amount":1}`, mutate: func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"amount":9}`))
			cd, _ := httpsig.ContentDigest([]byte(`{"amount":9}`), httpsig.DigestSHA256)
			r.Header.Set("Content-Digest", cd)
		}}, 401, errcode.SigInvalid},
		{"path changed", signOpts{key: a.key, kid: a.kid, mutate: func(r *http.Request) { r.URL.Path = "/invoices/inv-2" }}, 401, errcode.SigInvalid},
		{"query changed", signOpts{key: a.key, kid: a.kid, mutate: func(r *http.Request) { r.URL.RawQuery = "a=2" }}, 401, errcode.SigInvalid},
		{"method changed", signOpts{key: a.key, kid: a.kid, mutate: func(r *http.Request) { r.Method = http.MethodPut }}, 401, errcode.SigInvalid},
		{"expired", signOpts{key: a.key, kid: a.kid, created: now.Add(-3 * time.Minute), expires: now.Add(-2 * time.Minute)}, 401, errcode.SigExpired},
		{"too old", signOpts{key: a.key, kid: a.kid, created: now.Add(-6 * time.Minute), expires: now.Add(time.Minute)}, 401, errcode.SigExpired},
		{"valid too long", signOpts{key: a.key, kid: a.kid, expires: now.Add(time.Hour)}, 401, errcode.SigExpired},
		{"created in the future", signOpts{key: a.key, kid: a.kid, created: now.Add(2 * time.Minute)}, 401, errcode.SigNotYetValid},
		{"replayed nonce", signOpts{key: a.key, kid: a.kid, nonce: replayNonce}, 401, errcode.NonceReplayed},
		{"keyid of another agent", signOpts{key: a.key, kid: b.kid}, 401, errcode.SigInvalid},
		{"key in no verified credential", signOpts{key: stranger, kid: strangerKid}, 401, errcode.CredentialRequired},
		{"credential of another key", signOpts{key: stranger, kid: strangerKid, pres: e.presentation(t, a)}, 401, errcode.SigKeyMismatch},
		{"no @query", signOpts{key: a.key, kid: a.kid, components: []string{"@method", "@authority", "@path"}}, 401, errcode.SigCoverage},
		{"body without content-digest", signOpts{key: a.key, kid: a.kid, body: "{}", components: []string{"@method", "@authority", "@path", "@query"}}, 401, errcode.SigCoverage},
		{"uncovered Signature-Agent", signOpts{key: a.key, kid: a.kid, mutate: func(r *http.Request) {
			r.Header.Set("Signature-Agent", `sig1="https://issuer.example"`)
		}}, 401, errcode.SigCoverage},
		{"other tag", signOpts{key: a.key, kid: a.kid, tag: "other"}, 401, errcode.SigMalformed},
		{"garbled Signature", signOpts{key: a.key, kid: a.kid, mutate: func(r *http.Request) { r.Header.Set("Signature", "sig1=:!!:") }}, 401, errcode.SigMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.send(t, tc.o)
			if got.status != tc.status || got.code != tc.code {
				t.Fatalf("got %d %s (%v), want %d %s", got.status, got.code, got.body["detail"], tc.status, tc.code)
			}
			if got.status == 401 {
				if !strings.Contains(got.header.Get("Accept-Signature"), `"@method" "@authority" "@path" "@query" "content-digest"`) {
					t.Fatalf("401 without the Accept-Signature hint: %q", got.header.Get("Accept-Signature"))
				}
				if got.header.Get("Content-Type") != "application/problem+json" {
					t.Fatalf("content type %q", got.header.Get("Content-Type"))
				}
			}
			if tc.code == errcode.CredentialRequired && (got.header.Get(verifier.HeaderCredentialNonce) == "" || got.body["nonce"] == "") {
				t.Fatal("credential_required without a nonce to present with")
			}
		})
	}
}

// TestChannelRevokedMidSession: a session stands until its status is
// older than MaxStatusAge; then the agent must present again, and a
// revoked credential is refused.
func TestChannelRevokedMidSession(t *testing.T) {
	e := newChannelEnv(t, nil)
	a := e.agent(jwa.EdDSA, "p1")
	c, rec := e.client(a, false)
	if got := do(t, c, http.MethodGet, e.srv.URL+"/invoices", ""); got.status != 200 {
		t.Fatal(got)
	}
	e.mu.Lock()
	_ = e.list.Set(a.idx, 1)
	e.mu.Unlock()
	e.advance(30 * time.Second)
	if got := do(t, c, http.MethodGet, e.srv.URL+"/invoices", ""); got.status != 200 {
		t.Fatalf("within the status max age the session stands: %+v", got)
	}
	e.advance(31 * time.Second)
	got := do(t, c, http.MethodGet, e.srv.URL+"/invoices", "")
	if got.status != 401 || got.code != errcode.Revoked {
		t.Fatalf("after the status max age: %+v", got)
	}
	if rec.presented != 2 {
		t.Fatalf("presented %d times, want 2 (first, then on the expired session)", rec.presented)
	}
}

func TestChannelSessionsBounded(t *testing.T) {
	e := newChannelEnv(t, nil)
	ch, err := verifier.NewChannel(mustVerifier(t), verifier.ChannelOptions{MaxSessions: 1})
	if err != nil || ch.Sessions() != 0 {
		t.Fatal(err)
	}
	if _, err := verifier.NewChannel(nil, verifier.ChannelOptions{}); err == nil {
		t.Fatal("nil verifier accepted")
	}
	if _, err := verifier.NewChannel(mustVerifier(t), verifier.ChannelOptions{MaxSessions: -1}); err == nil {
		t.Fatal("negative limit accepted")
	}
	_ = e
}

func mustVerifier(t *testing.T) *verifier.Verifier {
	v, err := verifier.New(verifier.DefaultPolicy(), verifier.WithResolver(did.NewResolver(nil)), verifier.WithFetch(func(context.Context, string, string, int64) ([]byte, error) {
		return nil, errcode.New(errcode.FetchFailed, "none")
	}))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRateLimits(t *testing.T) {
	e := newChannelEnv(t, []verifier.RateClass{{
		Name: "reads", Actions: []string{"invoices:*"},
		PerAgent:     verifier.Rate{Requests: 2, Per: time.Minute},
		PerPrincipal: verifier.Rate{Requests: 3, Per: time.Minute},
	}})
	a := e.agent(jwa.EdDSA, "p1")
	b := e.agent(jwa.EdDSA, "p1")
	other := e.agent(jwa.EdDSA, "p2")
	ca, _ := e.client(a, true)
	cb, _ := e.client(b, true)
	co, _ := e.client(other, true)
	for i := 0; i < 2; i++ {
		if got := do(t, ca, http.MethodGet, e.srv.URL+"/invoices", ""); got.status != 200 {
			t.Fatalf("a #%d: %+v", i, got)
		}
	}
	got := do(t, ca, http.MethodGet, e.srv.URL+"/invoices", "")
	if got.status != 429 || got.code != errcode.RateLimited || got.header.Get("Retry-After") != "30" {
		t.Fatalf("over the agent's terms: %+v %q", got, got.header.Get("Retry-After"))
	}
	if got := do(t, cb, http.MethodGet, e.srv.URL+"/invoices", ""); got.status != 200 {
		t.Fatalf("b, third of the principal's: %+v", got)
	}
	if got := do(t, cb, http.MethodGet, e.srv.URL+"/invoices", ""); got.status != 429 {
		t.Fatalf("over the principal's terms: %+v", got)
	}
	if got := do(t, co, http.MethodGet, e.srv.URL+"/invoices", ""); got.status != 200 {
		t.Fatalf("another principal: %+v", got)
	}
	// A request that matches no class is not limited.
	if got := do(t, ca, http.MethodPost, e.srv.URL+"/invoices/x/pay", "{}"); got.status != 403 {
		t.Fatalf("unlimited class: %+v", got)
	}
	e.advance(30 * time.Second)
	if got := do(t, ca, http.MethodGet, e.srv.URL+"/invoices", ""); got.status != 200 {
		t.Fatalf("after Retry-After: %+v", got)
	}
	// The per-request presentation path has the same terms.
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/invoices", nil)
	req.Header.Set(verifier.HeaderAgentCredential, e.presentation(t, a))
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 {
		t.Fatalf("presentation path: %d", resp.StatusCode)
	}
}

// TestPolicyRateLimits: the policy's classes apply when the options name
// no limiter, and a bad class fails Middleware when it is built.
func TestPolicyRateLimits(t *testing.T) {
	p := verifier.DefaultPolicy()
	p.RateLimits = []verifier.RateClass{{Name: "x", Actions: []string{"nocolon"}}}
	v, err := verifier.New(p, verifier.WithResolver(did.NewResolver(nil)), verifier.WithFetch(func(context.Context, string, string, int64) ([]byte, error) {
		return nil, errcode.New(errcode.FetchFailed, "none")
	}))
	if err != nil {
		t.Fatal(err)
	}
	nonces, _ := verifier.NewNonces(nil, time.Minute, nil)
	if _, err := verifier.Middleware(v, verifier.MiddlewareOptions{Audience: "aud", Nonces: nonces}); err == nil {
		t.Fatal("a bad rate class in the policy was accepted")
	}
	ch, _ := verifier.NewChannel(mustVerifier(t), verifier.ChannelOptions{})
	if _, err := verifier.Middleware(mustVerifier(t), verifier.MiddlewareOptions{Audience: "aud", Nonces: nonces, Channel: ch}); err == nil {
		t.Fatal("a channel of another verifier was accepted")
	}

	e := newChannelEnvWith(t, nil, func(p *verifier.Policy) {
		p.RateLimits = []verifier.RateClass{{Name: "all", Actions: []string{"*"}, PerAgent: verifier.Rate{Requests: 1, Per: time.Hour}}}
	}, verifier.ChannelOptions{})
	a := e.agent(jwa.EdDSA, "p1")
	c, _ := e.client(a, true)
	if got := do(t, c, http.MethodGet, e.srv.URL+"/invoices", ""); got.status != 200 {
		t.Fatal(got)
	}
	if got := do(t, c, http.MethodGet, e.srv.URL+"/invoices", ""); got.status != 429 || got.header.Get("Retry-After") != "3600" {
		t.Fatalf("%+v", got)
	}
}

func TestNewRateLimiterRefusesBadClasses(t *testing.T) {
	for _, c := range []verifier.RateClass{
		{Actions: []string{"a:b"}},
		{Name: "x"},
		{Name: "x", Actions: []string{"nocolon"}},
		{Name: "x", Actions: []string{"a:b"}, PerAgent: verifier.Rate{Requests: -1}},
	} {
		if _, err := verifier.NewRateLimiter([]verifier.RateClass{c}, 0); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestChannelNoncesAcrossReplicas: two replicas sharing a Redis nonce set
// refuse on one a signature the other accepted; a store that cannot be
// reached fails closed.
func TestChannelNoncesAcrossReplicas(t *testing.T) {
	url, prefix := testsvc.Redis(t)
	spent := func() *redisnonce.Store {
		s, err := redisnonce.New(url, redisnonce.WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	e1 := newChannelEnvWith(t, nil, nil, verifier.ChannelOptions{Spent: spent()})
	a := e1.agent(jwa.EdDSA, "p1")
	// The second replica trusts the same issuer and shares the nonce set.
	e2 := newChannelEnvWith(t, nil, nil, verifier.ChannelOptions{Spent: spent()}, e1)
	e1.establish(t, a)
	e2.establish(t, a)
	o := signOpts{key: a.key, kid: a.kid, nonce: "shared-" + a.kid}
	if got := e1.send(t, o); got.status != 200 {
		t.Fatalf("replica 1: %+v", got)
	}
	if got := e2.send(t, o); got.status != 401 || got.code != errcode.NonceReplayed {
		t.Fatalf("replica 2, same signature: %+v", got)
	}
	down, err := redisnonce.New("redis://127.0.0.1:1", redisnonce.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	e3 := newChannelEnvWith(t, nil, nil, verifier.ChannelOptions{Spent: down}, e1)
	if got := e3.send(t, signOpts{key: a.key, kid: a.kid, pres: e3.presentation(t, a)}); got.status != 503 || got.code != errcode.Internal {
		t.Fatalf("store down: %+v", got)
	}
}
