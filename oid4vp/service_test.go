package oid4vp

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/agentcert/agentcert/internal/jose"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

const testVCT = "urn:x:agent"

// env is one verifier (with a did:key of its own), one issuer and one
// agent holding a credential, on a clock the test moves.
type env struct {
	t     *testing.T
	svc   *Service
	v     *verifier.Verifier
	agent jwk.Key
	cred  string
	opts  WalletOptions
	iss   string // the issuer's DID

	nonces *verifier.Nonces // set by withNonces

	mu  sync.Mutex
	now time.Time
}

func (e *env) clock() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }

func (e *env) advance(d time.Duration) { e.mu.Lock(); e.now = e.now.Add(d); e.mu.Unlock() }

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, now: time.Now()}
	iss, issDID := testkeys.DIDKey(t, jwa.ES256)
	agent, _ := testkeys.DIDKey(t, jwa.EdDSA)
	apub, err := agent.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{
		"iss": issDID, "vct": testVCT, "iat": e.now.Unix(), "exp": e.now.Add(time.Hour).Unix(), "cnf": map[string]any{"jwk": apub},
		"principal":   map[string]any{"id": "did:web:acme.example", "name": "ACME Corp"},
		"agent":       map[string]any{"class": "ap-assistant", "version": "1.4.0"},
		"permissions": []any{map[string]any{"action": "invoices:read"}, map[string]any{"action": "payments:initiate"}},
		"autonomy":    "supervised",
	}
	e.cred, err = sdjwt.Issue(claims, []string{"/principal", "/principal/name", "/agent", "/agent/version", "/permissions/*", "/autonomy"}, iss, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.agent = agent
	e.iss = issDID
	e.serve(issDID)
	return e
}

// withNonces makes e's verifier one with single-use nonces, and the
// service's request nonces its nonces, as agentcert serve wires them.
func (e *env) withNonces() {
	e.t.Helper()
	nonces, err := verifier.NewNonces(nil, DefaultRequestTTL, e.clock)
	if err != nil {
		e.t.Fatal(err)
	}
	p := verifier.DefaultPolicy()
	p.CheckStatus = false
	p.Trusted[e.iss] = []string{testVCT}
	if e.v, err = verifier.New(p, verifier.WithClock(e.clock), verifier.WithNonces(nonces)); err != nil {
		e.t.Fatal(err)
	}
	e.svc.v, e.nonces = e.v, nonces
	e.svc.cfg.NewNonce = func() (string, error) { n, _, err := nonces.Issue(); return n, err }
}

