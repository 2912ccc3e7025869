package verifier_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
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
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/internal/testsvc"
	"github.com/agentcert/agentcert/receipt"
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
	clk     *testkit.Clock
	iss     jwk.Key
	issDID  string
	list    *revocation.List
	nonces  *verifier.Nonces
	channel *verifier.Channel
	srv     *httptest.Server
	bare    http.Handler // the middleware before a handler that does nothing (benchmarks)
	hits    int
	idx     int
	// listClaims, when set, edits the claims of every Status List Token
	// the env serves (held under mu).
	listClaims func(*revocation.TokenClaims)
	// logPath is the action log (a receipt.FileSink) every decision is
	// recorded in; "" when the env signs no receipts (benchmarks).
	logPath string
}

type agent struct {
	key  jwk.Key
	cred string
	idx  int
	kid  string
	sub  string // its DID
}

func newChannelEnv(t *testing.T, limits []verifier.RateClass) *channelEnv {
	t.Helper()
	return newChannelEnvWith(t, limits, nil, verifier.ChannelOptions{})
}

// newChannelEnvTB is newChannelEnv without receipts, for benchmarks.
func newChannelEnvTB(t testing.TB, limits []verifier.RateClass) *channelEnv {
	t.Helper()
	return buildChannelEnv(t, limits, nil, verifier.ChannelOptions{}, false)
}

// newChannelEnvWith is newChannelEnv with a policy change, channel options
// and, given from, the same issuer and status list as from (another
// replica of the same counterparty).
func newChannelEnvWith(t testing.TB, limits []verifier.RateClass, policy func(*verifier.Policy), chOpts verifier.ChannelOptions, from ...*channelEnv) *channelEnv {
	t.Helper()
	return buildChannelEnv(t, limits, policy, chOpts, true, from...)
}

// buildChannelEnv makes the env; with receipts, the verifier signs a
// receipt of every decision (its own did:key) and the middleware records
// each in a JSON-lines file sink.
func buildChannelEnv(t testing.TB, limits []verifier.RateClass, policy func(*verifier.Policy), chOpts verifier.ChannelOptions, receipts bool, from ...*channelEnv) *channelEnv {
	t.Helper()
	return buildChannelEnvOpts(t, limits, policy, chOpts, receipts, nil, from...)
}

// buildChannelEnvOpts is buildChannelEnv with more verifier options, made
// by extra once the env has its issuer and list.
func buildChannelEnvOpts(t testing.TB, limits []verifier.RateClass, policy func(*verifier.Policy), chOpts verifier.ChannelOptions, receipts bool, extra func(*channelEnv) []verifier.Option, from ...*channelEnv) *channelEnv {
	t.Helper()
	e := &channelEnv{t: t, clk: testkit.NewClock(time.Now().Truncate(time.Second))}
	if len(from) > 0 {
		e.iss, e.issDID, e.list, e.idx = from[0].iss, from[0].issDID, from[0].list, 1000*len(from)
		e.clk.Set(from[0].clk.Now())
	} else {
		e.iss, e.issDID = testkeys.DIDKey(t, jwa.ES256)
		e.list, _ = revocation.NewList(131072, 2)
	}
	e.nonces, _ = verifier.NewNonces(nil, time.Minute, e.clk.Now)
	p := verifier.DefaultPolicy()
	p.Trusted[e.issDID] = []string{"urn:x"}
	p.MaxStatusAge = time.Minute
	if policy != nil {
		policy(&p)
	}
	var vopts []verifier.Option
	var sink receipt.Sink
	if receipts {
		vk, vdid := testkeys.DIDKey(t, jwa.EdDSA)
		signer, err := receipt.SignerFromJWK(vdid, vk, receipt.WithClock(e.clk.Now))
		if err != nil {
			t.Fatal(err)
		}
		vopts = append(vopts, verifier.WithReceipts(signer))
		e.logPath = filepath.Join(t.TempDir(), "receipts.jsonl")
		fs, err := receipt.OpenFileSink(e.logPath, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = fs.Close() })
		sink = fs
	}
	if extra != nil {
		vopts = append(vopts, extra(e)...)
	}
	v, err := verifier.New(p, append(vopts, verifier.WithResolver(did.NewResolver(nil)), verifier.WithClock(e.clk.Now),
		verifier.WithFetch(func(_ context.Context, url, _ string, _ int64) ([]byte, error) {
			now := e.clk.Now()
			e.mu.Lock()
			defer e.mu.Unlock()
			tok, err := e.listToken(now)
			return []byte(tok), err
		}))...)
	if err != nil {
		t.Fatal(err)
	}
	if chOpts.SessionLifetime == 0 {
		chOpts.SessionLifetime = 5 * time.Minute
	}
	// The audience is no URL: the channel answers to the server's address
	// (and to api.example, which the benchmarks' requests name).
	e.srv = httptest.NewUnstartedServer(nil)
	t.Cleanup(e.srv.Close)
	if chOpts.Authorities == nil {
		chOpts.Authorities = []string{e.srv.Listener.Addr().String(), "api.example"}
	}
	e.channel, err = verifier.NewChannel(v, chOpts)
	if err != nil {
		t.Fatal(err)
	}
	opts := verifier.MiddlewareOptions{Audience: "aud", Nonces: e.nonces, Channel: e.channel, Sink: sink, Action: func(r *http.Request) (string, map[string]any) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/pay") {
			return "payments:initiate", nil
		}
		if r.Method == http.MethodPut {
			return "invoices:annotate", nil
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
	e.srv.Config.Handler = mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := verifier.ResultFrom(r.Context())
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.hits++
		e.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"agent": res.Subject, "body": string(b), "receipt": res.Receipt})
	}))
	e.srv.Start()
	return e
}

// listToken signs the env's Status List Token as of now; the caller holds
// e.mu.
func (e *channelEnv) listToken(now time.Time) (string, error) {
	c := revocation.TokenClaims{Subject: statusURI, Issuer: e.issDID, IssuedAt: now, Expires: now.Add(time.Hour), TTL: time.Minute}
	if e.listClaims != nil {
		e.listClaims(&c)
	}
	return revocation.SignToken(e.list, c, e.iss)
}

