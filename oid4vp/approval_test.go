package oid4vp

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/approval"
	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/oid4vp/dcql"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

const apPrincipal = "did:web:acme.example"

// apEnv is an env whose agent may pay, with a person's approval above 100
// EUR, and an approver the same issuer certified for the agent's
// principal (and one certified for another principal).
type apEnv struct {
	*env
	iss                jwk.Key
	issDID, agentDID   string
	approver, stranger jwk.Key // kid: their thumbprints
	apDID, strangerDID string
	apCred, strangerCr string
}

const payQuery = `{"credentials":[{"id":"cert","format":"dc+sd-jwt","meta":{"vct_values":["` + testVCT + `"]},
	"claims":[{"path":["permissions",null,"action"],"values":["payments:initiate"]}]}]}`

func newApprovalEnv(t *testing.T) *apEnv {
	t.Helper()
	e := &apEnv{env: &env{t: t, now: time.Now()}}
	e.iss, e.issDID = testkeys.DIDKey(t, jwa.ES256)
	var agentPub jwk.Key
	e.agent, e.agentDID = testkeys.DIDKey(t, jwa.EdDSA)
	agentPub, err := e.agent.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{
		"iss": e.issDID, "sub": e.agentDID, "vct": testVCT, "iat": e.now.Unix(), "exp": e.now.Add(time.Hour).Unix(),
		"cnf":       map[string]any{"jwk": agentPub},
		"principal": map[string]any{"id": apPrincipal, "name": "ACME Corp"},
		"permissions": []any{
			map[string]any{"action": "invoices:read"},
			map[string]any{"action": "payments:initiate", "constraints": map[string]any{"max_amount": 1000, "approval": map[string]any{"above_amount": 100}}},
		},
	}
	if e.cred, err = sdjwt.Issue(claims, []string{"/permissions/*"}, e.iss, nil); err != nil {
		t.Fatal(err)
	}
	e.approver, e.apDID, e.apCred = e.certify(apPrincipal)
	e.stranger, e.strangerDID, e.strangerCr = e.certify("did:web:other.example")
	e.serve(e.issDID)
	return e
}