// serve makes e's verifier, trusting issDID for testVCT, and its service.
func (e *env) serve(issDID string) {
	t := e.t
	p := verifier.DefaultPolicy()
	p.CheckStatus = false
	p.Trusted[issDID] = []string{testVCT}
	v, err := verifier.New(p, verifier.WithClock(e.clock))
	if err != nil {
		t.Fatal(err)
	}
	e.v = v
	vk, vdid := testkeys.DIDKey(t, jwa.ES256)
	e.svc, err = New(Config{BaseURL: "https://verifier.example", ClientDID: vdid, SigningKey: vk}, NewMemoryStore(e.clock), v, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	res := did.NewResolver(did.NewFetcher(did.FetcherConfig{}))
	e.opts = WalletOptions{Resolver: res, Now: e.clock, Fetch: func(ctx context.Context, uri string) ([]byte, error) {
		ref, ok := strings.CutPrefix(uri, "https://verifier.example"+RequestPath)
		if !ok {
			return nil, errcode.New(errcode.FetchFailed, "unknown uri")
		}
		jwt, err := e.svc.RequestObject(ctx, ref)
		return []byte(jwt), err
	}}
}

const readQuery = `{"credentials":[{"id":"cert","format":"dc+sd-jwt","meta":{"vct_values":["` + testVCT + `"]},
	"claims":[{"path":["permissions",null,"action"],"values":["invoices:read"]},{"path":["principal","id"]}]}]}`

func (e *env) create(req CreateRequest) *Created {
	e.t.Helper()
	if req.DCQLQuery == nil {
		req.DCQLQuery = json.RawMessage(readQuery)
	}
	c, err := e.svc.Create(context.Background(), req)
	if err != nil {
		e.t.Fatalf("Create: %v", err)
	}
	return c
}

// resolve plays the wallet's first half on c's link.
func (e *env) resolve(c *Created) *Resolved {
	e.t.Helper()
	params, err := ParseLink(c.Link)
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := ResolveRequest(context.Background(), params, e.opts)
	if err != nil {
		e.t.Fatalf("ResolveRequest: %v", err)
	}
	return r
}

func (e *env) answer(r *Resolved) url.Values {
	e.t.Helper()
	a, err := r.Answer([]Held{{SDJWT: e.cred}}, e.agent, e.clock())
	if err != nil {
		e.t.Fatalf("Answer: %v", err)
	}
	return a.Form
}

func refOf(c *Created) string {
	_, ref, _ := strings.Cut(c.Request.ResponseURI, ResponsePath)
	return ref
}

func TestRoundTrip(t *testing.T) {
	td := json.RawMessage(`{"type":"payment_confirmation","credential_ids":["cert"],"amount":"12.00","currency":"EUR"}`)
	for _, tc := range []struct {
		name, mode, prefix string
		td                 []json.RawMessage
		action             string
		allowed            bool
	}{
		{"signed direct_post", ModeDirectPost, "", nil, "", true},
		{"signed direct_post.jwt with transaction data", ModeDirectPostJWT, "", []json.RawMessage{td}, "invoices:read", true},
		{"unsigned redirect_uri", ModeDirectPost, "redirect_uri", nil, "", true},
		{"unsigned redirect_uri encrypted", ModeDirectPostJWT, "redirect_uri", []json.RawMessage{td}, "", true},
		{"action not permitted by the disclosed claims", ModeDirectPost, "", nil, "payments:initiate", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.create(CreateRequest{ResponseMode: tc.mode, ClientIDPrefix: tc.prefix, TransactionData: tc.td, Action: tc.action})
			if (c.RequestObject != "") != (tc.prefix == "") || (c.RequestURI != "") != (tc.prefix == "") {
				t.Fatalf("signed=%v request_uri=%q for prefix %q", c.RequestObject != "", c.RequestURI, tc.prefix)
			}
			r := e.resolve(c)
			if r.Signed != (tc.prefix == "") || r.ClientID != c.ClientID {
				t.Fatalf("resolved signed=%v client_id=%s", r.Signed, r.ClientID)
			}
			a, err := r.Answer([]Held{{SDJWT: e.cred}}, e.agent, e.clock())
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Presentations[0].Disclosed; !slices.Equal(got, []string{"/permissions/0/action", "/principal/id"}) {
				t.Fatalf("disclosed %v", got)
			}
			if (a.Form.Get("response") != "") != (tc.mode == ModeDirectPostJWT) {
				t.Fatalf("form %v for mode %s", a.Form, tc.mode)
			}
			pending, err := e.svc.Result(context.Background(), c.ID)
			if err != nil || pending.Status != StatusPending {
				t.Fatalf("before the answer: %+v, %v", pending, err)
			}
			res, err := e.svc.Respond(context.Background(), refOf(c), a.Form)
			if err != nil {
				t.Fatalf("Respond: %v", err)
			}
			if !res.Verified || res.Allowed != tc.allowed || res.Status != StatusVerified {
				t.Fatalf("result %+v", res)
			}
			got, err := e.svc.Result(context.Background(), c.ID)
			if err != nil || got.Status != StatusVerified {
				t.Fatalf("fetch: %+v %v", got, err)
			}
			claims := got.Presentations["cert"][0].Claims
			if _, ok := claims["autonomy"]; ok {
				t.Fatalf("autonomy was disclosed: %v", claims)
			}
			if len(tc.td) > 0 && (len(got.TransactionData) != 1 || got.TransactionData[0]["amount"] != "12.00") {
				t.Fatalf("transaction data %v", got.TransactionData)
			}
			_, err = e.svc.Result(context.Background(), c.ID)
			testkit.WantCode(t, err, errcode.NotFound, "second fetch")
		})
	}
}

// present builds a response by hand: disclose ptrs of e.cred with a KB-JWT
// for aud and nonce carrying claims.
func (e *env) present(r *Resolved, ptrs []string, aud, nonce string, kbClaims map[string]any) url.Values {
	e.t.Helper()
	p, err := sdjwt.Present(e.cred, ptrs, &sdjwt.KBOptions{Key: e.agent, Audience: aud, Nonce: nonce, IssuedAt: e.clock(), Claims: kbClaims})
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string][]string{"cert": {p}})
	return url.Values{"vp_token": {string(b)}, "state": {r.State}}
}