func (e *channelEnv) agent(alg jwa.SignatureAlgorithm, principal string) *agent {
	e.t.Helper()
	return e.agentSD(alg, principal, "/permissions/*")
}

// agentSD is agent with the credential's selectively disclosable claims
// given.
func (e *channelEnv) agentSD(alg jwa.SignatureAlgorithm, principal string, sd ...string) *agent {
	e.t.Helper()
	k, sub := testkeys.DIDKey(e.t, alg)
	a := e.issueFor(k, sub, principal, sd)
	a.sub = sub
	return a
}

// reissue is a second credential (another status index) for a's key.
func (e *channelEnv) reissue(a *agent) *agent {
	e.t.Helper()
	b := e.issueFor(a.key, a.sub, "p1", []string{"/permissions/*"})
	b.sub = a.sub
	return b
}

func (e *channelEnv) issueFor(k jwk.Key, sub, principal string, sd []string) *agent {
	e.t.Helper()
	cnf := testkeys.PublicJWK(e.t, k)
	e.idx++
	now := e.clk.Now()
	cred, err := sdjwt.Issue(map[string]any{
		"iss": e.issDID, "sub": sub, "vct": "urn:x", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "cnf": map[string]any{"jwk": cnf},
		"status":       map[string]any{"status_list": map[string]any{"idx": e.idx, "uri": statusURI}},
		"principal":    map[string]any{"id": principal},
		"permissions":  []any{map[string]any{"action": "invoices:*"}},
		"prohibitions": []any{"payments:initiate"},
	}, sd, e.iss, nil)
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
	o := agentclient.Options{Credential: a.cred, Key: a.key, Audience: func(*http.Request) string { return "aud" }, Now: e.clk.Now, Base: rec}
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
	return answerOf(t, c, req)
}

// answerOf sends req with c; the answer's code is the problem code of the
// body, if any.
func answerOf(t *testing.T, c *http.Client, req *http.Request) answer {
	t.Helper()
	status, hdr, m := testkit.DoJSON(t, c, req)
	code, _ := m["code"].(string)
	return answer{status, errcode.Code(code), m, hdr}
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
	omit       string // a parameter left out of the signature: created, expires, nonce or keyid
	host       string // the Host the request is signed for and sent with; "" is the env's server
}

func (e *channelEnv) send(t *testing.T, o signOpts) answer {
	t.Helper()
	return e.sendTo(t, http.MethodPost, "/invoices/inv-1?a=1", o)
}

// sendTo is send with another method and path.
func (e *channelEnv) sendTo(t *testing.T, method, path string, o signOpts) answer {
	t.Helper()
	now := e.clk.Now()
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
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if o.host != "" {
		req.Host = o.host
	}
	if o.body != "" {
		cd, _ := httpsig.ContentDigest([]byte(o.body), httpsig.DigestSHA256)
		req.Header.Set("Content-Digest", cd)
	}
	if o.pres != "" {
		req.Header.Set(verifier.HeaderAgentCredential, o.pres)
	}
	alg, _ := httpsig.KeyAlg(o.key)
	params := httpsig.Params{Created: o.created, Expires: o.expires, Nonce: o.nonce, Alg: alg, KeyID: o.kid, Tag: o.tag}
	switch o.omit {
	case "created":
		params.Created = time.Time{}
	case "expires":
		params.Expires = time.Time{}
	case "nonce":
		params.Nonce = ""
	case "keyid":
		params.KeyID = ""
	}
	in, sig, err := httpsig.Sign(httpsig.Outgoing(req), "sig1", httpsig.Components(o.components...), params, o.key)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Signature-Input", in)
	req.Header.Set("Signature", sig)
	if o.mutate != nil {
		o.mutate(req)
	}
	return answerOf(t, e.srv.Client(), req)
}