// certify makes an approver key and the issuer's approver credential for
// it and principal.
func (e *apEnv) certify(principal string) (jwk.Key, string, string) {
	e.t.Helper()
	k, err := keyutil.Generate(jwa.EdDSA)
	if err != nil {
		e.t.Fatal(err)
	}
	tp, err := httpsig.Thumbprint(k)
	if err != nil {
		e.t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, tp)
	pub, _ := keyutil.Public(k)
	id, err := did.KeyDID(pub)
	if err != nil {
		e.t.Fatal(err)
	}
	cred, err := sdjwt.Issue(map[string]any{
		"iss": e.issDID, "vct": schemas.ApproverV1, "iat": e.now.Unix(), "exp": e.now.Add(time.Hour).Unix(), "sub": id,
		"cnf": map[string]any{"jwk": pub}, "principal": map[string]any{"id": principal}, "approver": map[string]any{"name": "Dana"},
	}, nil, e.iss, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return k, id, cred
}

func pay(amount int) map[string]any {
	return map[string]any{"amount": amount, "currency": "EUR", "counterparty": "shop.example"}
}

// ask creates a presentation request for a payment of amount that asks
// for an approval.
func (e *apEnv) ask(amount int, edit func(*CreateRequest)) *Created {
	e.t.Helper()
	req := CreateRequest{DCQLQuery: json.RawMessage(payQuery), Action: "payments:initiate", Attributes: pay(amount),
		Approval: &ApprovalAsk{Principal: apPrincipal, Subject: e.agentDID}}
	if edit != nil {
		edit(&req)
	}
	return e.create(req)
}

// approve signs req as the approver (or the stranger).
func (e *apEnv) approve(req approval.Request, stranger bool) string {
	e.t.Helper()
	k, id, cred := e.approver, e.apDID, e.apCred
	if stranger {
		k, id, cred = e.stranger, e.strangerDID, e.strangerCr
	}
	tok, err := approval.Sign(req, id, k, cred, e.clock())
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *apEnv) answerWith(r *Resolved, tok string) (url.Values, error) {
	a, err := r.Answer([]Held{{SDJWT: e.cred, Approval: tok}}, e.agent, e.clock())
	if err != nil {
		return nil, err
	}
	return a.Form, nil
}

func TestApprovalOverOID4VP(t *testing.T) {
	e := newApprovalEnv(t)
	c := e.ask(250, nil)
	ar := c.ApprovalRequest
	if ar == nil || ar.Audience != c.ClientID || ar.Principal != apPrincipal || ar.Subject != e.agentDID || ar.Nonce == "" || ar.Nonce == c.Request.Nonce {
		t.Fatalf("approval request %+v for client_id %s", ar, c.ClientID)
	}
	if want, _ := approval.Digest("payments:initiate", pay(250)); ar.Digest != want {
		t.Fatalf("digest %s, want %s", ar.Digest, want)
	}
	if got, err := approval.ParseLink(c.ApprovalLink); err != nil || got.Nonce != ar.Nonce {
		t.Fatalf("approval link: %+v %v", got, err)
	}
	if len(c.Request.TransactionData) != 1 {
		t.Fatalf("transaction data %v", c.Request.TransactionData)
	}
	r := e.resolve(c)
	td := r.TransactionData[0]
	if td.Type != TypeApproval || td.Approval == nil || td.Approval.Digest != ar.Digest || td.Approval.Nonce != ar.Nonce || td.CredentialIDs[0] != "cert" {
		t.Fatalf("resolved transaction data %+v", td)
	}

	// Without the approval the wallet answers nothing; an approval where
	// none is asked is refused as well.
	_, err := e.answerWith(r, "")
	testkit.WantCode(t, err, errcode.ApprovalRequired, "answer without the approval")
	plain := e.resolve(e.create(CreateRequest{DCQLQuery: json.RawMessage(payQuery)}))
	_, err = e.answerWith(plain, "x.y.z")
	testkit.WantCode(t, err, errcode.InvalidInput, "an approval nobody asked for")

	tok := e.approve(*td.Approval, false)
	form, err := e.answerWith(r, tok)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Respond(context.Background(), refOf(c), form)
	if err != nil {
		t.Fatalf("Respond: %v", err)
	}
	d := res.Presentations["cert"][0].Decision
	if !res.Allowed || d == nil || d.Approval == nil || d.Approval.Nonce != ar.Nonce || d.Approval.Approver != e.apDID {
		t.Fatalf("result %+v, decision %+v", res, d)
	}
	if kb := res.Presentations["cert"][0].KeyBinding; kb[ClaimApproval] != tok || kb["transaction_data_hashes"] == nil {
		t.Fatalf("KB-JWT %v", kb)
	}
	// The approval was spent: /v1/verify's path refuses it too.
	n := e.present(plain, []string{"/permissions/1"}, c.ClientID, "n-1", nil)
	var vp map[string][]string
	_ = json.Unmarshal([]byte(n.Get("vp_token")), &vp)
	vr := e.v.Verify(context.Background(), verifier.Request{Presentation: vp["cert"][0], Audience: c.ClientID, Nonce: "n-1",
		Action: "payments:initiate", Attributes: pay(250), Approval: tok})
	if vr.Decision == nil || vr.Decision.Code != errcode.ApprovalReplayed {
		t.Fatalf("the spent approval again: %+v", vr.Decision)
	}
}

// A counterparty may ask for an approval the credential does not require:
// the approval is then checked (and spent) all the same.
func TestApprovalAskedBelowThreshold(t *testing.T) {
	e := newApprovalEnv(t)
	c := e.ask(50, nil)
	r := e.resolve(c)
	form, err := e.answerWith(r, e.approve(*c.ApprovalRequest, true))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Respond(context.Background(), refOf(c), form)
	testkit.WantCode(t, err, errcode.ApprovalUnauthorized, "a stranger's approval of a small payment")

	c = e.ask(50, nil)
	r = e.resolve(c)
	form, err = e.answerWith(r, e.approve(*c.ApprovalRequest, false))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Respond(context.Background(), refOf(c), form)
	if err != nil || !res.Allowed || res.Presentations["cert"][0].Decision.Approval == nil {
		t.Fatalf("approved small payment: %+v %v", res, err)
	}
}

func TestApprovalOverOID4VPRefused(t *testing.T) {
	asked := []string{"/permissions/1/action"}
	for _, tc := range []struct {
		name  string
		setup func(e *apEnv) // before the request under test
		edit  func(*CreateRequest)
		form  func(e *apEnv, c *Created, r *Resolved) url.Values
		code  errcode.Code
	}{
		{"no approval in the KB-JWT", nil, nil, func(e *apEnv, c *Created, r *Resolved) url.Values {
			return e.present(r, asked, r.ClientID, r.Nonce, hashes(r, nil))
		}, errcode.ApprovalRequired},
		{"no KB-JWT", nil, nil, func(e *apEnv, c *Created, r *Resolved) url.Values {
			p, err := sdjwt.Present(e.cred, asked, nil)
			if err != nil {
				e.t.Fatal(err)
			}
			b, _ := json.Marshal(map[string][]string{"cert": {p}})
			return url.Values{"vp_token": {string(b)}, "state": {r.State}}
		}, errcode.KBMissing},
		{"no transaction data hash", nil, nil, func(e *apEnv, c *Created, r *Resolved) url.Values {
			return e.present(r, asked, r.ClientID, r.Nonce, map[string]any{ClaimApproval: e.approve(*c.ApprovalRequest, false)})
		}, errcode.TransactionDataMismatch},
		{"approval not a string", nil, nil, func(e *apEnv, c *Created, r *Resolved) url.Values {
			return e.present(r, asked, r.ClientID, r.Nonce, hashes(r, map[string]any{ClaimApproval: 7}))
		}, errcode.ApprovalMalformed},
		{"approval not a JWT", nil, nil, func(e *apEnv, c *Created, r *Resolved) url.Values {
			return e.present(r, asked, r.ClientID, r.Nonce, hashes(r, map[string]any{ClaimApproval: "not.a.jwt"}))
		}, errcode.ApprovalMalformed},
		{"approval of another amount", nil, nil, func(e *apEnv, c *Created, r *Resolved) url.Values {
			other := *c.ApprovalRequest
			other.Params = json.RawMessage(`{"amount":900,"currency":"EUR","counterparty":"shop.example"}`)
			other.Digest, _ = approval.Digest(other.Action, other.Params)
			return e.present(r, asked, r.ClientID, r.Nonce, hashes(r, map[string]any{ClaimApproval: e.approve(other, false)}))
		}, errcode.ApprovalDigestMismatch},
		{"approval for another audience", nil, nil, func(e *apEnv, c *Created, r *Resolved) url.Values {
			other := *c.ApprovalRequest
			other.Audience = "https://shop.example"
			return e.present(r, asked, r.ClientID, r.Nonce, hashes(r, map[string]any{ClaimApproval: e.approve(other, false)}))
		}, errcode.ApprovalWrongAudience},
		{"approval of another presentation request", nil, nil, func(e *apEnv, c *Created, r *Resolved) url.Values {
			prev := e.ask(250, nil)
			return e.present(r, asked, r.ClientID, r.Nonce, hashes(r, map[string]any{ClaimApproval: e.approve(*prev.ApprovalRequest, false)}))
		}, errcode.ApprovalReplayed},
		{"approver of another principal", nil, nil, func(e *apEnv, c *Created, r *Resolved) url.Values {
			return e.present(r, asked, r.ClientID, r.Nonce, hashes(r, map[string]any{ClaimApproval: e.approve(*c.ApprovalRequest, true)}))
		}, errcode.ApprovalUnauthorized},
		{"expired approval", nil, func(req *CreateRequest) { req.Approval.ExpiresIn = 30 }, func(e *apEnv, c *Created, r *Resolved) url.Values {
			tok := e.approve(*c.ApprovalRequest, false)
			e.advance(time.Minute)
			return e.present(r, asked, r.ClientID, r.Nonce, hashes(r, map[string]any{ClaimApproval: tok}))
		}, errcode.ApprovalExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newApprovalEnv(t)
			c := e.ask(250, tc.edit)
			r := e.resolve(c)
			_, err := e.svc.Respond(context.Background(), refOf(c), tc.form(e, c, r))
			testkit.WantCode(t, err, tc.code)
			res, err := e.svc.Result(context.Background(), c.ID)
			if err != nil || res.Allowed || res.Status != StatusFailed || res.Error == nil || res.Error.Code != tc.code {
				t.Fatalf("stored result %+v, %v", res, err)
			}
		})
	}

	// An approval in the KB-JWT of a request that asked for none.
	e := newApprovalEnv(t)
	c := e.create(CreateRequest{DCQLQuery: json.RawMessage(payQuery), Action: "payments:initiate", Attributes: pay(50)})
	r := e.resolve(c)
	_, err := e.svc.Respond(context.Background(), refOf(c), e.present(r, asked, r.ClientID, r.Nonce, map[string]any{ClaimApproval: "a.b.c"}))
	testkit.WantCode(t, err, errcode.TransactionDataMismatch, "an approval nobody asked for")
}