func TestRespondRefuses(t *testing.T) {
	td := json.RawMessage(`{"type":"payment_confirmation","credential_ids":["cert"],"amount":"12.00"}`)
	asked := []string{"/permissions/0/action", "/principal/id"}
	for _, tc := range []struct {
		name string
		td   []json.RawMessage
		form func(e *env, r *Resolved) url.Values
		code errcode.Code
	}{
		{"wrong nonce", nil, func(e *env, r *Resolved) url.Values { return e.present(r, asked, r.ClientID, "another", nil) }, errcode.KBWrongNonce},
		{"wrong audience", nil, func(e *env, r *Resolved) url.Values {
			return e.present(r, asked, "decentralized_identifier:did:web:elsewhere.example", r.Nonce, nil)
		}, errcode.KBWrongAudience},
		{"over-disclosure", nil, func(e *env, r *Resolved) url.Values {
			return e.present(r, append(asked, "/autonomy"), r.ClientID, r.Nonce, nil)
		}, errcode.OverDisclosure},
		{"over-disclosure of an element", nil, func(e *env, r *Resolved) url.Values {
			return e.present(r, append(asked, "/permissions/1"), r.ClientID, r.Nonce, nil)
		}, errcode.OverDisclosure},
		{"missing requested claim", nil, func(e *env, r *Resolved) url.Values {
			return e.present(r, asked[:1], r.ClientID, r.Nonce, nil)
		}, errcode.QueryUnsatisfied},
		{"transaction data not bound", []json.RawMessage{td}, func(e *env, r *Resolved) url.Values {
			return e.present(r, asked, r.ClientID, r.Nonce, nil)
		}, errcode.TransactionDataMismatch},
		{"tampered transaction data hash", []json.RawMessage{td}, func(e *env, r *Resolved) url.Values {
			other := b64.EncodeToString([]byte(`{"type":"payment_confirmation","credential_ids":["cert"],"amount":"9999.00"}`))
			return e.present(r, asked, r.ClientID, r.Nonce, map[string]any{"transaction_data_hashes": []string{TransactionDataHash(other)}})
		}, errcode.TransactionDataMismatch},
		{"hashes the request did not send", nil, func(e *env, r *Resolved) url.Values {
			return e.present(r, asked, r.ClientID, r.Nonce, map[string]any{"transaction_data_hashes": []string{"x"}})
		}, errcode.TransactionDataMismatch},
		{"unknown credential query id", nil, func(e *env, r *Resolved) url.Values {
			f := e.present(r, asked, r.ClientID, r.Nonce, nil)
			f.Set("vp_token", strings.Replace(f.Get("vp_token"), `"cert"`, `"other"`, 1))
			return f
		}, errcode.QueryUnsatisfied},
		{"declined", nil, func(e *env, r *Resolved) url.Values {
			f, err := r.Decline("", "the operator said no")
			if err != nil {
				e.t.Fatal(err)
			}
			return f
		}, errcode.PresentationDeclined},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.create(CreateRequest{TransactionData: tc.td})
			r := e.resolve(c)
			_, err := e.svc.Respond(context.Background(), refOf(c), tc.form(e, r))
			testkit.WantCode(t, err, tc.code)
			res, err := e.svc.Result(context.Background(), c.ID)
			if err != nil || res.Verified || res.Allowed || res.Error == nil || res.Error.Code != tc.code {
				t.Fatalf("stored result %+v, %v", res, err)
			}
		})
	}
}

func TestRespondOnce(t *testing.T) {
	e := newEnv(t)
	c := e.create(CreateRequest{})
	r := e.resolve(c)
	form := e.answer(r)
	bad := url.Values{"vp_token": form["vp_token"], "state": {"not-the-state"}}
	_, err := e.svc.Respond(context.Background(), refOf(c), bad)
	testkit.WantCode(t, err, errcode.StateMismatch, "wrong state")
	if _, err := e.svc.Respond(context.Background(), refOf(c), form); err != nil {
		t.Fatalf("a wrong state must not close the request: %v", err)
	}
	_, err = e.svc.Respond(context.Background(), refOf(c), form)
	testkit.WantCode(t, err, errcode.RequestAnswered, "replayed response")
	_, err = e.svc.RequestObject(context.Background(), refOf(c))
	testkit.WantCode(t, err, errcode.RequestAnswered, "request object after the answer")
	_, err = e.svc.Respond(context.Background(), "unknown", form)
	testkit.WantCode(t, err, errcode.NotFound, "unknown reference")
}