// logged returns the receipts in the env's action log, oldest first.
func (e *channelEnv) logged(t *testing.T) []receipt.Record {
	t.Helper()
	var got []receipt.Record
	if _, err := receipt.SearchFile(e.logPath, receipt.Filter{}, func(r receipt.Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

// receiptOf checks the receipt an answer carries: it verifies offline
// against the verifier's did:key, and it is the last line of the action
// log.
func (e *channelEnv) receiptOf(t *testing.T, got answer) *receipt.Claims {
	t.Helper()
	jwt := got.header.Get(verifier.HeaderReceipt)
	if jwt == "" {
		t.Fatalf("answer %d %s carries no receipt", got.status, got.code)
	}
	c, err := receipt.Verify(context.Background(), jwt, receipt.VerifyOptions{Keys: receipt.DIDKeys(did.NewResolver(nil))})
	if err != nil {
		t.Fatalf("receipt does not verify: %v", err)
	}
	if log := e.logged(t); len(log) == 0 || log[len(log)-1].Receipt != jwt {
		t.Fatalf("the receipt is not the action log's last line (%d lines)", len(log))
	}
	if got.status == 200 && got.body["receipt"] != jwt {
		t.Fatalf("the handler saw receipt %v, the header says %s", got.body["receipt"], jwt)
	}
	if (got.status == 200) != (c.Result == receipt.Success) || (got.status != 200 && c.Error != string(got.code)) {
		t.Fatalf("answer %d %s, receipt %s %s", got.status, got.code, c.Result, c.Error)
	}
	return c
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
	p, err := sdjwt.Present(a.cred, []string{""}, &sdjwt.KBOptions{Key: a.key, Audience: "aud", Nonce: n, IssuedAt: e.clk.Now()})
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
	now := e.clk.Now()

	if got := e.send(t, signOpts{key: a.key, kid: a.kid, body: "{}"}); got.status != 200 {
		t.Fatalf("baseline: %+v", got)
	}
	replayNonce := "fixed-nonce"
	if got := e.send(t, signOpts{key: a.key, kid: a.kid, nonce: replayNonce}); got.status != 200 {
		t.Fatalf("first use of a nonce: %+v", got)
	}
	// bound: the signature verified under the session's key, so the
	// receipt names the credential; presented: the request opened a
	// session with a presentation that verified (named, but not bound).
	const bound, presented = true, true
	for _, tc := range []struct {
		name      string
		o         signOpts
		status    int
		code      errcode.Code
		bound     bool
		presented bool
	}{
		{"body changed", signOpts{key: a.key, kid: a.kid, body: `{"amount":1}`, mutate: func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"amount":9}`))
		}}, 401, errcode.DigestMismatch, bound, false},
		{"body and digest changed", signOpts{key: a.key, kid: a.kid, body: `{"amount":1}`, mutate: func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"amount":9}`))
			cd, _ := httpsig.ContentDigest([]byte(`{"amount":9}`), httpsig.DigestSHA256)
			r.Header.Set("Content-Digest", cd)
		}}, 401, errcode.SigInvalid, false, false},
		{"path changed", signOpts{key: a.key, kid: a.kid, mutate: func(r *http.Request) { r.URL.Path = "/invoices/inv-2" }}, 401, errcode.SigInvalid, false, false},
		{"query changed", signOpts{key: a.key, kid: a.kid, mutate: func(r *http.Request) { r.URL.RawQuery = "a=2" }}, 401, errcode.SigInvalid, false, false},
		{"method changed", signOpts{key: a.key, kid: a.kid, mutate: func(r *http.Request) { r.Method = http.MethodPut }}, 401, errcode.SigInvalid, false, false},
		{"expired", signOpts{key: a.key, kid: a.kid, created: now.Add(-3 * time.Minute), expires: now.Add(-2 * time.Minute)}, 401, errcode.SigExpired, false, false},
		{"too old", signOpts{key: a.key, kid: a.kid, created: now.Add(-6 * time.Minute), expires: now.Add(time.Minute)}, 401, errcode.SigExpired, false, false},
		{"valid too long", signOpts{key: a.key, kid: a.kid, expires: now.Add(time.Hour)}, 401, errcode.SigExpired, false, false},
		{"created in the future", signOpts{key: a.key, kid: a.kid, created: now.Add(2 * time.Minute)}, 401, errcode.SigNotYetValid, false, false},
		{"replayed nonce", signOpts{key: a.key, kid: a.kid, nonce: replayNonce}, 401, errcode.NonceReplayed, bound, false},
		{"keyid of another agent", signOpts{key: a.key, kid: b.kid}, 401, errcode.SigInvalid, false, false},
		{"key in no verified credential", signOpts{key: stranger, kid: strangerKid}, 401, errcode.CredentialRequired, false, false},
		{"credential of another key", signOpts{key: stranger, kid: strangerKid, pres: e.presentation(t, a)}, 401, errcode.SigKeyMismatch, false, presented},
		{"no @query", signOpts{key: a.key, kid: a.kid, components: []string{"@method", "@authority", "@path"}}, 401, errcode.SigCoverage, false, false},
		{"body without content-digest", signOpts{key: a.key, kid: a.kid, body: "{}", components: []string{"@method", "@authority", "@path", "@query"}}, 401, errcode.SigCoverage, false, false},
		{"uncovered Signature-Agent", signOpts{key: a.key, kid: a.kid, mutate: func(r *http.Request) {
			r.Header.Set("Signature-Agent", `sig1="https://issuer.example"`)
		}}, 401, errcode.SigCoverage, false, false},
		{"other tag", signOpts{key: a.key, kid: a.kid, tag: "other"}, 401, errcode.SigMalformed, false, false},
		{"garbled Signature", signOpts{key: a.key, kid: a.kid, mutate: func(r *http.Request) { r.Header.Set("Signature", "sig1=:!!:") }}, 401, errcode.SigMalformed, false, false},
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
			// Every refusal is a decision with its receipt and log line,
			// naming the credential only when what names it verified.
			c := e.receiptOf(t, got)
			named := tc.bound || tc.presented
			if c.Channel == nil || c.Channel.Bound != tc.bound || c.Channel.Presented != tc.presented || (c.Credential != nil) != named ||
				(named && (c.Credential.ID != receipt.CredentialID(a.cred) || c.Subject == "")) || (!named && c.Subject != "") {
				t.Fatalf("receipt %+v channel %+v", c, c.Channel)
			}
			if tc.code != errcode.SigMalformed && c.Channel.KeyID != tc.o.kid {
				t.Fatalf("receipt keyid %q, signature's %q", c.Channel.KeyID, tc.o.kid)
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
	e.clk.Advance(30 * time.Second)
	if got := do(t, c, http.MethodGet, e.srv.URL+"/invoices", ""); got.status != 200 {
		t.Fatalf("within the status max age the session stands: %+v", got)
	}
	e.clk.Advance(31 * time.Second)
	got := do(t, c, http.MethodGet, e.srv.URL+"/invoices", "")
	if got.status != 401 || got.code != errcode.Revoked {
		t.Fatalf("after the status max age: %+v", got)
	}
	if rec.presented != 2 {
		t.Fatalf("presented %d times, want 2 (first, then on the expired session)", rec.presented)
	}
}

// TestChannelSessionEndsWithItsStatusList: a session stands no longer than
// the status list it was checked against may be used: not past the
// token's exp, nor past its ttl, even when MaxStatusAge is longer. The
// status client would fetch the list anew by then; the session must not
// go on answering from the old one.
func TestChannelSessionEndsWithItsStatusList(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(c *revocation.TokenClaims)
		after time.Duration
	}{
		{"exp", func(c *revocation.TokenClaims) { c.Expires, c.TTL = c.IssuedAt.Add(90*time.Second), 0 }, 91 * time.Second},
		{"ttl", func(c *revocation.TokenClaims) { c.TTL = time.Minute }, 61 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newChannelEnvWith(t, nil, func(p *verifier.Policy) { p.MaxStatusAge = 5 * time.Minute }, verifier.ChannelOptions{})
			e.mu.Lock()
			e.listClaims = tc.edit
			e.mu.Unlock()
			a := e.agent(jwa.EdDSA, "p1")
			e.establish(t, a)
			if got := e.send(t, signOpts{key: a.key, kid: a.kid}); got.status != 200 {
				t.Fatalf("within the list's life the session stands: %d %s", got.status, got.code)
			}
			e.mu.Lock()
			_ = e.list.Set(a.idx, 1)
			e.mu.Unlock()
			e.clk.Advance(tc.after)
			if got := e.send(t, signOpts{key: a.key, kid: a.kid}); got.status != 401 || got.code != errcode.CredentialRequired {
				t.Fatalf("the session outlived its status list's %s: %d %s", tc.name, got.status, got.code)
			}
		})
	}
}

