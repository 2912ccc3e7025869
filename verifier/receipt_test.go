package verifier

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/receipt"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// receiptFixture: a verifier with a receipt signer, a credential whose
// status list (index 3) the fake fetcher serves, and a presenter.
type receiptFixture struct {
	v       *Verifier
	signer  *receipt.Signer
	nonces  *Nonces
	present func(aud, nonce string) string
	issDID  string
	revoke  func()
}

func newReceiptFixture(t *testing.T, maxStatusAge time.Duration) *receiptFixture {
	t.Helper()
	iss, issDID := testkeys.DIDKey(t, jwa.ES256)
	agent, agentDID := testkeys.DIDKey(t, jwa.EdDSA)
	cnf := testkeys.PublicJWK(t, agent)
	now := time.Now()
	const uri = "https://issuer.example/statuslists/1"
	cred, err := sdjwt.Issue(map[string]any{
		"iss": issDID, "sub": agentDID, "vct": schemas.AgentCertificationV1, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "cnf": map[string]any{"jwk": cnf},
		"status":       map[string]any{"status_list": map[string]any{"idx": 3, "uri": uri}},
		"principal":    map[string]any{"id": "did:web:acme.example", "name": "ACME"},
		"agent":        map[string]any{"class": "ap-assistant", "version": "1.4.0"},
		"permissions":  []any{map[string]any{"action": "payments:initiate", "constraints": map[string]any{"max_amount": 100, "currency": "EUR"}}, map[string]any{"action": "invoices:read"}},
		"prohibitions": []any{"payments:refund"},
	}, []string{"/permissions/*"}, iss, nil)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := revocation.NewList(131072, 2)
	sign := func() string {
		tok, err := revocation.SignToken(list, revocation.TokenClaims{Subject: uri, Issuer: issDID, IssuedAt: now, Expires: now.Add(time.Hour), TTL: time.Minute}, iss)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tok := sign()
	vk, vdid := testkeys.DIDKey(t, jwa.EdDSA)
	signer, err := receipt.SignerFromJWK(vdid, vk)
	if err != nil {
		t.Fatal(err)
	}
	nonces, _ := NewNonces(nil, time.Minute, nil)
	p := DefaultPolicy()
	p.Trusted[issDID] = []string{schemas.AgentCertificationV1}
	p.MaxStatusAge = maxStatusAge
	v, err := New(p, WithResolver(did.NewResolver(nil)), WithNonces(nonces), WithReceipts(signer),
		WithFetch(func(context.Context, string, string, int64) ([]byte, error) { return []byte(tok), nil }))
	if err != nil {
		t.Fatal(err)
	}
	return &receiptFixture{v: v, signer: signer, nonces: nonces, issDID: issDID,
		present: func(aud, nonce string) string {
			pres, err := sdjwt.Present(cred, []string{"/permissions/0", "/permissions/1"}, &sdjwt.KBOptions{Key: agent, Audience: aud, Nonce: nonce})
			if err != nil {
				t.Fatal(err)
			}
			return pres
		},
		revoke: func() { _ = list.Set(3, revocation.StatusRevoked); tok = sign() },
	}
}

var offlineDIDs = did.ResolverFunc(func(_ context.Context, id string) (*did.Document, error) { return did.DocumentFor(id) })

func checkReceipt(t *testing.T, jwt string) *receipt.Claims {
	t.Helper()
	if jwt == "" {
		t.Fatal("no receipt")
	}
	c, err := receipt.Verify(context.Background(), jwt, receipt.VerifyOptions{Keys: receipt.DIDKeys(offlineDIDs)})
	if err != nil {
		t.Fatalf("receipt does not verify offline: %v", err)
	}
	return c
}

func TestVerifyMakesReceipts(t *testing.T) {
	f := newReceiptFixture(t, 0)
	attrs := map[string]any{"amount": json.Number("50.00"), "currency": "EUR"}
	pres := f.present("aud", "n-1")
	res := f.v.Verify(context.Background(), Request{Presentation: pres, Audience: "aud", Nonce: "n-1", Action: "payments:initiate", Attributes: attrs})
	if !res.Allowed() {
		t.Fatalf("%+v", res.Error)
	}
	c := checkReceipt(t, res.Receipt)
	tok, _ := sdjwt.Parse(pres, sdjwt.DefaultLimits())
	reqDigest, _ := receipt.JSONDigest(map[string]any{"currency": "EUR", "amount": 50})
	policyDigest, _ := PolicyDigest(f.v.p)
	jwt, _, _ := strings.Cut(pres, "~")
	if c.Result != receipt.Success || c.Error != "" || c.Issuer != f.signer.Issuer() ||
		c.Reference != sdjwt.SDHash(tok.SDHashInput()) || c.Credential == nil || c.Credential.Issuer != f.issDID ||
		c.Credential.ID != sdjwt.SDHash(jwt[:strings.LastIndex(jwt, ".")]) || c.Credential.VCT != schemas.AgentCertificationV1 ||
		c.Credential.StatusList == nil || c.Credential.StatusList.Idx != 3 || c.Subject != res.Subject || c.Principal != "did:web:acme.example" ||
		c.Agent == nil || c.Agent.Version != "1.4.0" || c.Action != "payments:initiate" || c.RequestDigest != reqDigest ||
		c.Decision == nil || !c.Decision.Allowed || c.PolicyDigest != policyDigest || c.PolicyDigest == "" ||
		c.Status == nil || c.Status.Value != "valid" || c.Status.AsOf == 0 || c.Status.FetchedAt == 0 || c.Audience != "aud" {
		t.Fatalf("receipt claims %+v", c)
	}

	// Denied action: an error receipt naming the decision.
	res = f.v.Verify(context.Background(), Request{Presentation: pres, Audience: "aud", Nonce: "n-1", Action: "payments:initiate",
		Attributes: map[string]any{"amount": 500, "currency": "EUR"}})
	c = checkReceipt(t, res.Receipt)
	if res.Allowed() || c.Result != receipt.Error || c.Error != string(errcode.ConstraintViolated) || c.Decision == nil || c.Decision.Allowed ||
		c.Decision.Reason != string(errcode.ConstraintViolated) || c.ErrorDescription == "" {
		t.Fatalf("denied receipt %+v", c)
	}

	// A presentation for another audience: nothing verified, so the
	// receipt names only the reference and the error.
	res = f.v.Verify(context.Background(), Request{Presentation: f.present("other", "n-2"), Audience: "aud", Nonce: "n-2"})
	c = checkReceipt(t, res.Receipt)
	if c.Result != receipt.Error || c.Error != string(errcode.KBWrongAudience) || c.Credential != nil || c.Subject != "" || c.Reference == "" {
		t.Fatalf("failure receipt %+v", c)
	}

	// Revoked: the credential is named, with the status learned.
	f.revoke()
	res = f.v.Verify(context.Background(), Request{Presentation: pres, Audience: "aud", Nonce: "n-1"})
	c = checkReceipt(t, res.Receipt)
	if c.Error != string(errcode.Revoked) || c.Status == nil || c.Status.Value != "revoked" || c.Credential == nil || c.Credential.StatusList.Idx != 3 {
		t.Fatalf("revoked receipt %+v", c)
	}
}

func TestVerifyWithoutSignerMakesNoReceipt(t *testing.T) {
	f := newReceiptFixture(t, 0)
	f.v.s.receipts = nil
	if res := f.v.Verify(context.Background(), Request{Presentation: f.present("aud", "n"), Audience: "aud", Nonce: "n"}); !res.Verified || res.Receipt != "" {
		t.Fatalf("%+v", res)
	}
}

func TestMiddlewareReturnsAndLogsReceipts(t *testing.T) {
	f := newReceiptFixture(t, 0)
	logPath := filepath.Join(t.TempDir(), "receipts.jsonl")
	sink, err := receipt.OpenFileSink(logPath, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var seen string
	mw, err := Middleware(f.v, MiddlewareOptions{Audience: "https://shop.example", Nonces: f.nonces, Sink: sink,
		Action: func(r *http.Request) (string, map[string]any) { return r.URL.Query().Get("action"), nil }})
	if err != nil {
		t.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := ResultFrom(r.Context())
		seen = res.Receipt
	}))
	call := func(action string) *httptest.ResponseRecorder {
		n, _, _ := f.nonces.Issue()
		req := httptest.NewRequest(http.MethodGet, "/x?action="+action, nil)
		req.Header.Set(HeaderAgentCredential, f.present("https://shop.example", n))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	ok := call("invoices:read")
	if ok.Code != 200 || ok.Header().Get(HeaderReceipt) == "" || ok.Header().Get(HeaderReceipt) != seen {
		t.Fatalf("allowed: %d, header %q, handler saw %q", ok.Code, ok.Header().Get(HeaderReceipt), seen)
	}
	denied := call("payments:refund")
	c := checkReceipt(t, denied.Header().Get(HeaderReceipt))
	if denied.Code != 403 || c.Error != string(errcode.ActionProhibited) || c.Action != "payments:refund" {
		t.Fatalf("denied: %d %+v", denied.Code, c)
	}
	var got []receipt.Record
	if _, err := receipt.SearchFile(logPath, receipt.Filter{}, func(r receipt.Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Receipt != seen || got[1].Claims.Action != "payments:refund" || got[1].Claims.Result != receipt.Error {
		t.Fatalf("action log %+v", got)
	}
	// A sink that cannot record: the request is not served.
	sink.Close()
	if w := call("invoices:read"); w.Code != 500 {
		t.Fatalf("unrecordable receipt answered %d", w.Code)
	}
}

// BenchmarkVerifyReceipts compares one in-process verification (status list
// cached) without and with a signed receipt.
func BenchmarkVerifyReceipts(b *testing.B) {
	t := &testing.T{}
	f := newReceiptFixture(t, time.Hour)
	pres := f.present("aud", "n")
	req := Request{Presentation: pres, Audience: "aud", Nonce: "n", Action: "invoices:read", Attributes: map[string]any{"k": "v"}}
	signer := f.v.s.receipts
	for _, tc := range []struct {
		name   string
		signer *receipt.Signer
	}{{"without", nil}, {"with", signer}} {
		b.Run(tc.name, func(b *testing.B) {
			f.v.s.receipts = tc.signer
			for b.Loop() {
				if res := f.v.Verify(context.Background(), req); !res.Allowed() || (tc.signer != nil) != (res.Receipt != "") {
					b.Fatalf("%+v", res.Error)
				}
			}
		})
	}
}

// TestChainReceipts: the receipt of a delegation chain names the last
// delegate as subject, every subject of the chain, the root credential, and
// its reference is over the chain's final element.
func TestChainReceipts(t *testing.T) {
	e := newChainEnv(t, 2)
	vk, vdid := testkeys.DIDKey(t, jwa.EdDSA)
	signer, err := receipt.SignerFromJWK(vdid, vk)
	if err != nil {
		t.Fatal(err)
	}
	p := DefaultPolicy()
	p.Trusted[e.issDID] = []string{schemas.AgentCertificationV1}
	p.MaxStatusAge = 0
	if e.v, err = New(p, append(e.opts, WithReceipts(signer))...); err != nil {
		t.Fatal(err)
	}
	pres := e.chain(e.hop(1), e.hop(2))
	r := e.verify(pres, "payments:initiate", map[string]any{"amount": 150, "currency": "EUR"})
	if !r.Allowed() {
		t.Fatalf("%+v %+v", r.Error, r.Decision)
	}
	c, err := receipt.Verify(context.Background(), r.Receipt, receipt.VerifyOptions{Keys: receipt.DIDKeys(offlineDIDs)})
	if err != nil {
		t.Fatal(err)
	}
	final := pres[strings.LastIndex(pres, "~~")+2:]
	final = final[:strings.LastIndex(final, "~")+1]
	if c.Subject != e.dids[2] || len(c.Chain) != 3 || c.Chain[0] != e.dids[0] || c.Chain[1] != e.dids[1] || c.Chain[2] != e.dids[2] ||
		c.Credential == nil || c.Credential.ID != receipt.CredentialID(e.root) || c.Reference != sdjwt.SDHash(final) || c.Reference == receipt.Reference(e.root) {
		t.Fatalf("chain receipt %+v", c)
	}
}