func TestRespondExpired(t *testing.T) {
	e := newEnv(t)
	c := e.create(CreateRequest{ExpiresIn: 60})
	r := e.resolve(c)
	form := e.answer(r)
	e.advance(61 * time.Second)
	_, err := e.svc.Respond(context.Background(), refOf(c), form)
	testkit.WantCode(t, err, errcode.RequestExpired)
	_, err = ResolveRequest(context.Background(), url.Values{"client_id": {c.ClientID}, "request_uri": {c.RequestURI}}, e.opts)
	testkit.WantCode(t, err, errcode.RequestExpired, "request_uri after expiry")
	res, err := e.svc.Result(context.Background(), c.ID)
	if err != nil || res.Status != StatusExpired {
		t.Fatalf("result %+v %v", res, err)
	}
	_, err = e.svc.Result(context.Background(), c.ID)
	testkit.WantCode(t, err, errcode.NotFound, "an expired request is forgotten once reported")
}

func TestEncryptedResponseRefuses(t *testing.T) {
	e := newEnv(t)
	c := e.create(CreateRequest{ResponseMode: ModeDirectPostJWT})
	r := e.resolve(c)
	form := e.answer(r)
	for name, f := range map[string]url.Values{
		"plain vp_token": {"vp_token": {`{"cert":["x"]}`}, "state": {r.State}},
		"not a JWE":      {"response": {"a.b.c"}},
		"repeated":       {"response": {form.Get("response"), form.Get("response")}},
	} {
		_, err := e.svc.Respond(context.Background(), refOf(c), f)
		testkit.WantCode(t, err, errcode.InvalidRequest, name)
	}
	// Encrypted to another request's key: does not decrypt.
	other := e.create(CreateRequest{ResponseMode: ModeDirectPostJWT})
	_, err := e.svc.Respond(context.Background(), refOf(other), form)
	testkit.WantCode(t, err, errcode.InvalidRequest, "another request's key")
	if _, err := e.svc.Respond(context.Background(), refOf(c), form); err != nil {
		t.Fatalf("the genuine response after the refusals: %v", err)
	}
}

func TestWalletRefuses(t *testing.T) {
	e := newEnv(t)
	c := e.create(CreateRequest{})
	ctx := context.Background()
	want := func(name string, params url.Values, code errcode.Code) {
		t.Helper()
		_, err := ResolveRequest(ctx, params, e.opts)
		testkit.WantCode(t, err, code, name)
	}
	// A request object whose signature was altered.
	parts := strings.Split(c.RequestObject, ".")
	sig := []byte(parts[2])
	sig[3] ^= 1
	tampered := parts[0] + "." + parts[1] + "." + string(sig)
	want("tampered signature", url.Values{"client_id": {c.ClientID}, "request": {tampered}}, errcode.RequestObjectInvalid)
	// Signed by another DID than its client_id names.
	other, _ := testkeys.DIDKey(t, jwa.ES256)
	forged := *e.svc
	forged.cfg.SigningKey = other
	obj := c.Request
	obj.Audience = SelfIssuedAudience
	jwt, err := forged.sign(obj)
	if err != nil {
		t.Fatal(err)
	}
	want("kid of another DID", url.Values{"client_id": {c.ClientID}, "request": {jwt}}, errcode.RequestObjectInvalid)
	want("client_id of the link differs", url.Values{"client_id": {"decentralized_identifier:did:web:x.example"}, "request": {c.RequestObject}}, errcode.RequestObjectInvalid)
	// Signed by the verifier, with a member given twice: two parsers could
	// read two response_uris from one signature.
	hdrJSON, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var hdr map[string]any
	_ = json.Unmarshal(hdrJSON, &hdr)
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	dup := append([]byte(`{"response_uri":"https://attacker.example/cb",`), payload[1:]...)
	twice, err := jose.Sign(dup, jwa.ES256, e.svc.cfg.SigningKey, hdr)
	if err != nil {
		t.Fatal(err)
	}
	want("a member twice", url.Values{"client_id": {c.ClientID}, "request": {string(twice)}}, errcode.RequestObjectInvalid)
	// decentralized_identifier: by value, unsigned.
	unsigned := c.Request.values()
	want("unsigned DID request", unsigned, errcode.RequestObjectInvalid)
	// redirect_uri: whose client_id is not its response_uri.
	u := e.create(CreateRequest{ClientIDPrefix: "redirect_uri"})
	params := u.Request.values()
	params.Set("response_uri", "https://attacker.example/cb")
	want("redirect_uri mismatch", params, errcode.RequestObjectInvalid)
	params = u.Request.values()
	params.Set("client_id", "x509_san_dns:verifier.example")
	want("unsupported prefix", params, errcode.RequestObjectInvalid)
	// A query the credential cannot satisfy.
	q := e.create(CreateRequest{DCQLQuery: json.RawMessage(`{"credentials":[{"id":"cert","format":"dc+sd-jwt","meta":{"vct_values":["` + testVCT + `"]},"claims":[{"path":["clearance"]}]}]}`)})
	r := e.resolve(q)
	_, err = r.Answer([]Held{{SDJWT: e.cred}}, e.agent, e.clock())
	testkit.WantCode(t, err, errcode.QueryUnsatisfied, "unsatisfiable query")
}