// TestChannelRevokedOnRepresentation: a presentation of the session's own
// credential that the status now refuses ends the session at once, not
// when its status grows old; a presentation that fails for any other
// reason, or of another credential, leaves the session alone. The issuer
// is the verifier's local one, whose status changes the next verification
// sees: a fetched list is cached as long as a session stands on it.
func TestChannelRevokedOnRepresentation(t *testing.T) {
	e := buildChannelEnvOpts(t, nil, func(p *verifier.Policy) { p.MaxStatusAge = 5 * time.Minute }, verifier.ChannelOptions{}, true,
		func(e *channelEnv) []verifier.Option {
			return []verifier.Option{verifier.WithLocalIssuer(&verifier.LocalIssuer{DID: e.issDID, StatusList: func(_ context.Context, uri string) (string, bool, error) {
				if uri != statusURI {
					return "", false, nil
				}
				now := e.clk.Now()
				e.mu.Lock()
				defer e.mu.Unlock()
				tok, err := e.listToken(now)
				return tok, true, err
			}})}
		})
	a := e.agent(jwa.EdDSA, "p1")
	other := e.reissue(a) // another credential of the same key
	e.establish(t, a)
	e.mu.Lock()
	_ = e.list.Set(other.idx, 1)
	e.mu.Unlock()
	if got := e.send(t, signOpts{key: a.key, kid: a.kid, pres: e.presentation(t, other)}); got.status != 401 || got.code != errcode.Revoked {
		t.Fatalf("another credential of the key, revoked: %+v", got)
	}
	if got := e.send(t, signOpts{key: a.key, kid: a.kid, pres: e.presentation(t, a)[:40]}); got.status != 401 {
		t.Fatalf("a malformed presentation: %+v", got)
	}
	if got := e.send(t, signOpts{key: a.key, kid: a.kid}); got.status != 200 {
		t.Fatalf("the session after failures that say nothing of its credential: %+v", got)
	}
	e.mu.Lock()
	_ = e.list.Set(a.idx, 1)
	e.mu.Unlock()
	if got := e.send(t, signOpts{key: a.key, kid: a.kid, pres: e.presentation(t, a)}); got.status != 401 || got.code != errcode.Revoked {
		t.Fatalf("the session's credential, revoked: %+v", got)
	}
	if got := e.send(t, signOpts{key: a.key, kid: a.kid}); got.status != 401 || got.code != errcode.CredentialRequired {
		t.Fatalf("the session outlived its credential's revocation: %+v", got)
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
	e.clk.Advance(30 * time.Second)
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

// presentDisclosing sends method /invoices/7 with a's credential presented
// disclosing disclose, and returns the status; a 403 must be missing_claim.
func (e *channelEnv) presentDisclosing(t *testing.T, a *agent, method string, disclose ...string) int {
	t.Helper()
	n, _, _ := e.nonces.Issue()
	p, err := sdjwt.Present(a.cred, disclose, &sdjwt.KBOptions{Key: a.key, Audience: "aud", Nonce: n, IssuedAt: e.clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, e.srv.URL+"/invoices/7", nil)
	req.Header.Set(verifier.HeaderAgentCredential, p)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var prob struct{ Code errcode.Code }
	_ = json.NewDecoder(resp.Body).Decode(&prob)
	if resp.StatusCode == http.StatusForbidden && prob.Code != errcode.MissingClaim {
		t.Fatalf("403 with %q, want %s", prob.Code, errcode.MissingClaim)
	}
	return resp.StatusCode
}

// TestRateLimitNeedsTheDisclosedPrincipal: when the issuer made principal
// selectively disclosable, an agent over its principal's terms cannot
// withhold principal to be counted in a bucket of its own; withholding it
// is refused while a per-principal limit applies, and only then.
func TestRateLimitNeedsTheDisclosedPrincipal(t *testing.T) {
	e := newChannelEnv(t, []verifier.RateClass{
		{Name: "reads", Actions: []string{"invoices:read"}, PerPrincipal: verifier.Rate{Requests: 1, Per: time.Hour}},
		{Name: "lists", Actions: []string{"invoices:*"}, PerAgent: verifier.Rate{Requests: 5, Per: time.Hour}},
	})
	a := e.agentSD(jwa.EdDSA, "p1", "/permissions/*", "/principal")
	present := func(method string, disclose ...string) int {
		t.Helper()
		return e.presentDisclosing(t, a, method, disclose...)
	}
	if got := present(http.MethodGet, ""); got != 200 {
		t.Fatalf("principal disclosed: %d", got)
	}
	if got := present(http.MethodGet, ""); got != 429 {
		t.Fatalf("over the principal's terms: %d", got)
	}
	if got := present(http.MethodGet, "/permissions/0"); got != 403 {
		t.Fatalf("principal withheld past the principal's terms: %d, want 403 missing_claim", got)
	}
	// A class with no per-principal terms does not need the principal.
	if got := present(http.MethodPut, "/permissions/0"); got != 200 {
		t.Fatalf("principal withheld, per-agent terms only: %d", got)
	}
}

// TestRateLimitNeedsTheDisclosedSubject: when the issuer made sub
// selectively disclosable, an agent over its own terms cannot withhold sub
// to be counted in the bucket of the empty subject, which it would share
// with nobody until then; withholding it is refused while a per-agent limit
// applies, and only then.
func TestRateLimitNeedsTheDisclosedSubject(t *testing.T) {
	e := newChannelEnv(t, []verifier.RateClass{
		{Name: "reads", Actions: []string{"invoices:read"}, PerAgent: verifier.Rate{Requests: 1, Per: time.Hour}},
		{Name: "notes", Actions: []string{"invoices:annotate"}, PerPrincipal: verifier.Rate{Requests: 5, Per: time.Hour}},
	})
	a := e.agentSD(jwa.EdDSA, "p1", "/permissions/*", "/sub")
	present := func(method string, disclose ...string) int {
		t.Helper()
		return e.presentDisclosing(t, a, method, disclose...)
	}
	if got := present(http.MethodGet, "/permissions/0", "/sub"); got != 200 {
		t.Fatalf("sub disclosed: %d", got)
	}
	if got := present(http.MethodGet, "/permissions/0", "/sub"); got != 429 {
		t.Fatalf("over the agent's terms: %d", got)
	}
	if got := present(http.MethodGet, "/permissions/0"); got != 403 {
		t.Fatalf("sub withheld past the agent's terms: %d, want 403 missing_claim", got)
	}
	// A class with no per-agent terms does not need the subject.
	if got := present(http.MethodPut, "/permissions/0"); got != 200 {
		t.Fatalf("sub withheld, per-principal terms only: %d", got)
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
		// A rate that is half set would limit nothing: refused, not
		// silently unlimited.
		{Name: "x", Actions: []string{"a:b"}, PerAgent: verifier.Rate{Requests: 10}},
		{Name: "x", Actions: []string{"a:b"}, PerPrincipal: verifier.Rate{Per: time.Minute}},
		{Name: "x", Actions: []string{"a:b"}, PerAgent: verifier.Rate{Burst: 5}},
		{Name: "x", Actions: []string{"a:b"}, PerPrincipal: verifier.Rate{Per: time.Minute, Burst: 5}},
	} {
		if _, err := verifier.NewRateLimiter([]verifier.RateClass{c}, 0); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	// The zero Rate is unlimited: a class of none exempts its actions
	// from a later catch-all class.
	if _, err := verifier.NewRateLimiter([]verifier.RateClass{
		{Name: "exempt", Actions: []string{"health:read"}},
		{Name: "all", Actions: []string{"*"}, PerAgent: verifier.Rate{Requests: 1, Per: time.Second}},
	}, 0); err != nil {
		t.Fatal(err)
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
	got := e3.send(t, signOpts{key: a.key, kid: a.kid, pres: e3.presentation(t, a)})
	if got.status != 503 || got.code != errcode.NonceStoreUnavailable {
		t.Fatalf("store down: %+v", got)
	}
	if c := e3.receiptOf(t, got); c.Channel == nil || !c.Channel.Bound || c.Credential == nil {
		t.Fatalf("store down: receipt %+v", c)
	}
}

// TestChannelReceipts: every decision on the agent channel — the request
// that presents, requests signed in its session, refused ones — gets one
// receipt, in the answer's header, in the handler's result and in the
// action log, stating that the request was channel-bound.
func TestChannelReceipts(t *testing.T) {
	e := newChannelEnv(t, []verifier.RateClass{{Name: "notes", Actions: []string{"invoices:annotate"},
		PerAgent: verifier.Rate{Requests: 1, Per: time.Hour}}})
	a := e.agent(jwa.EdDSA, "did:web:acme.example")
	pres := e.presentation(t, a)
	now := e.clk.Now()

	// The request that opens the session.
	opened := e.send(t, signOpts{key: a.key, kid: a.kid, pres: pres, nonce: "n-open"})
	c := e.receiptOf(t, opened)
	if opened.status != 200 || c.Channel == nil || *c.Channel != (receipt.Channel{KeyID: a.kid, Tag: verifier.TagAgentCert, Created: now.Unix(), Nonce: "n-open", Presented: true, Bound: true}) ||
		c.Reference != receipt.Reference(pres) || c.Credential == nil || c.Credential.ID != receipt.CredentialID(a.cred) || c.Credential.Issuer != e.issDID ||
		c.Principal != "did:web:acme.example" || c.Action != "invoices:read" || c.Decision == nil || !c.Decision.Allowed ||
		c.Status == nil || c.Status.Value != "valid" || c.Audience != "aud" || c.PolicyDigest == "" {
		t.Fatalf("opening receipt %+v channel %+v", c, c.Channel)
	}
	// A request in the session: no presentation, the same credential and
	// reference, bound by its signature.
	in := e.send(t, signOpts{key: a.key, kid: a.kid, body: `{"note":"x"}`, nonce: "n-1"})
	c = e.receiptOf(t, in)
	if in.status != 200 || c.Channel == nil || c.Channel.Presented || !c.Channel.Bound || c.Channel.Nonce != "n-1" ||
		c.Reference != receipt.Reference(pres) || c.Credential == nil || c.Credential.ID != receipt.CredentialID(a.cred) || c.Subject == "" {
		t.Fatalf("session receipt %+v channel %+v", c, c.Channel)
	}
	// Denied by the credential's terms: 403, an error receipt with the
	// decision, still bound.
	req := func(method, path, nonce string) answer {
		t.Helper()
		return e.sendTo(t, method, path, signOpts{key: a.key, kid: a.kid, nonce: nonce})
	}
	pay := req(http.MethodPost, "/invoices/inv-1/pay", "n-3")
	c = e.receiptOf(t, pay)
	if pay.status != 403 || c.Error != string(errcode.ActionProhibited) || c.Decision == nil || c.Decision.Allowed || c.Action != "payments:initiate" ||
		c.Channel == nil || !c.Channel.Bound || c.Credential == nil {
		t.Fatalf("denied receipt %d %+v", pay.status, c)
	}
	// Over its rate limit: 429, authorized but refused.
	if got := req(http.MethodPut, "/invoices/inv-1/notes", "n-4"); got.status != 200 {
		t.Fatalf("first note: %+v", got)
	}
	limited := req(http.MethodPut, "/invoices/inv-1/notes", "n-5")
	c = e.receiptOf(t, limited)
	if limited.status != 429 || c.Error != string(errcode.RateLimited) || c.Decision == nil || !c.Decision.Allowed || c.Channel == nil || !c.Channel.Bound {
		t.Fatalf("rate-limited receipt %d %+v", limited.status, c)
	}
	// Signed by another key under the agent's keyid: nothing verified, so
	// nothing is named but the keyid claimed.
	stranger, _ := keyutil.Generate(jwa.EdDSA)
	forged := e.send(t, signOpts{key: stranger, kid: a.kid, nonce: "n-6"})
	c = e.receiptOf(t, forged)
	if forged.status != 401 || c.Error != string(errcode.SigInvalid) || c.Credential != nil || c.Subject != "" || c.Principal != "" ||
		c.Channel == nil || c.Channel.Bound || c.Channel.KeyID != a.kid || c.Reference != "" {
		t.Fatalf("forged receipt %+v channel %+v", c, c.Channel)
	}
	// Revoked: once the session's status is stale the agent presents
	// again and is refused, with the status learned.
	e.mu.Lock()
	_ = e.list.Set(a.idx, 1)
	e.mu.Unlock()
	e.clk.Advance(2 * time.Minute)
	revoked := e.send(t, signOpts{key: a.key, kid: a.kid, pres: e.presentation(t, a), nonce: "n-7"})
	c = e.receiptOf(t, revoked)
	if revoked.status != 401 || c.Error != string(errcode.Revoked) || c.Status == nil || c.Status.Value != "revoked" ||
		c.Credential == nil || c.Channel == nil || !c.Channel.Presented || c.Channel.Bound {
		t.Fatalf("revoked receipt %+v channel %+v", c, c.Channel)
	}
	// One line per decision, each verifiable from the log alone.
	log := e.logged(t)
	if len(log) != 7 {
		t.Fatalf("%d log lines, want 7", len(log))
	}
	for _, r := range log {
		if _, err := receipt.Verify(context.Background(), r.Receipt, receipt.VerifyOptions{Keys: receipt.DIDKeys(did.NewResolver(nil))}); err != nil || r.Claims.Channel == nil {
			t.Fatalf("log line %+v: %v", r.Claims, err)
		}
	}
	// The plain path logs too, without a channel claim.
	preq, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/invoices", nil)
	resp, err := e.srv.Client().Do(preq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c = e.receiptOf(t, answer{status: resp.StatusCode, code: errcode.KBMissing, header: resp.Header})
	if resp.StatusCode != 401 || c.Channel != nil || c.Error != string(errcode.KBMissing) || c.Reference != "" {
		t.Fatalf("no credential: %d %+v", resp.StatusCode, c)
	}
}

// TestChannelNonceAtTheEdgeOfItsWindow: a signature nonce is remembered
// for as long as the signature is accepted, to its last instant
// (expires plus the policy's leeway), in this process and in a shared
// store alike: a replay at that instant is refused.
func TestChannelNonceAtTheEdgeOfItsWindow(t *testing.T) {
	var clk func() time.Time
	for name, spent := range map[string]verifier.SpentNonces{
		"in process": nil,
		"shared store": verifier.NewMemorySpentStore(1000, func() time.Time {
			if clk == nil { // asked at construction, before the env's clock exists
				return time.Time{}
			}
			return clk()
		}),
	} {
		t.Run(name, func(t *testing.T) {
			e := newChannelEnvWith(t, nil, func(p *verifier.Policy) { p.MaxStatusAge = time.Hour }, verifier.ChannelOptions{Spent: spent})
			clk = e.clk.Now
			a := e.agent(jwa.EdDSA, "p1")
			e.establish(t, a)
			now := e.clk.Now()
			o := signOpts{key: a.key, kid: a.kid, created: now, expires: now.Add(time.Minute), nonce: "edge-" + name}
			if got := e.send(t, o); got.status != 200 {
				t.Fatalf("first use: %+v", got)
			}
			e.clk.Set(now.Add(time.Minute + verifier.DefaultLeeway))
			if got := e.send(t, o); got.status == 200 {
				t.Fatalf("replayed at expires + leeway: %d, accepted", got.status)
			}
		})
	}
}

// TestChannelSignatureProfile: a signature covers @method, @authority,
// @path and @query (@target-uri does not stand for the last three), and
// carries created, expires, nonce and keyid; one that lacks any of them is
// refused however well it verifies. A nonce stays spent for its key when
// the agent opens a new session, and is its key's alone.
func TestChannelSignatureProfile(t *testing.T) {
	noDigest := []string{"@method", "@authority", "@path", "@query"}
	e := newChannelEnv(t, nil)
	a := e.agent(jwa.EdDSA, "p1")
	b := e.agent(jwa.ES256, "p1")
	e.establish(t, a)
	e.establish(t, b)
	for _, tc := range []struct {
		name string
		o    signOpts
		code errcode.Code
	}{
		{"@target-uri instead of @authority @path @query", signOpts{components: []string{"@method", "@target-uri"}}, errcode.SigCoverage},
		{"no @method", signOpts{components: []string{"@authority", "@path", "@query"}}, errcode.SigCoverage},
		{"no @authority", signOpts{components: []string{"@method", "@path", "@query"}}, errcode.SigCoverage},
		{"no @path", signOpts{components: []string{"@method", "@authority", "@query"}}, errcode.SigCoverage},
		{"content-digest only with a parameter", signOpts{body: "{}", components: noDigest, mutate: func(r *http.Request) {
			// Covered as "content-digest";bs, not as the field itself.
			r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `"@query")`, `"@query" "content-digest";bs)`, 1))
		}}, errcode.SigCoverage},
		{"no created", signOpts{omit: "created"}, errcode.SigMalformed},
		{"no expires", signOpts{omit: "expires"}, errcode.SigMalformed},
		{"no nonce", signOpts{omit: "nonce"}, errcode.SigMalformed},
		{"no keyid", signOpts{omit: "keyid"}, errcode.SigMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.key, tc.o.kid = a.key, a.kid
			if got := e.send(t, tc.o); got.status != 401 || got.code != tc.code {
				t.Fatalf("got %d %s (%v), want 401 %s", got.status, got.code, got.body["detail"], tc.code)
			}
		})
	}
	// Spent under a's key, across a new session, and not under b's.
	if got := e.send(t, signOpts{key: a.key, kid: a.kid, nonce: "kept"}); got.status != 200 {
		t.Fatalf("first use: %+v", got.code)
	}
	if got := e.send(t, signOpts{key: a.key, kid: a.kid, pres: e.presentation(t, a)}); got.status != 200 {
		t.Fatalf("a new session: %+v", got.code)
	}
	if got := e.send(t, signOpts{key: a.key, kid: a.kid, nonce: "kept"}); got.status != 401 || got.code != errcode.NonceReplayed {
		t.Fatalf("replayed in the new session: %d %s", got.status, got.code)
	}
	if got := e.send(t, signOpts{key: b.key, kid: b.kid, nonce: "kept"}); got.status != 200 {
		t.Fatalf("the same nonce under another key: %d %s", got.status, got.code)
	}
}

// TestChannelWrongAuthority: a request an agent signed for another
// counterparty (its @authority), replayed here within its window with the
// Host it was signed for, is refused before anything else, whether it
// carries the presentation or rides a session the agent has here; the
// receipt names no credential.
func TestChannelWrongAuthority(t *testing.T) {
	e := newChannelEnv(t, nil)
	a := e.agent(jwa.EdDSA, "p1")
	e.establish(t, a)
	for _, tc := range []struct {
		name string
		o    signOpts
	}{
		{"in a session", signOpts{key: a.key, kid: a.kid, host: "a.example"}},
		{"with the presentation", signOpts{key: a.key, kid: a.kid, host: "a.example", pres: e.presentation(t, a)}},
		{"with a body", signOpts{key: a.key, kid: a.kid, host: "A.Example:8443", body: `{"amount":1}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.send(t, tc.o)
			if got.status != 401 || got.code != errcode.SigWrongAuthority {
				t.Fatalf("signed for %s, sent here: %d %s (%v)", tc.o.host, got.status, got.code, got.body["detail"])
			}
			if !strings.Contains(got.header.Get("Accept-Signature"), `"@authority"`) {
				t.Fatalf("401 without the Accept-Signature hint: %q", got.header.Get("Accept-Signature"))
			}
			c := e.receiptOf(t, got)
			if c.Channel == nil || c.Channel.Bound || c.Channel.KeyID != a.kid || c.Credential != nil || c.Subject != "" || c.Reference != "" {
				t.Fatalf("receipt %+v channel %+v", c, c.Channel)
			}
		})
	}
	// The same agent, signing for this service, is served.
	if got := e.send(t, signOpts{key: a.key, kid: a.kid}); got.status != 200 {
		t.Fatalf("signed for this service: %d %s", got.status, got.code)
	}
}

// TestChannelAuthorities: the @authority values a channel accepts are
// ChannelOptions.Authorities (case-insensitive), else the host[:port] of
// an https:// or http:// audience (its default port left out); a request
// naming any other is refused first (sig_wrong_authority), one naming an
// accepted authority goes on to the other checks (here: a key no
// credential holds). Malformed entries fail NewChannel, and a channel
// without Authorities behind an audience that is no URL fails Middleware.
func TestChannelAuthorities(t *testing.T) {
	stranger, _ := keyutil.Generate(jwa.EdDSA)
	kid, _ := httpsig.Thumbprint(stranger)
	codeFor := func(t *testing.T, h http.Handler, target string) errcode.Code {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, target, nil)
		now := time.Now()
		in, sig, err := httpsig.Sign(httpsig.Incoming(req), "sig1", httpsig.Components(verifier.ChannelComponents...),
			httpsig.Params{Created: now, Expires: now.Add(time.Minute), Nonce: target, Alg: httpsig.AlgEd25519, KeyID: kid, Tag: verifier.TagAgentCert}, stranger)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Signature-Input", in)
		req.Header.Set("Signature", sig)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var m map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &m)
		code, _ := m["code"].(string)
		if rec.Code != 401 {
			t.Fatalf("%s: %d %s", target, rec.Code, code)
		}
		return errcode.Code(code)
	}
	nonces, _ := verifier.NewNonces(nil, time.Minute, nil)
	build := func(t *testing.T, aud string, authorities []string) (http.Handler, error) {
		t.Helper()
		v := mustVerifier(t)
		ch, err := verifier.NewChannel(v, verifier.ChannelOptions{Authorities: authorities})
		if err != nil {
			t.Fatal(err)
		}
		mw, err := verifier.Middleware(v, verifier.MiddlewareOptions{Audience: aud, Nonces: nonces, Channel: ch})
		if err != nil {
			return nil, err
		}
		return mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Fatal("served") })), nil
	}
	for _, tc := range []struct {
		name        string
		aud         string
		authorities []string
		accepted    []string
		refused     []string
	}{
		{"from an https audience", "https://Invoices.Example/api", nil,
			[]string{"https://invoices.example/x", "https://INVOICES.example:443/x", "http://invoices.example/x"},
			[]string{"https://a.example/x", "https://invoices.example:8443/x", "http://invoices.example:443/x", "http://127.0.0.1/x"}},
		{"from an audience with a port", "http://invoices.example:8080", nil,
			[]string{"http://invoices.example:8080/x", "https://invoices.example:8080/x"},
			[]string{"http://invoices.example/x", "https://invoices.example/x"}},
		{"explicit, over the audience", "https://invoices.example", []string{"127.0.0.1:8090", "API.example"},
			[]string{"http://127.0.0.1:8090/x", "https://api.example/x", "http://Api.Example/x"},
			[]string{"https://invoices.example/x", "http://127.0.0.1:8091/x", "http://127.0.0.1/x"}},
		{"explicit, behind a DID audience", "did:web:invoices.example", []string{"invoices.example"},
			[]string{"https://invoices.example/x"},
			[]string{"https://did.example/x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := build(t, tc.aud, tc.authorities)
			if err != nil {
				t.Fatal(err)
			}
			for _, target := range tc.accepted {
				if got := codeFor(t, h, target); got != errcode.CredentialRequired {
					t.Errorf("%s: %s, want it accepted (credential_required)", target, got)
				}
			}
			for _, target := range tc.refused {
				if got := codeFor(t, h, target); got != errcode.SigWrongAuthority {
					t.Errorf("%s: %s, want sig_wrong_authority", target, got)
				}
			}
		})
	}
	for _, aud := range []string{"did:web:invoices.example", "aud", "urn:x:invoices", "https:invoices.example", "ftp://invoices.example"} {
		_, err := build(t, aud, nil)
		if err == nil || !strings.Contains(err.Error(), "ChannelOptions.Authorities") {
			t.Errorf("audience %q without Authorities: %v", aud, err)
		}
	}
	for _, bad := range []string{"", "https://invoices.example", "invoices.example/api", "invoices.example?x", "invoices .example", "invoices.example\n"} {
		if _, err := verifier.NewChannel(mustVerifier(t), verifier.ChannelOptions{Authorities: []string{"ok.example", bad}}); err == nil || !strings.Contains(err.Error(), "Authorities") {
			t.Errorf("authority %q: %v", bad, err)
		}
	}
}

// TestChannelSessionEndsWithTheCredential: a session stands no longer than
// the credential it was opened with, however long SessionLifetime and
// MaxStatusAge are; the agent must then present again, and an expired
// credential is refused.
func TestChannelSessionEndsWithTheCredential(t *testing.T) {
	e := newChannelEnvWith(t, nil, func(p *verifier.Policy) { p.MaxStatusAge = time.Hour; p.Leeway = 0 }, verifier.ChannelOptions{SessionLifetime: time.Hour})
	e.mu.Lock()
	e.listClaims = func(c *revocation.TokenClaims) { c.TTL = 0 } // nor does the list's ttl bound it
	e.mu.Unlock()
	a := e.agent(jwa.EdDSA, "p1")
	now := e.clk.Now()
	pub := testkeys.PublicJWK(t, a.key)
	sub, _ := did.KeyDID(a.key)
	cred, err := sdjwt.Issue(map[string]any{
		"iss": e.issDID, "sub": sub, "vct": "urn:x", "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "cnf": map[string]any{"jwk": pub},
		"status":      map[string]any{"status_list": map[string]any{"idx": a.idx, "uri": statusURI}},
		"permissions": []any{map[string]any{"action": "invoices:*"}}, "prohibitions": []any{},
	}, nil, e.iss, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.cred = cred
	if got := e.send(t, signOpts{key: a.key, kid: a.kid, pres: e.presentation(t, a)}); got.status != 200 {
		t.Fatalf("opening: %d %s", got.status, got.code)
	}
	e.clk.Advance(time.Minute)
	if got := e.send(t, signOpts{key: a.key, kid: a.kid}); got.status != 200 {
		t.Fatalf("in the session: %d %s", got.status, got.code)
	}
	e.clk.Advance(time.Minute)
	if got := e.send(t, signOpts{key: a.key, kid: a.kid}); got.status != 401 || got.code != errcode.CredentialRequired {
		t.Fatalf("at the credential's exp: %d %s", got.status, got.code)
	}
	if got := e.send(t, signOpts{key: a.key, kid: a.kid, pres: e.presentation(t, a)}); got.status != 401 || got.code != errcode.Expired {
		t.Fatalf("presenting the expired credential: %d %s", got.status, got.code)
	}
}

// TestChannelSessionOutlivesAnExpiredHop: a stranger who holds an old
// chain built on an agent's credential, one whose hop has expired, cannot
// end that agent's session by presenting it under the agent's keyid. The
// refusal is expired, but it speaks of the hop, not of the session's
// credential (whose own expiry ends the session by itself).
func TestChannelSessionOutlivesAnExpiredHop(t *testing.T) {
	e := newChannelEnvWith(t, nil, func(p *verifier.Policy) { p.MaxStatusAge = 5 * time.Minute }, verifier.ChannelOptions{})
	a := e.agent(jwa.EdDSA, "p1")
	e.establish(t, a)
	now := e.clk.Now()
	sub, _ := keyutil.Generate(jwa.ES256)
	old, err := sdjwt.Delegate(a.cred, map[string]any{
		"vct": "urn:agentcert:delegation:v1", "sub": "did:web:sub.example", "cnf": map[string]any{"jwk": testkeys.PublicJWK(t, sub)},
		"iat": now.Add(-20 * time.Minute).Unix(), "exp": now.Add(-10 * time.Minute).Unix(),
		"permissions": []any{map[string]any{"action": "invoices:read"}}, "prohibitions": []any{"payments:initiate"},
	}, sdjwt.DelegateOptions{Key: a.key, IssuedAt: now.Add(-20 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := keyutil.Generate(jwa.EdDSA)
	// Any KB-JWT will do: the expired hop is refused before it is read.
	if got := e.send(t, signOpts{key: stranger, kid: a.kid, pres: old + "e30.e30.c2ln"}); got.status != 401 || got.code != errcode.Expired {
		t.Fatalf("the old chain: %+v", got)
	}
	if got := e.send(t, signOpts{key: a.key, kid: a.kid}); got.status != 200 {
		t.Fatalf("the agent's session after a stranger's expired chain: %+v", got)
	}
}

// TestChannelNonceTableFull: with its in-process nonce set full, the channel
// refuses a new signed request with 429 and Retry-After (it fails closed,
// at the cost of one Spend, never a scan of every nonce held), and takes
// signed requests again once the nonces held have expired.
func TestChannelNonceTableFull(t *testing.T) {
	e := newChannelEnvWith(t, nil, func(p *verifier.Policy) { p.MaxStatusAge = time.Hour }, verifier.ChannelOptions{MaxNonces: 3})
	a := e.agent(jwa.EdDSA, "p1")
	e.establish(t, a) // one nonce
	for i := range 2 {
		if got := e.send(t, signOpts{key: a.key, kid: a.kid, nonce: "fill-" + strconv.Itoa(i)}); got.status != 200 {
			t.Fatalf("request %d: %+v", i, got)
		}
	}
	got := e.send(t, signOpts{key: a.key, kid: a.kid, nonce: "one-too-many"})
	if got.status != http.StatusTooManyRequests || got.code != errcode.RateLimited || got.header.Get("Retry-After") == "" {
		t.Fatalf("with the nonce set full: %+v", got)
	}
	// Once they expire (the session with them), signing in takes a nonce again.
	e.clk.Set(e.clk.Now().Add(2*time.Minute + verifier.DefaultLeeway))
	e.establish(t, a)
}
