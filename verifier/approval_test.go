package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/approval"
	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/receipt"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

const (
	apIssuer    = "https://issuer.example"
	apPrincipal = "did:web:acme.example"
	apAudience  = "https://shop.example"
)

// approvalFixture is an https issuer, an agent certified with a payment
// permission that needs approval above 100 EUR, and an approver certified
// for the agent's principal.
type approvalFixture struct {
	t        *testing.T
	v        *Verifier
	now      time.Time
	issuer   jwk.Key
	agent    jwk.Key
	agentDID string
	approver jwk.Key // kid: its thumbprint
	apDID    string
	apCred   string
	policy   Policy
	opts     []Option // those v was built with
}

func newApprovalFixture(t *testing.T, edit func(*Policy)) *approvalFixture {
	t.Helper()
	f := &approvalFixture{t: t, now: time.Unix(1_800_000_000, 0)}
	f.issuer, _ = keyutil.Generate(jwa.ES256)
	_ = f.issuer.Set(jwk.KeyIDKey, "k1")
	f.agent, _ = keyutil.Generate(jwa.EdDSA)
	apub, _ := keyutil.Public(f.agent)
	f.agentDID, _ = did.KeyDID(apub)
	f.approver, f.apDID = f.newApprover()
	f.apCred = f.approverCred(f.issuer, apIssuer, f.approver, f.apDID, apPrincipal, schemas.ApproverV1)
	pub, _ := keyutil.Public(f.issuer)
	f.policy = DefaultPolicy()
	f.policy.Trusted[apIssuer] = []string{"urn:x"}
	f.policy.CheckStatus = false
	if edit != nil {
		edit(&f.policy)
	}
	f.opts = []Option{WithResolver(did.NewResolver(nil)), WithClock(func() time.Time { return f.now }),
		WithFetch(func(_ context.Context, url, _ string, _ int64) ([]byte, error) {
			if url != apIssuer+"/.well-known/jwt-vc-issuer" {
				return nil, errors.New("unexpected fetch of " + url)
			}
			set := jwk.NewSet()
			_ = set.AddKey(pub)
			return json.Marshal(map[string]any{"issuer": apIssuer, "jwks": set})
		})}
	v, err := New(f.policy, f.opts...)
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	return f
}

func (f *approvalFixture) newApprover() (jwk.Key, string) {
	k, _ := keyutil.Generate(jwa.EdDSA)
	tp, err := httpsig.Thumbprint(k)
	if err != nil {
		f.t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, tp)
	pub, _ := keyutil.Public(k)
	d, _ := did.KeyDID(pub)
	return k, d
}

// agentAsApprover is the agent's own key, with the kid an approver key
// carries (its thumbprint).
func (f *approvalFixture) agentAsApprover() jwk.Key {
	k, err := jwk.FromRaw(testkeys.Raw(f.t, f.agent))
	if err != nil {
		f.t.Fatal(err)
	}
	tp, err := httpsig.Thumbprint(k)
	if err != nil {
		f.t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, tp)
	return k
}