func TestCreateRefuses(t *testing.T) {
	e := newEnv(t)
	for name, tc := range map[string]struct {
		req  CreateRequest
		code errcode.Code
	}{
		"no query":          {CreateRequest{DCQLQuery: json.RawMessage(`null`)}, errcode.DCQLInvalid},
		"bad query":         {CreateRequest{DCQLQuery: json.RawMessage(`{"credentials":[]}`)}, errcode.DCQLInvalid},
		"bad mode":          {CreateRequest{ResponseMode: "fragment"}, errcode.InvalidInput},
		"bad prefix":        {CreateRequest{ClientIDPrefix: "x509_san_dns"}, errcode.InvalidInput},
		"td not an object":  {CreateRequest{TransactionData: []json.RawMessage{json.RawMessage(`[1]`)}}, errcode.InvalidInput},
		"td without type":   {CreateRequest{TransactionData: []json.RawMessage{json.RawMessage(`{"credential_ids":["cert"]}`)}}, errcode.InvalidInput},
		"td unknown query":  {CreateRequest{TransactionData: []json.RawMessage{json.RawMessage(`{"type":"t","credential_ids":["nope"]}`)}}, errcode.InvalidInput},
		"td other hash":     {CreateRequest{TransactionData: []json.RawMessage{json.RawMessage(`{"type":"t","credential_ids":["cert"],"transaction_data_hashes_alg":["sha-512"]}`)}}, errcode.InvalidInput},
		"action credential": {CreateRequest{Action: "a:b", ActionCredential: "nope"}, errcode.InvalidInput},
		"negative expiry":   {CreateRequest{ExpiresIn: -1}, errcode.InvalidInput},
	} {
		if tc.req.DCQLQuery == nil {
			tc.req.DCQLQuery = json.RawMessage(readQuery)
		}
		_, err := e.svc.Create(context.Background(), tc.req)
		testkit.WantCode(t, err, tc.code, name)
	}
	full, err := New(Config{BaseURL: "https://v.example", MaxPending: 1}, NewMemoryStore(e.clock), e.svc.v, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := full.Create(context.Background(), CreateRequest{DCQLQuery: json.RawMessage(readQuery)}); err != nil {
		t.Fatal(err)
	}
	_, err = full.Create(context.Background(), CreateRequest{DCQLQuery: json.RawMessage(readQuery)})
	testkit.WantCode(t, err, errcode.RateLimited, "store full")
	e.advance(DefaultRequestTTL)
	c, err := full.Create(context.Background(), CreateRequest{DCQLQuery: json.RawMessage(readQuery), ClientIDPrefix: "redirect_uri"})
	if err != nil {
		t.Fatalf("expired requests make room: %v", err)
	}
	// An answered request whose result is never fetched is kept for
	// ResultRetention past its expiry, then makes room too.
	params, _ := ParseLink(c.Link)
	r, err := ResolveRequest(context.Background(), params, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := full.Respond(context.Background(), refOf(c), e.answer(r)); err != nil {
		t.Fatal(err)
	}
	e.advance(DefaultRequestTTL)
	_, err = full.Create(context.Background(), CreateRequest{DCQLQuery: json.RawMessage(readQuery)})
	testkit.WantCode(t, err, errcode.RateLimited, "an unfetched result within its retention")
	e.advance(ResultRetention)
	if _, err := full.Create(context.Background(), CreateRequest{DCQLQuery: json.RawMessage(readQuery)}); err != nil {
		t.Fatalf("an unfetched result past its retention makes room: %v", err)
	}
}

// An expires_in beyond the cap is the cap, however large (seconds that
// overflow a time.Duration made the request expire before it was made).
func TestCreateExpiresInCapped(t *testing.T) {
	e := newEnv(t)
	for _, n := range []int64{1 << 40, 10_000_000_000, 1<<63 - 1} {
		c := e.create(CreateRequest{ExpiresIn: n})
		if want := e.clock().Add(DefaultRequestTTL).UTC(); !c.ExpiresAt.Equal(want) {
			t.Fatalf("expires_in %d: expires at %v, want %v", n, c.ExpiresAt, want)
		}
		c = e.create(CreateRequest{ExpiresIn: 60, Action: "payments:initiate", Approval: &ApprovalAsk{Principal: "did:web:acme.example", Subject: "did:web:agent.example", ExpiresIn: n}})
		if c.ApprovalRequest == nil || c.ApprovalRequest.Expiry != c.ExpiresAt.Unix() {
			t.Fatalf("approval expires_in %d: approval request %+v, the request expires at %v", n, c.ApprovalRequest, c.ExpiresAt)
		}
	}
}

// With Notify, an outcome delivered is not kept for fetching; one that
// could not be delivered is.
func TestNotify(t *testing.T) {
	for _, delivered := range []bool{true, false} {
		e := newEnv(t)
		var got []*Result
		e.svc.cfg.Notify = func(_ context.Context, r *Result) bool { got = append(got, r); return delivered }
		c := e.create(CreateRequest{})
		if _, err := e.svc.Respond(context.Background(), refOf(c), e.answer(e.resolve(c))); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != c.ID || !got[0].Verified {
			t.Fatalf("notified %+v", got)
		}
		_, err := e.svc.Result(context.Background(), c.ID)
		if delivered {
			testkit.WantCode(t, err, errcode.NotFound, "fetch after delivery")
		} else if err != nil {
			t.Fatalf("fetch after a failed delivery: %v", err)
		}
	}
}

// A direct_post.jwt response is a compact JWE: the JSON serialization,
// whose unprotected headers are not covered by the tag, could carry a zip
// (or anything else) past the checks made on the protected header.
func TestEncryptedResponseIsCompact(t *testing.T) {
	e := newEnv(t)
	c := e.create(CreateRequest{ResponseMode: ModeDirectPostJWT})
	r := e.resolve(c)
	r.ResponseMode = ModeDirectPost
	form := e.answer(r)
	payload, err := json.Marshal(map[string]any{"vp_token": json.RawMessage(form.Get("vp_token")), "state": form.Get("state")})
	if err != nil {
		t.Fatal(err)
	}
	var zipped bytes.Buffer
	fw, _ := flate.NewWriter(&zipped, flate.BestCompression)
	_, _ = fw.Write(payload)
	_ = fw.Close()
	key, err := jwk.ParseKey(c.Request.ClientMetadata.JWKS.Keys[0])
	if err != nil {
		t.Fatal(err)
	}
	for name, plain := range map[string][]byte{"plain": payload, "compressed in an unprotected header": zipped.Bytes()} {
		out, err := jwe.Encrypt(plain, jwe.WithJSON(), jwe.WithKey(jwa.ECDH_ES, key), jwe.WithContentEncryption(jwa.A128GCM))
		if err != nil {
			t.Fatal(err)
		}
		if name != "plain" {
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatal(err)
			}
			m["header"].(map[string]any)["zip"] = "DEF" // unprotected: the tag still verifies
			if out, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
		}
		_, err = e.svc.Respond(context.Background(), refOf(c), url.Values{"response": {string(out)}})
		testkit.WantCode(t, err, errcode.InvalidRequest, "JSON serialization, "+name)
	}
	// ECDH-ES agrees on the content key directly: the JWE Encrypted Key is
	// empty (RFC 7518, section 4.6), and one that is not is refused rather
	// than ignored.
	compact := e.answer(e.resolve(c)).Get("response")
	parts := strings.Split(compact, ".")
	parts[1] = "AAAA"
	_, err = e.svc.Respond(context.Background(), refOf(c), url.Values{"response": {strings.Join(parts, ".")}})
	testkit.WantCode(t, err, errcode.InvalidRequest, "an encrypted key with ECDH-ES")
	if _, err := e.svc.Respond(context.Background(), refOf(c), url.Values{"response": {compact}}); err != nil {
		t.Fatalf("the compact response after the refusals: %v", err)
	}
}

// An outcome the counterparty fetched while the callback was being
// delivered is not the wallet's failure: its presentation verified.
func TestNotifyFetchedMeanwhile(t *testing.T) {
	e := newEnv(t)
	c := e.create(CreateRequest{})
	var fetched *Result
	e.svc.cfg.Notify = func(ctx context.Context, r *Result) bool {
		var err error
		if fetched, err = e.svc.Result(ctx, c.ID); err != nil {
			t.Errorf("fetch during delivery: %v", err)
		}
		return true
	}
	res, err := e.svc.Respond(context.Background(), refOf(c), e.answer(e.resolve(c)))
	if err != nil || !res.Verified {
		t.Fatalf("Respond: %+v, %v", res, err)
	}
	if fetched == nil || !fetched.Verified {
		t.Fatalf("fetched %+v", fetched)
	}
	_, err = e.svc.Result(context.Background(), c.ID)
	testkit.WantCode(t, err, errcode.NotFound, "fetched once")
}

// Concurrent responses to one request: exactly one is checked, every
// other is presentation_request_answered, and the result is the winner's.
func TestRespondConcurrent(t *testing.T) {
	e := newEnv(t)
	c := e.create(CreateRequest{})
	form := e.answer(e.resolve(c))
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.svc.Respond(context.Background(), refOf(c), form)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch errcode.CodeOf(err) {
		case "":
			won++
		case errcode.RequestAnswered:
		default:
			t.Fatalf("a concurrent response: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d responses were accepted", won)
	}
	res, err := e.svc.Result(context.Background(), c.ID)
	if err != nil || !res.Verified {
		t.Fatalf("result %+v, %v", res, err)
	}
}

// The KB-JWT's aud is the client_id with its prefix: the bare DID, or the
// client_id of another request (redirect_uri: names its response_uri), is
// another verifier; and a presentation made for one request is refused by
// another, whatever its state.
func TestRespondBinding(t *testing.T) {
	asked := []string{"/permissions/0/action", "/principal/id"}
	e := newEnv(t)
	c := e.create(CreateRequest{})
	r := e.resolve(c)
	bare := strings.TrimPrefix(r.ClientID, PrefixDID)
	_, err := e.svc.Respond(context.Background(), refOf(c), e.present(r, asked, bare, r.Nonce, nil))
	testkit.WantCode(t, err, errcode.KBWrongAudience, "the DID without its prefix")

	u1 := e.create(CreateRequest{ClientIDPrefix: "redirect_uri"})
	u2 := e.create(CreateRequest{ClientIDPrefix: "redirect_uri"})
	r1, r2 := e.resolve(u1), e.resolve(u2)
	f := e.present(r2, asked, r1.ClientID, r2.Nonce, nil)
	_, err = e.svc.Respond(context.Background(), refOf(u2), f)
	testkit.WantCode(t, err, errcode.KBWrongAudience, "another request's redirect_uri client_id")

	d1, d2 := e.create(CreateRequest{}), e.create(CreateRequest{})
	p1, p2 := e.resolve(d1), e.resolve(d2)
	f = e.present(p1, asked, p1.ClientID, p1.Nonce, nil)
	_, err = e.svc.Respond(context.Background(), refOf(d2), f)
	testkit.WantCode(t, err, errcode.StateMismatch, "another request's state")
	f.Set("state", p2.State)
	_, err = e.svc.Respond(context.Background(), refOf(d2), f)
	testkit.WantCode(t, err, errcode.KBWrongNonce, "a presentation made for another request")
}

// Every presentation of a response carries the request's nonce: with the
// verifier's single-use nonces, a response with several presentations (two
// credential queries, or multiple) verifies, spending the nonce once, and
// the nonce is spent for any other use.
func TestRespondSeveralPresentationsOneNonce(t *testing.T) {
	two := `{"credentials":[{"id":"a","format":"dc+sd-jwt","meta":{"vct_values":["` + testVCT + `"]},"claims":[{"path":["principal","id"]}]},
		{"id":"b","format":"dc+sd-jwt","meta":{"vct_values":["` + testVCT + `"]},"claims":[{"path":["agent","class"]}]}]}`
	multiple := `{"credentials":[{"id":"a","format":"dc+sd-jwt","multiple":true,"meta":{"vct_values":["` + testVCT + `"]},"claims":[{"path":["principal","id"]}]}]}`
	for name, q := range map[string]string{"two credential queries": two, "multiple": multiple} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.withNonces()
			c := e.create(CreateRequest{DCQLQuery: json.RawMessage(q)})
			r := e.resolve(c)
			form := e.answer(r)
			if name == "multiple" {
				var tok map[string][]string
				if err := json.Unmarshal([]byte(form.Get("vp_token")), &tok); err != nil {
					t.Fatal(err)
				}
				p, err := sdjwt.Present(e.cred, []string{"/principal/id"}, &sdjwt.KBOptions{Key: e.agent, Audience: r.ClientID, Nonce: r.Nonce, IssuedAt: e.clock()})
				if err != nil {
					t.Fatal(err)
				}
				tok["a"] = append(tok["a"], p)
				b, _ := json.Marshal(tok)
				form.Set("vp_token", string(b))
			}
			res, err := e.svc.Respond(context.Background(), refOf(c), form)
			if err != nil || !res.Verified {
				t.Fatalf("Respond: %+v, %v", res, err)
			}
			var tok map[string][]string
			if err := json.Unmarshal([]byte(form.Get("vp_token")), &tok); err != nil {
				t.Fatal(err)
			}
			vr := e.v.Verify(context.Background(), verifier.Request{Presentation: tok["a"][0], Audience: r.ClientID, Nonce: r.Nonce})
			if vr.Verified || vr.Error == nil || vr.Error.Code != errcode.NonceReplayed {
				t.Fatalf("the nonce after the response: %+v", vr.Error)
			}
		})
	}
	// A later presentation still carries the request's nonce.
	e := newEnv(t)
	e.withNonces()
	c := e.create(CreateRequest{DCQLQuery: json.RawMessage(two)})
	r := e.resolve(c)
	var tok map[string][]string
	if err := json.Unmarshal([]byte(e.answer(r).Get("vp_token")), &tok); err != nil {
		t.Fatal(err)
	}
	other, _, err := e.nonces.Issue()
	if err != nil {
		t.Fatal(err)
	}
	if tok["b"][0], err = sdjwt.Present(e.cred, []string{"/agent/class"}, &sdjwt.KBOptions{Key: e.agent, Audience: r.ClientID, Nonce: other, IssuedAt: e.clock()}); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(tok)
	_, err = e.svc.Respond(context.Background(), refOf(c), url.Values{"vp_token": {string(b)}, "state": {r.State}})
	testkit.WantCode(t, err, errcode.KBWrongNonce, "a second presentation with another nonce")
}