// hashes adds the hashes of r's transaction data to KB-JWT claims.
func hashes(r *Resolved, claims map[string]any) map[string]any {
	out := map[string]any{"transaction_data_hashes_alg": HashSHA256}
	var hs []string
	for _, td := range r.AuthorizationRequest.TransactionData {
		hs = append(hs, TransactionDataHash(td))
	}
	out["transaction_data_hashes"] = hs
	for k, v := range claims {
		out[k] = v
	}
	return out
}

func TestCreateApprovalRefused(t *testing.T) {
	e := newApprovalEnv(t)
	forged := json.RawMessage(`{"type":"agentcert_approval","credential_ids":["cert"],"approval_request":{}}`)
	for name, req := range map[string]CreateRequest{
		"approval without action":             {Approval: &ApprovalAsk{Principal: apPrincipal, Subject: e.agentDID}},
		"approval without principal":          {Action: "payments:initiate", Approval: &ApprovalAsk{Subject: e.agentDID}},
		"approval without sub":                {Action: "payments:initiate", Approval: &ApprovalAsk{Principal: apPrincipal}},
		"a wildcard action":                   {Action: "payments:*", Approval: &ApprovalAsk{Principal: apPrincipal, Subject: e.agentDID}},
		"negative expires_in":                 {Action: "payments:initiate", Approval: &ApprovalAsk{Principal: apPrincipal, Subject: e.agentDID, ExpiresIn: -1}},
		"approval transaction data passed in": {Action: "payments:initiate", TransactionData: []json.RawMessage{forged}},
	} {
		req.DCQLQuery = json.RawMessage(payQuery)
		_, err := e.svc.Create(context.Background(), req)
		testkit.WantCode(t, err, errcode.InvalidInput, name)
	}
	// The approval's lifetime is the request's, at most approval.MaxLifetime.
	c := e.ask(250, func(r *CreateRequest) { r.ExpiresIn = 60 })
	if exp := time.Unix(c.ApprovalRequest.Expiry, 0); exp.After(c.ExpiresAt) {
		t.Fatalf("the approval outlives the request: %v > %v", exp, c.ExpiresAt)
	}
	c = e.ask(250, func(r *CreateRequest) { r.Approval.ExpiresIn = 3600 })
	if exp := time.Unix(c.ApprovalRequest.Expiry, 0); exp.After(e.clock().Add(approval.MaxLifetime)) {
		t.Fatalf("the approval lives longer than %s: %v", approval.MaxLifetime, exp)
	}
	// An expires_in too large for a time.Duration is no shorter lifetime:
	// the cap still holds (it wrapped around to a negative duration, and
	// the approval got the 5 minutes of a request without one).
	for _, in := range []int64{1 << 62, 9_223_372_037, 1<<63 - 1} {
		c = e.ask(250, func(r *CreateRequest) { r.ExpiresIn = 60; r.Approval.ExpiresIn = in })
		if exp := time.Unix(c.ApprovalRequest.Expiry, 0); exp.After(c.ExpiresAt) {
			t.Fatalf("expires_in %d: the approval outlives the request: %v > %v", in, exp, c.ExpiresAt)
		}
	}
}