func (f *approvalFixture) approverCred(signer jwk.Key, iss string, key jwk.Key, sub, principal, vct string) string {
	cred, err := sdjwt.Issue(map[string]any{
		"iss": iss, "vct": vct, "iat": f.now.Unix(), "exp": f.now.Add(24 * time.Hour).Unix(), "sub": sub,
		"cnf": map[string]any{"jwk": testkeys.PublicJWK(f.t, key)}, "principal": map[string]any{"id": principal},
		"approver": map[string]any{"name": "Dana"},
	}, nil, signer, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return cred
}

// present makes a presentation of a credential with perms.
func (f *approvalFixture) present(perms ...map[string]any) string {
	return f.presentNonce("n", perms...)
}

func (f *approvalFixture) presentNonce(nonce string, perms ...map[string]any) string {
	ps := make([]any, len(perms))
	for i, p := range perms {
		ps[i] = p
	}
	cred, err := sdjwt.Issue(map[string]any{
		"iss": apIssuer, "vct": "urn:x", "iat": f.now.Unix(), "exp": f.now.Add(24 * time.Hour).Unix(), "sub": f.agentDID,
		"cnf": map[string]any{"jwk": testkeys.PublicJWK(f.t, f.agent)}, "principal": map[string]any{"id": apPrincipal, "name": "ACME"},
		"permissions": ps,
	}, nil, f.issuer, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	pres, err := sdjwt.Present(cred, nil, &sdjwt.KBOptions{Key: f.agent, Audience: apAudience, Nonce: nonce, IssuedAt: f.now})
	if err != nil {
		f.t.Fatal(err)
	}
	return pres
}

var payPerm = map[string]any{"action": "payments:initiate", "reversibility": "compensable",
	"constraints": map[string]any{"max_amount": 1000, "currency": "EUR", "approval": map[string]any{"above_amount": 100}}}

func pay(amount int) map[string]any {
	return map[string]any{"amount": amount, "currency": "EUR", "counterparty": "shop.example"}
}

func (f *approvalFixture) verify(pres string, attrs map[string]any, token string) *Result {
	f.t.Helper()
	r := f.v.Verify(context.Background(), Request{Presentation: pres, Audience: apAudience, Nonce: "n", Action: "payments:initiate", Attributes: attrs, Approval: token})
	if !r.Verified {
		f.t.Fatalf("presentation refused: %+v", r.Error)
	}
	return r
}

func (f *approvalFixture) sign(req approval.Request, key jwk.Key, approver, cred string) string {
	f.t.Helper()
	tok, err := approval.Sign(req, approver, key, cred, f.now)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

func TestApprovalFlow(t *testing.T) {
	f := newApprovalFixture(t, nil)
	pres := f.present(payPerm)

	// A small payment needs no approval.
	if r := f.verify(pres, pay(50), ""); !r.Allowed() || r.Decision.Reversibility != Compensable {
		t.Fatalf("small payment: %+v", r.Decision)
	}
	// A large one needs one, and the decision says what to approve.
	r := f.verify(pres, pay(250), "")
	d := r.Decision
	if r.Allowed() || d.Code != errcode.ApprovalRequired || d.ApprovalRequest == nil {
		t.Fatalf("large payment: %+v", d)
	}
	req := *d.ApprovalRequest
	wantDigest, _ := approval.Digest("payments:initiate", pay(250))
	if req.Digest != wantDigest || req.Principal != apPrincipal || req.Subject != f.agentDID || req.Audience != apAudience ||
		req.Nonce == "" || req.Expiry <= f.now.Unix() || req.Action != "payments:initiate" {
		t.Fatalf("approval request %+v", req)
	}
	tok := f.sign(req, f.approver, f.apDID, f.apCred)
	// Used for 900 EUR: another request object.
	if r := f.verify(pres, pay(900), tok); r.Allowed() || r.Decision.Code != errcode.ApprovalDigestMismatch {
		t.Fatalf("approval for 250 used for 900: %+v", r.Decision)
	}
	// The refusal did not burn the nonce: the right request passes, once.
	r = f.verify(pres, pay(250), tok)
	if !r.Allowed() || r.Decision.Approval == nil || r.Decision.Approval.Approver != f.apDID || r.Decision.Approval.Digest != wantDigest {
		t.Fatalf("approved payment: %+v", r.Decision)
	}
	if r := f.verify(pres, pay(250), tok); r.Allowed() || r.Decision.Code != errcode.ApprovalReplayed {
		t.Fatalf("second use: %+v", r.Decision)
	}
}

func TestApprovalRefusals(t *testing.T) {
	f := newApprovalFixture(t, nil)
	pres := f.present(payPerm)
	ask := func() approval.Request {
		d := f.verify(pres, pay(250), "").Decision
		if d.ApprovalRequest == nil {
			t.Fatalf("no approval request: %+v", d)
		}
		return *d.ApprovalRequest
	}
	otherKey, otherDID := f.newApprover()
	otherIssuer, _ := keyutil.Generate(jwa.ES256)
	_ = otherIssuer.Set(jwk.KeyIDKey, "k1")

	cases := []struct {
		name  string
		token func() string
		code  errcode.Code
	}{
		{"signed by a key the credential does not certify", func() string {
			return f.sign(ask(), otherKey, f.apDID, f.apCred)
		}, errcode.ApprovalUnauthorized},
		{"approver certified for another principal", func() string {
			cred := f.approverCred(f.issuer, apIssuer, otherKey, otherDID, "did:web:other.example", schemas.ApproverV1)
			return f.sign(ask(), otherKey, otherDID, cred)
		}, errcode.ApprovalUnauthorized},
		{"approver credential of another vct", func() string {
			cred := f.approverCred(f.issuer, apIssuer, otherKey, otherDID, apPrincipal, "urn:x")
			return f.sign(ask(), otherKey, otherDID, cred)
		}, errcode.ApprovalUnauthorized},
		{"approver credential forged with another issuer key", func() string {
			cred := f.approverCred(otherIssuer, apIssuer, otherKey, otherDID, apPrincipal, schemas.ApproverV1)
			return f.sign(ask(), otherKey, otherDID, cred)
		}, errcode.ApprovalUnauthorized},
		{"approval names another approver than its credential", func() string {
			return f.sign(ask(), f.approver, otherDID, f.apCred)
		}, errcode.ApprovalUnauthorized},
		{"no approver credential", func() string {
			return f.sign(ask(), f.approver, f.apDID, "")
		}, errcode.ApprovalUnauthorized},
		{"approval for another principal", func() string {
			req := ask()
			req.Principal = "did:web:other.example"
			return f.sign(req, f.approver, f.apDID, f.apCred)
		}, errcode.ApprovalUnauthorized},
		{"approval for another agent", func() string {
			req := ask()
			req.Subject = "did:key:z6MkOther"
			return f.sign(req, f.approver, f.apDID, f.apCred)
		}, errcode.ApprovalUnauthorized},
		{"wrong audience", func() string {
			req := ask()
			req.Audience = "https://evil.example"
			return f.sign(req, f.approver, f.apDID, f.apCred)
		}, errcode.ApprovalWrongAudience},
		{"the agent approves its own action", func() string {
			k := f.agentAsApprover()
			cred := f.approverCred(f.issuer, apIssuer, k, f.agentDID, apPrincipal, schemas.ApproverV1)
			return f.sign(ask(), k, f.agentDID, cred)
		}, errcode.ApprovalUnauthorized},
		{"the agent's key approves under another name", func() string {
			k := f.agentAsApprover()
			cred := f.approverCred(f.issuer, apIssuer, k, otherDID, apPrincipal, schemas.ApproverV1)
			return f.sign(ask(), k, otherDID, cred)
		}, errcode.ApprovalUnauthorized},
		{"garbage", func() string { return "not-an-approval" }, errcode.ApprovalMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.verify(pres, pay(250), tc.token())
			if r.Allowed() || r.Decision.Code != tc.code {
				t.Fatalf("decision %+v, want %s", r.Decision, tc.code)
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		req := ask()
		req.Expiry = f.now.Add(time.Minute).Unix()
		tok := f.sign(req, f.approver, f.apDID, f.apCred)
		f.now = f.now.Add(2 * time.Minute)
		defer func() { f.now = f.now.Add(-2 * time.Minute) }()
		if r := f.verify(pres, pay(250), tok); r.Allowed() || r.Decision.Code != errcode.ApprovalExpired {
			t.Fatalf("decision %+v", r.Decision)
		}
	})
}

func TestApprovalOfIrreversibleActionsByPolicy(t *testing.T) {
	wire := map[string]any{"action": "payments:initiate", "reversibility": "irreversible"}
	f := newApprovalFixture(t, nil)
	if r := f.verify(f.present(wire), pay(5000), ""); !r.Allowed() || r.Decision.Reversibility != Irreversible {
		t.Fatalf("without the policy: %+v", r.Decision)
	}
	f = newApprovalFixture(t, func(p *Policy) { p.ApproveIrreversible = true })
	pres := f.present(wire)
	r := f.verify(pres, pay(5), "")
	if r.Allowed() || r.Decision.Code != errcode.ApprovalRequired || r.Decision.ApprovalRequest == nil {
		t.Fatalf("irreversible under the policy: %+v", r.Decision)
	}
	tok := f.sign(*r.Decision.ApprovalRequest, f.approver, f.apDID, f.apCred)
	if r := f.verify(pres, pay(5), tok); !r.Allowed() {
		t.Fatalf("approved: %+v", r.Decision)
	}
	// The verifier's own list makes an action irreversible whatever the
	// credential says.
	f = newApprovalFixture(t, func(p *Policy) { p.ApproveIrreversible = true; p.IrreversibleActions = []string{"payments:*"} })
	if r := f.verify(f.present(map[string]any{"action": "payments:initiate", "reversibility": "reversible"}), pay(5), ""); r.Decision.Code != errcode.ApprovalRequired {
		t.Fatalf("listed irreversible: %+v", r.Decision)
	}
	p := DefaultPolicy()
	p.IrreversibleActions = []string{"payments"}
	if _, err := New(p); err == nil {
		t.Fatal("a malformed irreversible action was accepted")
	}
}

func TestApprovalInReceipt(t *testing.T) {
	f := newApprovalFixture(t, nil)
	pres := f.present(payPerm)
	r := f.verify(pres, pay(250), "")
	c, err := ReceiptClaims(Request{Presentation: pres, Audience: apAudience, Action: "payments:initiate", Attributes: pay(250)}, r, "pd")
	if err != nil {
		t.Fatal(err)
	}
	if c.Result != receipt.Error || c.Error != string(errcode.ApprovalRequired) || c.Approval == nil || c.Approval.Nonce != r.Decision.ApprovalRequest.Nonce || c.Approval.Approver != "" {
		t.Fatalf("receipt of approval_required: %+v %+v", c, c.Approval)
	}
	tok := f.sign(*r.Decision.ApprovalRequest, f.approver, f.apDID, f.apCred)
	r = f.verify(pres, pay(250), tok)
	c, _ = ReceiptClaims(Request{Presentation: pres, Audience: apAudience, Action: "payments:initiate", Attributes: pay(250), Approval: tok}, r, "pd")
	if c.Result != receipt.Success || c.Approval == nil || c.Approval.Approver != f.apDID || c.Approval.Digest != r.Decision.Approval.Digest {
		t.Fatalf("receipt of an approved action: %+v %+v", c, c.Approval)
	}
}

func TestDelegationKeepsApproval(t *testing.T) {
	parent := []any{map[string]any{"action": "payments:initiate", "reversibility": "compensable",
		"constraints": map[string]any{"approval": map[string]any{"above_amount": json.Number("100")}}}}
	always := []any{map[string]any{"action": "vault:open", "constraints": map[string]any{"approval": "always"}}}
	cases := []struct {
		name    string
		parents []any
		hop     map[string]any
		ok      bool
	}{
		{"same threshold", parent, map[string]any{"action": "payments:initiate", "reversibility": "compensable", "constraints": map[string]any{"approval": map[string]any{"above_amount": 100}}}, true},
		{"lower threshold, more severe", parent, map[string]any{"action": "payments:initiate", "reversibility": "irreversible", "constraints": map[string]any{"approval": map[string]any{"above_amount": 10}}}, true},
		{"always instead of a threshold", parent, map[string]any{"action": "payments:initiate", "reversibility": "compensable", "constraints": map[string]any{"approval": "always"}}, true},
		{"approval dropped", parent, map[string]any{"action": "payments:initiate", "reversibility": "compensable"}, false},
		{"higher threshold", parent, map[string]any{"action": "payments:initiate", "reversibility": "compensable", "constraints": map[string]any{"approval": map[string]any{"above_amount": 101}}}, false},
		{"milder reversibility", parent, map[string]any{"action": "payments:initiate", "reversibility": "reversible", "constraints": map[string]any{"approval": map[string]any{"above_amount": 100}}}, false},
		{"reversibility dropped", parent, map[string]any{"action": "payments:initiate", "constraints": map[string]any{"approval": map[string]any{"above_amount": 100}}}, false},
		{"always kept", always, map[string]any{"action": "vault:open", "constraints": map[string]any{"approval": "always"}}, true},
		{"always weakened to a threshold", always, map[string]any{"action": "vault:open", "constraints": map[string]any{"approval": map[string]any{"above_amount": 0}}}, false},
		{"malformed hop approval", always, map[string]any{"action": "vault:open", "constraints": map[string]any{"approval": "never"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := covered(tc.hop, tc.parents)
			if (err == nil) != tc.ok {
				t.Fatalf("covered: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && errcode.CodeOf(err) != errcode.DelegationWidened {
				t.Fatalf("code %s", errcode.CodeOf(err))
			}
		})
	}
}

// The middleware takes the approval in Agent-Approval and answers
// approval_required with the approval request.
func TestMiddlewareApproval(t *testing.T) {
	f := newApprovalFixture(t, nil)
	nonces, err := NewNonces(nil, time.Minute, func() time.Time { return f.now })
	if err != nil {
		t.Fatal(err)
	}
	call := f.payCaller(nonces, nil)
	if rec, _ := call(50, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("small payment: %d %s", rec.Code, rec.Body)
	}
	rec, body := call(250, "")
	if rec.Code != http.StatusForbidden || body["code"] != string(errcode.ApprovalRequired) || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("large payment: %d %s", rec.Code, rec.Body)
	}
	tok := f.approve(body)
	if rec, _ := call(250, tok); rec.Code != http.StatusNoContent {
		t.Fatalf("approved: %d %s", rec.Code, rec.Body)
	}
	if rec, body := call(250, tok); rec.Code != http.StatusForbidden || body["code"] != string(errcode.ApprovalReplayed) {
		t.Fatalf("replayed: %d %s", rec.Code, rec.Body)
	}
}

// Request.RequireApproval: the counterparty asks for an approval of an
// action the credential allows without one; it is checked all the same.
func TestRequireApproval(t *testing.T) {
	f := newApprovalFixture(t, nil)
	pres := f.present(payPerm)
	ask := func(token string) *Result {
		r := f.v.Verify(context.Background(), Request{Presentation: pres, Audience: apAudience, Nonce: "n", Action: "payments:initiate",
			Attributes: pay(50), Approval: token, RequireApproval: true})
		if !r.Verified {
			t.Fatalf("presentation refused: %+v", r.Error)
		}
		return r
	}
	d := ask("").Decision
	if d.Allowed || d.Code != errcode.ApprovalRequired || d.ApprovalRequest == nil {
		t.Fatalf("small payment, approval asked: %+v", d)
	}
	otherKey, otherDID := f.newApprover()
	if d := ask(f.sign(*d.ApprovalRequest, otherKey, otherDID, f.apCred)).Decision; d.Allowed || d.Code != errcode.ApprovalUnauthorized {
		t.Fatalf("an uncertified approver: %+v", d)
	}
	tok := f.sign(*d.ApprovalRequest, f.approver, f.apDID, f.apCred)
	if d := ask(tok).Decision; !d.Allowed || d.Approval == nil {
		t.Fatalf("approved small payment: %+v", d)
	}
	if d := ask(tok).Decision; d.Allowed || d.Code != errcode.ApprovalReplayed {
		t.Fatalf("second use: %+v", d)
	}
	// A denial stays a denial: no approval is looked at.
	r := f.v.Verify(context.Background(), Request{Presentation: pres, Audience: apAudience, Nonce: "n", Action: "payments:initiate",
		Attributes: pay(5000), Approval: tok, RequireApproval: true})
	if r.Decision.Allowed || r.Decision.Code != errcode.ConstraintViolated {
		t.Fatalf("payment above max_amount: %+v", r.Decision)
	}
}

// An approval is single use across replicas that share their spent
// nonces: the middleware's Nonces (here one store both replicas share, as
// Redis would be) records it, not a set private to each Verifier built
// without WithNonces, as a counterparty behind the middleware builds it
// (examples/invoiceapi), where the approval could be used once per replica.
func TestMiddlewareApprovalSingleUseAcrossReplicas(t *testing.T) {
	f := newApprovalFixture(t, nil)
	clock := func() time.Time { return f.now }
	shared := NewMemorySpentStore(0, clock)
	secret := [][]byte{[]byte("0123456789abcdef0123456789abcdef")}
	var issue *Nonces
	replica := func() http.Handler {
		v, err := New(f.policy, f.opts...)
		if err != nil {
			t.Fatal(err)
		}
		nonces, err := NewNonces(secret, time.Minute, clock, WithSpentStore(shared))
		if err != nil {
			t.Fatal(err)
		}
		issue = nonces
		mw, err := Middleware(v, MiddlewareOptions{Audience: apAudience, Nonces: nonces, Action: func(*http.Request) (string, map[string]any) {
			return "payments:initiate", pay(250)
		}})
		if err != nil {
			t.Fatal(err)
		}
		return mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	}
	a, b := replica(), replica()
	call := func(h http.Handler, tok string) (*httptest.ResponseRecorder, map[string]any) {
		return f.sendPay(h, issue, "/pay", tok)
	}
	_, body := call(a, "")
	tok := f.approve(body)
	if rec, _ := call(a, tok); rec.Code != http.StatusNoContent {
		t.Fatalf("approved on replica a: %d %s", rec.Code, rec.Body)
	}
	if rec, body := call(b, tok); rec.Code != http.StatusForbidden || body["code"] != string(errcode.ApprovalReplayed) {
		t.Fatalf("the same approval on replica b: %d %s", rec.Code, rec.Body)
	}
}

// A request refused by the middleware's rate limit does not use up the
// approval it carries: the limit is applied before the approval's nonce
// is spent, so the agent retries after Retry-After with the same approval
// rather than asking a person again.
func TestMiddlewareRateLimitDoesNotSpendApproval(t *testing.T) {
	f := newApprovalFixture(t, nil)
	nonces, err := NewNonces(nil, time.Hour, func() time.Time { return f.now })
	if err != nil {
		t.Fatal(err)
	}
	limits, err := NewRateLimiter([]RateClass{{Name: "pay", Actions: []string{"payments:initiate"}, PerAgent: Rate{Requests: 1, Per: 5 * time.Minute}}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	call := f.payCaller(nonces, limits)
	if rec, _ := call(50, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("small payment: %d %s", rec.Code, rec.Body)
	}
	rec, body := call(250, "")
	if rec.Code != http.StatusForbidden || body["code"] != string(errcode.ApprovalRequired) {
		t.Fatalf("large payment: %d %s", rec.Code, rec.Body)
	}
	tok := f.approve(body)
	if rec, body := call(250, tok); rec.Code != http.StatusTooManyRequests || body["code"] != string(errcode.RateLimited) {
		t.Fatalf("over the rate: %d %s", rec.Code, rec.Body)
	}
	f.now = f.now.Add(5 * time.Minute)
	if rec, _ := call(250, tok); rec.Code != http.StatusNoContent {
		t.Fatalf("the same approval after Retry-After: %d %s", rec.Code, rec.Body)
	}
	f.now = f.now.Add(5 * time.Minute)
	if rec, body := call(250, tok); rec.Code != http.StatusForbidden || body["code"] != string(errcode.ApprovalReplayed) {
		t.Fatalf("used again: %d %s", rec.Code, rec.Body)
	}
}

// The policy's algorithm allow-list (Policy.Algorithms) holds for
// approvals as for credentials and key bindings: with ES256 only, an
// approval signed with EdDSA is refused, unspent.
func TestApprovalAlgorithmFromPolicy(t *testing.T) {
	f := newApprovalFixture(t, func(p *Policy) { p.Algorithms = []jwa.SignatureAlgorithm{jwa.ES256} })
	f.agent, _ = keyutil.Generate(jwa.ES256)
	apub, _ := keyutil.Public(f.agent)
	f.agentDID, _ = did.KeyDID(apub)
	pres := f.present(payPerm)
	req := *f.verify(pres, pay(250), "").Decision.ApprovalRequest
	tok := f.sign(req, f.approver, f.apDID, f.apCred) // EdDSA
	if r := f.verify(pres, pay(250), tok); r.Allowed() || r.Decision.Code != errcode.UnsupportedAlg {
		t.Fatalf("an EdDSA approval under an ES256-only policy: %+v", r.Decision)
	}
	k, _ := keyutil.Generate(jwa.ES256)
	tp, _ := httpsig.Thumbprint(k)
	_ = k.Set(jwk.KeyIDKey, tp)
	pub, _ := keyutil.Public(k)
	id, _ := did.KeyDID(pub)
	cred := f.approverCred(f.issuer, apIssuer, k, id, apPrincipal, schemas.ApproverV1)
	if r := f.verify(pres, pay(250), f.sign(req, k, id, cred)); !r.Allowed() {
		t.Fatalf("an ES256 approval: %+v", r.Decision)
	}
}

// payCaller puts the verifier middleware (nonces, limits: nil for none) in
// front of a payment handler that answers 204, and returns a function that
// presents the fixture's credential with a fresh nonce for a payment of
// amount, with the approval tok when not empty, and gives the answer and
// its decoded body.
func (f *approvalFixture) payCaller(nonces *Nonces, limits *RateLimiter) func(amount int, tok string) (*httptest.ResponseRecorder, map[string]any) {
	f.t.Helper()
	mw, err := Middleware(f.v, MiddlewareOptions{Audience: apAudience, Nonces: nonces, Limits: limits, Action: func(r *http.Request) (string, map[string]any) {
		n, _ := strconv.Atoi(r.URL.Query().Get("amount"))
		return "payments:initiate", pay(n)
	}})
	if err != nil {
		f.t.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	return func(amount int, tok string) (*httptest.ResponseRecorder, map[string]any) {
		return f.sendPay(h, nonces, "/pay?amount="+strconv.Itoa(amount), tok)
	}
}

// sendPay POSTs target to h with the fixture's credential presented for a
// fresh nonce of nonces, and the approval tok when not empty; it returns
// the answer and its decoded body.
func (f *approvalFixture) sendPay(h http.Handler, nonces *Nonces, target, tok string) (*httptest.ResponseRecorder, map[string]any) {
	f.t.Helper()
	n, _, err := nonces.Issue()
	if err != nil {
		f.t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, target, nil)
	req.Header.Set(HeaderAgentCredential, f.presentNonce(n, payPerm))
	if tok != "" {
		req.Header.Set(HeaderApproval, tok)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec, body
}

// approvalsDown is a spent-nonce store whose approval entries cannot be
// written (the rest it keeps as recordingStore does).
type approvalsDown struct{ recordingStore }

func (s *approvalsDown) Spend(ctx context.Context, id string, exp time.Time) (bool, error) {
	if strings.HasPrefix(id, "approval:") {
		return false, errors.New("connection refused")
	}
	return s.recordingStore.Spend(ctx, id, exp)
}

// TestMiddlewareNonceStoreDownIs503: a spent-nonce store that cannot be
// asked is the service's failure, not the agent's: the middleware answers
// 503 nonce_store_unavailable, for the presentation's nonce and for an
// approval's alike, so that the agent retries instead of asking for a new
// credential or a new approval.
func TestMiddlewareNonceStoreDownIs503(t *testing.T) {
	f := newApprovalFixture(t, nil)
	down := &recordingStore{seen: map[string]bool{}, err: errors.New("connection refused")}
	nonces, err := NewNonces(nil, time.Minute, func() time.Time { return f.now }, WithSpentStore(down))
	if err != nil {
		t.Fatal(err)
	}
	if rec, body := f.payCaller(nonces, nil)(50, ""); rec.Code != http.StatusServiceUnavailable || body["code"] != string(errcode.NonceStoreUnavailable) {
		t.Fatalf("presentation's nonce, store down: %d %s", rec.Code, rec.Body)
	}

	nonces, err = NewNonces(nil, time.Minute, func() time.Time { return f.now }, WithSpentStore(&approvalsDown{recordingStore{seen: map[string]bool{}}}))
	if err != nil {
		t.Fatal(err)
	}
	call := f.payCaller(nonces, nil)
	_, body := call(250, "")
	tok := f.approve(body)
	if rec, body := call(250, tok); rec.Code != http.StatusServiceUnavailable || body["code"] != string(errcode.NonceStoreUnavailable) {
		t.Fatalf("approval's nonce, store down: %d %s", rec.Code, rec.Body)
	}
}

// approve reads the approval request in a refused answer's body and signs
// it with the fixture's approver: the approval a person would give.
func (f *approvalFixture) approve(body map[string]any) string {
	f.t.Helper()
	raw, _ := json.Marshal(body["approval_request"])
	req, err := approval.ParseRequest(raw)
	if err != nil {
		f.t.Fatalf("approval_request %s: %v", raw, err)
	}
	return f.sign(req, f.approver, f.apDID, f.apCred)
}

// TestChainAgentsCannotApprove: in a delegation chain, neither the
// certified agent nor a delegate may approve the presenter's action, even
// when the issuer also certified it as an approver; a person may.
func TestChainAgentsCannotApprove(t *testing.T) {
	e := newChainEnv(t, 2)
	pres := e.chain(e.hop(1), e.hop(2))
	attrs := map[string]any{"amount": 150, "currency": "EUR"}
	ask := func(token string) *Decision {
		t.Helper()
		r := e.v.Verify(context.Background(), Request{Presentation: pres, Audience: chainAud, Nonce: "n-7", Action: "payments:initiate",
			Attributes: attrs, Approval: token, RequireApproval: true})
		if !r.Verified {
			t.Fatalf("presentation refused: %+v", r.Error)
		}
		return r.Decision
	}
	approveAs := func(key jwk.Key, sub string) string {
		t.Helper()
		k, err := jwk.FromRaw(testkeys.Raw(t, key))
		if err != nil {
			t.Fatal(err)
		}
		tp, _ := httpsig.Thumbprint(k)
		_ = k.Set(jwk.KeyIDKey, tp)
		cred, err := sdjwt.Issue(map[string]any{
			"iss": e.issDID, "vct": schemas.ApproverV1, "iat": e.now.Unix(), "exp": e.now.Add(time.Hour).Unix(), "sub": sub,
			"cnf": map[string]any{"jwk": testkeys.PublicJWK(t, k)}, "principal": map[string]any{"id": "did:web:acme.example"},
			"approver": map[string]any{"name": "Dana"},
			"status":   map[string]any{"status_list": map[string]any{"idx": 9, "uri": statusURI}},
		}, nil, e.issuer, nil)
		if err != nil {
			t.Fatal(err)
		}
		d := ask("")
		if d.ApprovalRequest == nil {
			t.Fatalf("no approval request: %+v", d)
		}
		tok, err := approval.Sign(*d.ApprovalRequest, sub, k, cred, e.now)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for i, who := range []string{"the certified agent", "the first delegate", "the presenter"} {
		if d := ask(approveAs(e.keys[i], e.dids[i])); d.Allowed || d.Code != errcode.ApprovalUnauthorized {
			t.Fatalf("%s approved: %+v", who, d)
		}
	}
	person, personDID := testkeys.DIDKey(t, jwa.EdDSA)
	if d := ask(approveAs(person, personDID)); !d.Allowed {
		t.Fatalf("a person's approval: %+v", d)
	}
}

// TestApprovalUsedBeforeARestart: an approval used by a verifier whose
// spent set lives in its process memory cannot be used again by the
// verifier that replaces it after a restart (a new process, an empty set):
// it is refused as approval_replayed, and a fresh approval passes.
// (Replicas sharing a store that outlives them refuse it because it is
// recorded: TestMiddlewareApprovalSingleUseAcrossReplicas.)
func TestApprovalUsedBeforeARestart(t *testing.T) {
	f := newApprovalFixture(t, nil)
	pres := f.present(payPerm)
	req := *f.verify(pres, pay(250), "").Decision.ApprovalRequest
	tok := f.sign(req, f.approver, f.apDID, f.apCred)
	if r := f.verify(pres, pay(250), tok); !r.Allowed() {
		t.Fatalf("approved payment: %+v", r.Decision)
	}
	// A minute later the process restarts.
	f.now = f.now.Add(time.Minute)
	restarted, err := New(f.policy, f.opts...)
	if err != nil {
		t.Fatal(err)
	}
	f.v = restarted
	r := f.verify(pres, pay(250), tok)
	if r.Allowed() || r.Decision.Code != errcode.ApprovalReplayed || !strings.Contains(r.Decision.Reason, "ask for a new one") {
		t.Fatalf("the approval used before the restart: %+v", r.Decision)
	}
	req = *f.verify(pres, pay(250), "").Decision.ApprovalRequest
	if r := f.verify(pres, pay(250), f.sign(req, f.approver, f.apDID, f.apCred)); !r.Allowed() {
		t.Fatalf("a fresh approval after the restart: %+v", r.Decision)
	}
}