// A response being checked when its request expires (a slow status list,
// say) keeps its request: it is reported pending, not expired, and a full
// store does not drop it to make room, so its outcome is recorded.
func TestInFlightResponseKept(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	st := NewMemoryStore(e.clock)
	full, err := New(Config{BaseURL: "https://v.example", MaxPending: 1}, st, e.svc.v, e.clock)
	if err != nil {
		t.Fatal(err)
	}
	c, err := full.Create(ctx, CreateRequest{DCQLQuery: json.RawMessage(readQuery), ExpiresIn: 60})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Claim(ctx, refOf(c)); err != nil { // Respond is checking the response
		t.Fatal(err)
	}
	e.advance(61 * time.Second)
	if res, err := full.Result(ctx, c.ID); err != nil || res.Status != StatusPending {
		t.Fatalf("while the response is checked: %+v, %v", res, err)
	}
	_, err = full.Create(ctx, CreateRequest{DCQLQuery: json.RawMessage(readQuery)})
	testkit.WantCode(t, err, errcode.RateLimited, "a request whose response is being checked")
	if err := st.Finish(ctx, refOf(c), &Result{ID: c.ID, Status: StatusVerified, Verified: true}); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if res, err := full.Result(ctx, c.ID); err != nil || res.Status != StatusVerified {
		t.Fatalf("the outcome: %+v, %v", res, err)
	}
}

