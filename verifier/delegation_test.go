package verifier

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

const chainAud = "https://shop.example"

// chainEnv is an issuer with a status list, an agent it certifies, and
// delegates with did:key identifiers.
type chainEnv struct {
	t      testing.TB
	now    time.Time
	v      *Verifier
	list   *revocation.List
	issuer jwk.Key
	issDID string
	root   string // the certification, every disclosure
	keys   []jwk.Key
	dids   []string // dids[0] is the agent
	opts   []Option
}

const statusURI = "https://issuer.example/statuslists/1"

func newChainEnv(t testing.TB, delegates int) *chainEnv {
	t.Helper()
	e := &chainEnv{t: t, now: time.Unix(1_800_000_000, 0)}
	e.issuer, e.issDID = testkeys.DIDKey(t, jwa.ES256)
	for i := 0; i <= delegates; i++ {
		alg := jwa.EdDSA
		if i%2 == 1 {
			alg = jwa.ES256
		}
		k, id := testkeys.DIDKey(t, alg)
		e.keys, e.dids = append(e.keys, k), append(e.dids, id)
	}
	e.root = e.issueRoot(e.rootClaims())
	e.list, _ = revocation.NewList(131072, 2)
	p := DefaultPolicy()
	p.Trusted[e.issDID] = []string{schemas.AgentCertificationV1}
	p.MaxStatusAge = 0
	e.opts = []Option{WithResolver(did.NewResolver(nil)), WithClock(func() time.Time { return e.now }), WithFetch(func(context.Context, string, string, int64) ([]byte, error) {
		tok, err := revocation.SignToken(e.list, revocation.TokenClaims{Subject: statusURI, Issuer: e.issDID, IssuedAt: e.now, Expires: e.now.Add(time.Hour), TTL: time.Minute}, e.issuer)
		return []byte(tok), err
	})}
	var err error
	e.v, err = New(p, e.opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// rootClaims are the certification's claims: the agent (delegate 0) may
// work on 2026 invoices and pay up to 500 EUR.
func (e *chainEnv) rootClaims() map[string]any {
	return map[string]any{
		"iss": e.issDID, "vct": schemas.AgentCertificationV1, "iat": e.now.Add(-time.Hour).Unix(), "exp": e.now.Add(24 * time.Hour).Unix(),
		"sub": e.dids[0], "cnf": map[string]any{"jwk": e.jwkMap(0)},
		"status":    map[string]any{"status_list": map[string]any{"idx": 7, "uri": statusURI}},
		"principal": map[string]any{"id": "did:web:acme.example", "name": "ACME"},
		"agent":     map[string]any{"class": "buyer"},
		"permissions": []any{
			map[string]any{"action": "invoices:*", "resource": "invoices/2026/*"},
			map[string]any{"action": "payments:initiate", "constraints": map[string]any{"max_amount": 500, "currency": "EUR"}},
		},
		"prohibitions": []any{"payments:approve"},
		"autonomy":     "autonomous",
	}
}

// issueRoot signs claims as the issuer, every permission disclosable.
func (e *chainEnv) issueRoot(claims map[string]any) string {
	e.t.Helper()
	root, err := sdjwt.Issue(claims, []string{"/permissions/*"}, e.issuer, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return root
}

func (e *chainEnv) jwkMap(i int) map[string]any {
	m := testkeys.PublicJWK(e.t, e.keys[i])
	delete(m, "kid")
	return m
}

// jwkDID is delegate i's key as a did:jwk.
func (e *chainEnv) jwkDID(i int) string {
	pub, _ := keyutil.Public(e.keys[i])
	id, err := did.JWKDID(pub)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// hop is a valid payload for delegate i: a subset of the root's authority.
func (e *chainEnv) hop(i int) map[string]any {
	return map[string]any{
		"vct": schemas.DelegationV1, "sub": e.dids[i], "cnf": map[string]any{"jwk": e.jwkMap(i)},
		"iat": e.now.Add(-time.Minute).Unix(), "exp": e.now.Add(30 * time.Minute).Unix(),
		"permissions": []any{
			map[string]any{"action": "invoices:read", "resource": "invoices/2026/01/*"},
			map[string]any{"action": "payments:initiate", "constraints": map[string]any{"max_amount": 200, "currency": "EUR"}},
		},
		"prohibitions": []any{"payments:approve", "vendors:*"},
		"task":         map[string]any{"id": "task-" + e.dids[i][len(e.dids[i])-4:], "purpose": "pay one invoice"},
	}
}

// chain delegates along payloads (payloads[j] goes to delegate j+1) and
// presents as the last delegate.
func (e *chainEnv) chain(payloads ...map[string]any) string {
	e.t.Helper()
	return e.chainNonce("n-7", payloads...)
}

func (e *chainEnv) chainNonce(nonce string, payloads ...map[string]any) string {
	e.t.Helper()
	s := e.root
	for j, p := range payloads {
		var err error
		if s, err = sdjwt.Delegate(s, p, sdjwt.DelegateOptions{Key: e.keys[j], IssuedAt: e.now.Add(-time.Minute)}); err != nil {
			e.t.Fatal(err)
		}
	}
	out, err := sdjwt.PresentChain(s, nil, &sdjwt.KBOptions{Key: e.keys[len(payloads)], Audience: chainAud, Nonce: nonce, IssuedAt: e.now})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *chainEnv) verify(pres, action string, attrs map[string]any) *Result {
	return e.v.Verify(context.Background(), Request{Presentation: pres, Audience: chainAud, Nonce: "n-7", Action: action, Attributes: attrs})
}

func TestChainsOfOneToThreeHops(t *testing.T) {
	e := newChainEnv(t, 3)
	for n := 1; n <= 3; n++ {
		var hops []map[string]any
		for i := 1; i <= n; i++ {
			hops = append(hops, e.hop(i))
		}
		pres := e.chain(hops...)
		r := e.verify(pres, "payments:initiate", map[string]any{"amount": 150, "currency": "EUR"})
		if !r.Allowed() {
			t.Fatalf("%d hops: %+v %+v", n, r.Error, r.Decision)
		}
		if len(r.Chain) != n || r.Chain[n-1].Subject != e.dids[n] || r.Subject != e.dids[0] || r.Status.Value != "valid" {
			t.Fatalf("%d hops: chain %+v subject %s status %+v", n, r.Chain, r.Subject, r.Status)
		}
		if r.Chain[0].Expires != e.now.Add(30*time.Minute).Unix() || r.Chain[0].Task["purpose"] != "pay one invoice" || r.Chain[0].Link != "sd_hash" {
			t.Fatalf("hop info %+v", r.Chain[0])
		}
		if len(r.EffectivePermissions) != 2 {
			t.Fatalf("effective permissions %v", r.EffectivePermissions)
		}
		// The effective authority is the last hop's: the root allows 400 EUR, the chain 200.
		r = e.verify(pres, "payments:initiate", map[string]any{"amount": 400, "currency": "EUR"})
		if !r.Verified || r.Decision.Allowed || r.Decision.Code != errcode.ConstraintViolated {
			t.Fatalf("%d hops, 400 EUR: %+v", n, r.Decision)
		}
		// The root may annotate invoices; no hop was given that.
		r = e.verify(pres, "invoices:annotate", map[string]any{"resource": "invoices/2026/01/7"})
		if !r.Verified || r.Decision.Allowed || r.Decision.Code != errcode.ActionNotPermitted {
			t.Fatalf("%d hops, annotate: %+v", n, r.Decision)
		}
		// The hop's added prohibition holds.
		r = e.verify(pres, "vendors:create", nil)
		if r.Decision.Code != errcode.ActionProhibited {
			t.Fatalf("%d hops, vendors: %+v", n, r.Decision)
		}
		// Authorize on the result's Authority decides as Verify did; on
		// its Claims (the root's) it would allow what no hop was given.
		if d := Authorize(r.Authority(), "invoices:annotate", map[string]any{"resource": "invoices/2026/01/7"}, e.now); d.Allowed || d.Code != errcode.ActionNotPermitted {
			t.Fatalf("%d hops, Authorize on Authority: %+v", n, d)
		}
		if d := Authorize(r.Claims, "invoices:annotate", map[string]any{"resource": "invoices/2026/01/7"}, e.now); !d.Allowed {
			t.Fatalf("%d hops, the root's claims should allow annotating: %+v", n, d)
		}
	}
}

func TestChainNarrowingRules(t *testing.T) {
	e := newChainEnv(t, 4)
	set := func(m map[string]any, k string, v any) map[string]any {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	perms := func(ps ...map[string]any) []any {
		out := make([]any, len(ps))
		for i, p := range ps {
			out[i] = p
		}
		return out
	}
	pay := func(c map[string]any) map[string]any {
		return map[string]any{"action": "payments:initiate", "constraints": c}
	}
	cases := []struct {
		name string
		hops []map[string]any
		want errcode.Code
	}{
		{"widened action", []map[string]any{set(e.hop(1), "permissions", perms(map[string]any{"action": "payments:*"}))}, errcode.DelegationWidened},
		{"other verb", []map[string]any{set(e.hop(1), "permissions", perms(map[string]any{"action": "payments:refund"}))}, errcode.DelegationWidened},
		{"widened resource", []map[string]any{set(e.hop(1), "permissions", perms(map[string]any{"action": "invoices:read", "resource": "invoices/*"}))}, errcode.DelegationWidened},
		{"resource dropped", []map[string]any{set(e.hop(1), "permissions", perms(map[string]any{"action": "invoices:read"}))}, errcode.DelegationWidened},
		{"resource escapes with ..", []map[string]any{set(e.hop(1), "permissions", perms(map[string]any{"action": "invoices:read", "resource": "invoices/2026/../2025/x"}))}, errcode.DelegationWidened},
		{"looser max_amount", []map[string]any{set(e.hop(1), "permissions", perms(pay(map[string]any{"max_amount": 501, "currency": "EUR"})))}, errcode.DelegationWidened},
		{"constraints dropped", []map[string]any{set(e.hop(1), "permissions", perms(map[string]any{"action": "payments:initiate"}))}, errcode.DelegationWidened},
		{"other currency", []map[string]any{set(e.hop(1), "permissions", perms(pay(map[string]any{"max_amount": 100, "currency": "USD"})))}, errcode.DelegationWidened},
		{"unknown constraint", []map[string]any{set(e.hop(1), "permissions", perms(pay(map[string]any{"max_amount": 100, "currency": "EUR", "max_count": 1})))}, errcode.UnknownConstraint},
		{"prohibition dropped", []map[string]any{set(e.hop(1), "prohibitions", []any{"vendors:*"})}, errcode.DelegationWidened},
		{"longer exp than the root", []map[string]any{set(e.hop(1), "exp", e.now.Add(25*time.Hour).Unix())}, errcode.DelegationOutlivesParent},
		{"longer exp than the parent hop", []map[string]any{e.hop(1), set(e.hop(2), "exp", e.now.Add(31*time.Minute).Unix())}, errcode.DelegationOutlivesParent},
		{"widened in the second hop", []map[string]any{set(e.hop(1), "permissions", perms(pay(map[string]any{"max_amount": 100, "currency": "EUR"}))), e.hop(2)}, errcode.DelegationWidened},
		{"prohibition dropped in the second hop", []map[string]any{e.hop(1), set(e.hop(2), "prohibitions", []any{"payments:approve"})}, errcode.DelegationWidened},
		{"hop lifetime over the policy's hour", []map[string]any{set(e.hop(1), "exp", e.now.Add(61*time.Minute).Unix())}, errcode.DelegationLifetime},
		{"depth over max_delegation_depth", []map[string]any{e.hop(1), e.hop(2), e.hop(3), e.hop(4)}, errcode.DelegationDepth},
		{"cnf is not the sub's key", []map[string]any{set(e.hop(1), "sub", e.dids[2])}, errcode.DelegationKeyMismatch},
		{"cnf is not the did:jwk sub's key", []map[string]any{set(e.hop(1), "sub", e.jwkDID(2))}, errcode.DelegationKeyMismatch},
		{"not a delegation payload", []map[string]any{set(e.hop(1), "vct", "urn:other")}, errcode.SchemaInvalid},
		{"no exp", []map[string]any{set(e.hop(1), "exp", nil)}, errcode.SchemaInvalid},
		{"hop expired", []map[string]any{set(set(e.hop(1), "exp", e.now.Add(-time.Minute).Unix()), "iat", e.now.Add(-2*time.Minute).Unix())}, errcode.Expired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.v.p.MaxDelegationLifetime = 0
			if c.want == errcode.DelegationOutlivesParent {
				e.v.p.MaxDelegationLifetime = 48 * time.Hour // so that the lifetime rule is not what fails
			}
			r := e.verify(e.chain(c.hops...), "payments:initiate", map[string]any{"amount": 1, "currency": "EUR"})
			if r.Verified || r.Code() != c.want {
				t.Fatalf("verified=%v %+v, want %s", r.Verified, r.Error, c.want)
			}
		})
	}
	e.v.p.MaxDelegationLifetime = 0
	// A did:jwk sub whose key is cnf.jwk is accepted.
	if r := e.verify(e.chain(set(e.hop(1), "sub", e.jwkDID(1))), "invoices:read", map[string]any{"resource": "invoices/2026/01/3"}); !r.Allowed() {
		t.Fatalf("a did:jwk delegate: %+v %+v", r.Error, r.Decision)
	}
	// A narrower but valid variety: verb wildcard covers a verb, sub-resource of a prefix, same currency lower amount.
	ok := set(e.hop(1), "permissions", perms(
		map[string]any{"action": "invoices:list", "resource": "invoices/2026/03/*"},
		pay(map[string]any{"max_amount": 0.5, "currency": "EUR"}),
	))
	if r := e.verify(e.chain(ok), "invoices:list", map[string]any{"resource": "invoices/2026/03/9"}); !r.Allowed() {
		t.Fatalf("narrower chain: %+v %+v", r.Error, r.Decision)
	}
}

func TestChainRootStatus(t *testing.T) {
	e := newChainEnv(t, 2)
	pres := e.chain(e.hop(1), e.hop(2))
	if r := e.verify(pres, "", nil); !r.Verified {
		t.Fatal(r.Error)
	}
	for v, want := range map[uint8]errcode.Code{revocation.StatusSuspended: errcode.Suspended, revocation.StatusRevoked: errcode.Revoked} {
		if err := e.list.Set(7, v); err != nil {
			t.Fatal(err)
		}
		if r := e.verify(pres, "invoices:read", nil); r.Verified || r.Code() != want {
			t.Fatalf("root status %d: %+v, want %s", v, r.Error, want)
		}
		_ = e.list.Set(7, revocation.StatusValid)
	}
}

func TestChainOnlyFromAgentCertifications(t *testing.T) {
	iss, issDID := testkeys.DIDKey(t, jwa.ES256)
	agent, agentDID := testkeys.DIDKey(t, jwa.EdDSA)
	sub, subDID := testkeys.DIDKey(t, jwa.EdDSA)
	cnf := testkeys.PublicJWK(t, agent)
	now := time.Now()
	root, err := sdjwt.Issue(map[string]any{"iss": issDID, "vct": "urn:x", "sub": agentDID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "cnf": map[string]any{"jwk": cnf}}, nil, iss, nil)
	if err != nil {
		t.Fatal(err)
	}
	scnf := testkeys.PublicJWK(t, sub)
	d, err := sdjwt.Delegate(root, map[string]any{"vct": schemas.DelegationV1, "sub": subDID, "cnf": map[string]any{"jwk": scnf}, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "permissions": []any{map[string]any{"action": "a:b"}}, "prohibitions": []any{}}, sdjwt.DelegateOptions{Key: agent})
	if err != nil {
		t.Fatal(err)
	}
	pres, err := sdjwt.PresentChain(d, nil, &sdjwt.KBOptions{Key: sub, Audience: "aud", Nonce: "n"})
	if err != nil {
		t.Fatal(err)
	}
	p := DefaultPolicy()
	p.Trusted[issDID] = []string{AnyVCT}
	p.CheckStatus = false
	v, _ := New(p, WithResolver(did.NewResolver(nil)), WithFetch(func(context.Context, string, string, int64) ([]byte, error) { return nil, nil }))
	if r := v.Verify(context.Background(), Request{Presentation: pres, Audience: "aud", Nonce: "n"}); r.Verified || r.Code() != errcode.DelegationMalformed {
		t.Fatalf("%+v", r.Error)
	}
}

// A hop that makes one of its limits or semantic claims (the restricting
// claims of schemas.DelegationV1: permissions, prohibitions, task,
// on_behalf_of) selectively disclosable is refused, whether the claim is
// withheld or disclosed: withholding a restriction could only widen
// authority. So is a hop hiding any other claim.
func TestChainHopClaimsInClear(t *testing.T) {
	e := newChainEnv(t, 1)
	for _, claim := range []string{"permissions", "prohibitions", "task", "on_behalf_of", "exp"} {
		for _, withhold := range []bool{true, false} {
			payload := e.hop(1)
			payload["on_behalf_of"] = map[string]any{"id": "did:web:acme.example"}
			r := e.verify(e.hopHiding(payload, claim, withhold), "payments:initiate", map[string]any{"amount": 1, "currency": "EUR"})
			if r.Verified || r.Code() != errcode.MissingClaim || !strings.Contains(r.Error.Message, "delegation hop 1") {
				t.Fatalf("%s withhold=%v: %+v", claim, withhold, r.Error)
			}
			if claim != "exp" && !strings.Contains(r.Error.Message, `"`+claim+`"`) {
				t.Fatalf("%s withhold=%v: %s does not name the claim", claim, withhold, r.Error.Message)
			}
		}
	}
	// The same hop with every claim in clear verifies.
	payload := e.hop(1)
	payload["on_behalf_of"] = map[string]any{"id": "did:web:acme.example"}
	if r := e.verify(e.hopHiding(payload, "", false), "payments:initiate", map[string]any{"amount": 1, "currency": "EUR"}); !r.Allowed() {
		t.Fatalf("the hop in clear: %+v %+v", r.Error, r.Decision)
	}
}

// hopHiding signs, as the agent, a hop to delegate 1 whose delegate
// payload makes claim selectively disclosable (none for ""), sending its
// disclosure unless withhold, and presents it as delegate 1.
func (e *chainEnv) hopHiding(payload map[string]any, claim string, withhold bool) string {
	t := e.t
	var inner string
	if claim != "" {
		v := payload[claim]
		delete(payload, claim)
		inner = b64disc(t, []any{"salt-p", claim, v})
		payload["_sd"] = []any{sdjwt.SDHash(inner)}
	}
	chain := e.signedHop(e.root, payload, e.keys[0], "salt-o")
	if inner != "" && !withhold {
		chain += inner + "~"
	}
	out, err := sdjwt.PresentChain(chain, nil, &sdjwt.KBOptions{Key: e.keys[1], Audience: chainAud, Nonce: "n-7", IssuedAt: e.now})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// signedHop appends to prev a kb+sd-jwt+kb hop signed by key whose
// delegate payload is the disclosure ["salt", payload]: the same salt and
// payload give the same disclosure bytes.
func (e *chainEnv) signedHop(prev string, payload map[string]any, key jwk.Key, salt string) string {
	t := e.t
	outer := b64disc(t, []any{salt, payload})
	body := map[string]any{
		"iat": e.now.Unix(), "aud": payload["sub"], "nonce": "x", "_sd_alg": "sha-256",
		"delegate_payload": []any{map[string]any{"...": sdjwt.SDHash(outer)}},
	}
	if sdjwt.IsChain(prev) {
		c, err := sdjwt.ParseChain(prev, sdjwt.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		body["sd_hash"] = sdjwt.SDHash(c.Hops[len(c.Hops)-1].SDHashInput())
	} else {
		body["sd_hash"] = sdjwt.SDHash(prev)
	}
	raw, _ := json.Marshal(body)
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.TypeKey, sdjwt.TypKBSDKB)
	pub, _ := keyutil.Public(key)
	alg := jwa.ES256
	if pub.KeyType() == jwa.OKP {
		alg = jwa.EdDSA
	}
	signed, err := jws.Sign(raw, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return prev + "~" + string(signed) + "~" + outer + "~"
}

func b64disc(t testing.TB, v []any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// FuzzCheckHop: arbitrary hop payloads against a fixed parent never panic,
// fail only with stable codes, and a hop that passes grants nothing its
// parent does not (every permission it lists is covered).
func FuzzCheckHop(f *testing.F) {
	e := newChainEnv(f, 1)
	seed, _ := json.Marshal(e.hop(1))
	f.Add(seed)
	f.Add([]byte(`{"permissions":[{"action":"payments:*"}]}`))
	f.Add([]byte(`{"vct":"urn:agentcert:delegation:v1","permissions":[{"action":"invoices:read","resource":"invoices/2026/../x"}]}`))
	parent := Authority{
		Permissions: []any{
			map[string]any{"action": "invoices:*", "resource": "invoices/2026/*"},
			map[string]any{"action": "payments:initiate", "constraints": map[string]any{"max_amount": json.Number("500"), "currency": "EUR"}},
		},
		Prohibitions: []any{"payments:approve"},
		Expires:      e.now.Add(time.Hour),
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var hop map[string]any
		if dec.Decode(&hop) != nil || hop == nil {
			return
		}
		got, err := CheckHop(e.v.reg, parent, hop, DelegationLimits{})
		if err != nil {
			if errcode.CodeOf(err) == errcode.Internal {
				t.Fatalf("uncoded: %v", err)
			}
			return
		}
		for _, p := range got.Permissions {
			if covered(p.(map[string]any), parent.Permissions) != nil {
				t.Fatalf("accepted a permission the parent does not cover: %v", p)
			}
		}
		if got.Expires.After(parent.Expires) {
			t.Fatal("accepted a hop outliving its parent")
		}
	})
}

// The middleware takes a chain in Agent-Credential like any presentation.
func TestMiddlewareAcceptsChains(t *testing.T) {
	e := newChainEnv(t, 2)
	nonces, err := NewNonces(nil, time.Minute, func() time.Time { return e.now })
	if err != nil {
		t.Fatal(err)
	}
	mw, err := Middleware(e.v, MiddlewareOptions{Audience: chainAud, Nonces: nonces, Action: func(r *http.Request) (string, map[string]any) {
		return r.URL.Query().Get("action"), map[string]any{"amount": 120, "currency": "EUR"}
	}})
	if err != nil {
		t.Fatal(err)
	}
	var seen *Result
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen, _ = ResultFrom(r.Context()) }))
	call := func(pres, action string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/pay?action="+action, nil)
		req.Header.Set(HeaderAgentCredential, pres)
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	nonce := func() string {
		n, _, err := nonces.Issue()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if code := call(e.chainNonce(nonce(), e.hop(1), e.hop(2)), "payments:initiate"); code != http.StatusOK || seen == nil || len(seen.Chain) != 2 {
		t.Fatalf("valid chain: %d %+v", code, seen)
	}
	if code := call(e.chainNonce(nonce(), e.hop(1), e.hop(2)), "invoices:annotate"); code != http.StatusForbidden {
		t.Fatalf("action outside the last hop: %d", code)
	}
	wide := e.hop(1)
	wide["permissions"] = []any{map[string]any{"action": "payments:*"}}
	if code := call(e.chainNonce(nonce(), wide), "payments:initiate"); code != http.StatusUnauthorized {
		t.Fatalf("widened chain: %d", code)
	}
}

// A Result read back from JSON (the answer of POST /v1/verify) does not
// carry the last hop's payload, only the root certification's claims: for
// a chain its Authority must grant nothing, not fall back to the root's
// claims, which grant more than any hop. A plain credential's result read
// back still decides on its claims.
func TestChainAuthorityReadBackFromJSON(t *testing.T) {
	e := newChainEnv(t, 1)
	annotate := map[string]any{"resource": "invoices/2026/01/7"}
	r := e.verify(e.chain(e.hop(1)), "", nil)
	if !r.Verified {
		t.Fatal(r.Error)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Chain) != 1 || back.Claims == nil {
		t.Fatalf("read back %+v", back)
	}
	if d := Authorize(back.Authority(), "invoices:annotate", annotate, e.now); d.Allowed {
		t.Fatalf("a chain's result read back from JSON grants the root's authority: %+v", d)
	}
	if d := Authorize(r.Authority(), "invoices:read", annotate, e.now); !d.Allowed {
		t.Fatalf("the verified chain's own authority: %+v", d)
	}

	pres, err := sdjwt.Present(e.root, []string{""}, &sdjwt.KBOptions{Key: e.keys[0], Audience: chainAud, Nonce: "n-7", IssuedAt: e.now})
	if err != nil {
		t.Fatal(err)
	}
	plain := e.verify(pres, "", nil)
	if !plain.Verified {
		t.Fatal(plain.Error)
	}
	b, _ = json.Marshal(plain)
	back = Result{}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := Authorize(back.Authority(), "invoices:annotate", annotate, e.now); !d.Allowed {
		t.Fatalf("a plain credential's result read back: %+v", d)
	}
}

// A root certification whose prohibitions or task cannot be read denies
// every action (Authorize fails closed); a delegation hop must not turn
// that into a usable authority by stating well-formed claims of its own.
func TestChainFromUnreadableRootRestrictions(t *testing.T) {
	for name, change := range map[string]func(map[string]any){
		"prohibitions not an array": func(c map[string]any) { c["prohibitions"] = "payments:approve" },
		"task not an object":        func(c map[string]any) { c["task"] = "T-1" },
		"task expires negative":     func(c map[string]any) { c["task"] = map[string]any{"id": "T-1", "expires": -1} },
		"task expires a string":     func(c map[string]any) { c["task"] = map[string]any{"id": "T-1", "expires": "tomorrow"} },
	} {
		t.Run(name, func(t *testing.T) {
			e := newChainEnv(t, 1)
			claims := e.rootClaims()
			change(claims)
			e.root = e.issueRoot(claims)
			read := map[string]any{"resource": "invoices/2026/01/7"}
			pres, err := sdjwt.Present(e.root, []string{""}, &sdjwt.KBOptions{Key: e.keys[0], Audience: chainAud, Nonce: "n-7", IssuedAt: e.now})
			if err != nil {
				t.Fatal(err)
			}
			if r := e.verify(pres, "invoices:read", read); r.Allowed() {
				t.Fatalf("the root itself allows: %+v %+v", r.Error, r.Decision)
			}
			if r := e.verify(e.chain(e.hop(1)), "invoices:read", read); r.Allowed() {
				t.Fatalf("a hop from it allows: %+v", r.Decision)
			} else if r.Verified || r.Code() != errcode.DelegationWidened {
				t.Fatalf("a hop from it: verified=%v %+v, want %s", r.Verified, r.Error, errcode.DelegationWidened)
			}
		})
	}
}

// TestChainRootRestrictionsInClear: a certification whose disclosed
// permission hides a constraint in a disclosure of its own is refused
// (missing_claim) as the root of a chain, as it is when presented alone.
// A chain root used to be checked without its disclosures: a disclosed
// permission was taken for a withheld one and not looked into, so a
// delegator who withheld the hidden max_amount could delegate payments
// without the limit.
func TestChainRootRestrictionsInClear(t *testing.T) {
	e := newChainEnv(t, 1)
	root, err := sdjwt.Issue(e.rootClaims(), []string{"/permissions/*", "/permissions/1/constraints/max_amount"}, e.issuer, nil)
	if err != nil {
		t.Fatal(err)
	}
	pay := map[string]any{"amount": 10000, "currency": "EUR"}
	// Alone, the certification is refused.
	plain, err := sdjwt.Present(root, []string{""}, &sdjwt.KBOptions{Key: e.keys[0], Audience: chainAud, Nonce: "n-7", IssuedAt: e.now})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.verify(plain, "payments:initiate", pay); r.Verified || r.Code() != errcode.MissingClaim {
		t.Fatalf("the certification alone: verified=%v %+v", r.Verified, r.Error)
	}
	// The same root, every disclosure sent, under a narrowing hop.
	e.root = root
	if r := e.verify(e.chain(e.hop(1)), "payments:initiate", map[string]any{"amount": 1, "currency": "EUR"}); r.Verified || r.Code() != errcode.MissingClaim {
		t.Fatalf("the root with every disclosure: verified=%v %+v", r.Verified, r.Error)
	}
	// The root without the max_amount disclosure, and a hop that drops the
	// limit the root's issuer set.
	tok, err := sdjwt.Parse(root, sdjwt.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	withheld := tok.IssuerJWT + "~"
	for _, d := range tok.Disclosures {
		if d.Name != "max_amount" {
			withheld += d.Raw + "~"
		}
	}
	e.root = withheld
	hop := e.hop(1)
	hop["permissions"] = []any{map[string]any{"action": "payments:initiate", "constraints": map[string]any{"currency": "EUR"}}}
	if r := e.verify(e.chain(hop), "payments:initiate", pay); r.Verified || r.Code() != errcode.MissingClaim {
		t.Fatalf("the root withholding max_amount: verified=%v %+v %+v", r.Verified, r.Error, r.Decision)
	}
}