func TestDecodeApprovalTransactionData(t *testing.T) {
	req, err := approval.NewRequest("payments:initiate", pay(250), "decentralized_identifier:did:web:v.example", apPrincipal, "did:key:z6Mk", time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	good, err := approvalTransactionData(req, "cert")
	if err != nil {
		t.Fatal(err)
	}
	td, err := DecodeTransactionData(b64.EncodeToString(good))
	if err != nil || td.Approval == nil || td.Approval.Digest != req.Digest || td.Approval.Nonce != req.Nonce {
		t.Fatalf("decoded %+v, %v", td, err)
	}
	tampered := strings.Replace(string(good), `"amount":250`, `"amount":900`, 1)
	for name, s := range map[string]string{
		"no approval_request":       `{"type":"agentcert_approval","credential_ids":["cert"]}`,
		"approval_request a string": `{"type":"agentcert_approval","credential_ids":["cert"],"approval_request":"x"}`,
		"two credential ids":        strings.Replace(string(good), `["cert"]`, `["cert","other"]`, 1),
		"params not the digest's":   tampered,
		"unknown member":            strings.Replace(string(good), `"digest"`, `"extra":1,"digest"`, 1),
	} {
		_, err := DecodeTransactionData(b64.EncodeToString([]byte(s)))
		testkit.WantCode(t, err, errcode.InvalidInput, name)
	}
	// At most one approval entry per request.
	q, err := dcql.Parse(json.RawMessage(payQuery))
	if err != nil {
		t.Fatal(err)
	}
	e := b64.EncodeToString(good)
	_, err = checkTransactionData([]string{e, e}, q)
	testkit.WantCode(t, err, errcode.InvalidInput, "two approval entries")
}

func TestKBClaims(t *testing.T) {
	e := newApprovalEnv(t)
	p, err := sdjwt.Present(e.cred, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if kb, err := kbClaims(p); err != nil || kb != nil {
		t.Fatalf("no KB-JWT: %v %v", kb, err)
	}
	p, err = sdjwt.Present(e.cred, nil, &sdjwt.KBOptions{Key: e.agent, Audience: "a", Nonce: "n", Claims: map[string]any{ClaimApproval: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	if kb, err := kbClaims(p); err != nil || kb[ClaimApproval] != "t" || kb["nonce"] != "n" {
		t.Fatalf("KB-JWT claims: %v %v", kb, err)
	}
	i := strings.LastIndex(p, "~")
	// Claims that are not a JSON object (the signature is the verifier's
	// to check).
	_, err = kbClaims(p[:i+1] + b64.EncodeToString([]byte(`{"alg":"ES256"}`)) + "." + b64.EncodeToString([]byte(`[1]`)) + ".c2ln")
	if err == nil {
		t.Fatal("a KB-JWT whose claims are no object was read")
	}
	_, err = kbClaims("not an sd-jwt")
	if err == nil {
		t.Fatal("garbage was read")
	}
}

// An approval refused for answering another request is not spent: the
// request it was given for still takes it.
func TestApprovalRefusedIsNotSpent(t *testing.T) {
	e := newApprovalEnv(t)
	first, second := e.ask(250, nil), e.ask(250, nil)
	tok := e.approve(*first.ApprovalRequest, false)
	r2 := e.resolve(second)
	form, err := e.answerWith(r2, tok)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Respond(context.Background(), refOf(second), form)
	testkit.WantCode(t, err, errcode.ApprovalReplayed, "the first request's approval in the second")
	r1 := e.resolve(first)
	if form, err = e.answerWith(r1, tok); err != nil {
		t.Fatal(err)
	}
	if res, err := e.svc.Respond(context.Background(), refOf(first), form); err != nil || !res.Allowed {
		t.Fatalf("the approval's own request: %+v %v", res, err)
	}
}

// What cannot be recorded is not allowed: the record hook's error fails
// the response.
func TestOnPresentation(t *testing.T) {
	e := newApprovalEnv(t)
	var seen []*verifier.Result
	fail := false
	e.svc.OnPresentation(func(_ context.Context, r *verifier.Result) error {
		seen = append(seen, r)
		if fail {
			return errcode.New(errcode.Internal, "audit log down")
		}
		return nil
	})
	for _, fail = range []bool{false, true} {
		c := e.ask(250, nil)
		form, err := e.answerWith(e.resolve(c), e.approve(*c.ApprovalRequest, false))
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.svc.Respond(context.Background(), refOf(c), form)
		if fail {
			testkit.WantCode(t, err, errcode.Internal, "recording failed")
			if res.Allowed || res.Status != StatusFailed {
				t.Fatalf("unrecorded outcome %+v", res)
			}
		} else if err != nil || !res.Allowed {
			t.Fatalf("recorded outcome %+v %v", res, err)
		}
	}
	if len(seen) != 2 || seen[0].Decision == nil || seen[0].Decision.Approval == nil {
		t.Fatalf("recorded %+v", seen)
	}
}

// An approval the verifier refuses for its alg (not on Policy.Algorithms)
// fails the response, as every other refusal of the approval does, rather
// than passing as an action denied for a reason of its own.
func TestApprovalAlgorithmRefusedFailsResponse(t *testing.T) {
	e := newApprovalEnv(t)
	// An ES256 agent, and a verifier that accepts ES256 only; the
	// approver signs with EdDSA.
	e.agent, e.agentDID = testkeys.DIDKey(t, jwa.ES256)
	agentPub, err := e.agent.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	if e.cred, err = sdjwt.Issue(map[string]any{
		"iss": e.issDID, "sub": e.agentDID, "vct": testVCT, "iat": e.now.Unix(), "exp": e.now.Add(time.Hour).Unix(),
		"cnf": map[string]any{"jwk": agentPub}, "principal": map[string]any{"id": apPrincipal, "name": "ACME Corp"},
		"permissions": []any{map[string]any{"action": "payments:initiate", "constraints": map[string]any{"max_amount": 1000, "approval": map[string]any{"above_amount": 100}}}},
	}, []string{"/permissions/*"}, e.iss, nil); err != nil {
		t.Fatal(err)
	}
	p := verifier.DefaultPolicy()
	p.CheckStatus = false
	p.Trusted[e.issDID] = []string{testVCT}
	p.Algorithms = []jwa.SignatureAlgorithm{jwa.ES256}
	if e.v, err = verifier.New(p, verifier.WithClock(e.clock)); err != nil {
		t.Fatal(err)
	}
	vk, vdid := testkeys.DIDKey(t, jwa.ES256)
	if e.svc, err = New(Config{BaseURL: "https://verifier.example", ClientDID: vdid, SigningKey: vk}, NewMemoryStore(e.clock), e.v, e.clock); err != nil {
		t.Fatal(err)
	}
	c := e.ask(250, nil)
	form, err := e.answerWith(e.resolve(c), e.approve(*c.ApprovalRequest, false))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Respond(context.Background(), refOf(c), form)
	testkit.WantCode(t, err, errcode.UnsupportedAlg, "an EdDSA approval under an ES256-only policy")
	if res != nil && res.Allowed {
		t.Fatalf("allowed: %+v", res)
	}
}

// A request of two credential queries, one of which the approval is asked
// for, is answered by a wallet that holds the approval with its credential
// (as agentcert wallet present --approval gives it to every credential):
// the approval goes into the KB-JWT of the presentation it is asked for,
// and not into the other.
func TestApprovalWithTwoCredentialQueries(t *testing.T) {
	e := newApprovalEnv(t)
	two := `{"credentials":[{"id":"cert","format":"dc+sd-jwt","meta":{"vct_values":["` + testVCT + `"]},
		"claims":[{"path":["permissions",null,"action"],"values":["payments:initiate"]}]},
		{"id":"who","format":"dc+sd-jwt","meta":{"vct_values":["` + testVCT + `"]},"claims":[{"path":["principal","id"]}]}]}`
	c := e.ask(250, func(r *CreateRequest) { r.DCQLQuery = json.RawMessage(two) })
	r := e.resolve(c)
	tok := e.approve(*c.ApprovalRequest, false)
	a, err := r.Answer([]Held{{SDJWT: e.cred, Approval: tok}}, e.agent, e.clock())
	if err != nil {
		t.Fatalf("Answer: %v", err)
	}
	if len(a.Presentations) != 2 {
		t.Fatalf("presentations %+v", a.Presentations)
	}
	res, err := e.svc.Respond(context.Background(), refOf(c), a.Form)
	if err != nil || !res.Allowed {
		t.Fatalf("Respond: %+v, %v", res, err)
	}
	if _, ok := res.Presentations["who"][0].KeyBinding[ClaimApproval]; ok {
		t.Fatal("the approval went into the KB-JWT of a presentation it was not asked for")
	}
	if res.Presentations["cert"][0].KeyBinding[ClaimApproval] != tok {
		t.Fatalf("KB-JWT of cert: %v", res.Presentations["cert"][0].KeyBinding)
	}
}