// A response whose vp_token is not a JSON object of arrays of
// presentations (an older draft's object of strings, for one) does not
// parse, and is refused before the request is closed, as docs/oid4vp.md
// orders the checks: the wallet may still answer it properly.
func TestRespondMalformedVPTokenKeepsRequest(t *testing.T) {
	for _, mode := range []string{ModeDirectPost, ModeDirectPostJWT} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t)
			c := e.create(CreateRequest{ResponseMode: mode})
			r := e.resolve(c)
			p, err := sdjwt.Present(e.cred, []string{"/permissions/0/action", "/principal/id"}, &sdjwt.KBOptions{Key: e.agent, Audience: r.ClientID, Nonce: r.Nonce, IssuedAt: e.clock()})
			if err != nil {
				t.Fatal(err)
			}
			for i, vp := range []string{`{"cert":"` + p + `"}`, `["` + p + `"]`, `"` + p + `"`, `{"cert":[1]}`} {
				bad := url.Values{"vp_token": {vp}, "state": {r.State}}
				if mode == ModeDirectPostJWT {
					enc, err := r.encrypt(map[string]any{"vp_token": json.RawMessage(vp), "state": r.State})
					if err != nil {
						t.Fatal(err)
					}
					bad = url.Values{"response": {enc}}
				}
				_, err := e.svc.Respond(context.Background(), refOf(c), bad)
				testkit.WantCode(t, err, errcode.InvalidRequest, fmt.Sprintf("malformed vp_token %d", i))
			}
			res, err := e.svc.Respond(context.Background(), refOf(c), e.answer(r))
			if err != nil || !res.Verified {
				t.Fatalf("the proper response after malformed ones: %+v, %v", res, err)
			}
		})
	}
}
