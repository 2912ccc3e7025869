package verifier_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/agentcert/agentcert/approval"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// On the signed-request channel, a request refused by the rate limit does
// not use up the approval it carries (Agent-Approval): the limit comes
// before the approval's nonce is spent, so the same approval serves the
// request once the limit lets it through, and only once.
func TestChannelRateLimitDoesNotSpendApproval(t *testing.T) {
	e := newChannelEnv(t, []verifier.RateClass{{Name: "pay", Actions: []string{"payments:initiate"}, PerAgent: verifier.Rate{Requests: 1, Per: 20 * time.Second}}})
	const principal = "did:web:acme.example"
	now := e.clk.Now()
	// An agent that may pay with a person's approval, every time.
	k, sub := testkeys.DIDKey(t, jwa.EdDSA)
	e.idx++
	cred, err := sdjwt.Issue(map[string]any{
		"iss": e.issDID, "sub": sub, "vct": "urn:x", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "cnf": map[string]any{"jwk": testkeys.PublicJWK(t, k)},
		"status":    map[string]any{"status_list": map[string]any{"idx": e.idx, "uri": statusURI}},
		"principal": map[string]any{"id": principal},
		"permissions": []any{map[string]any{"action": "invoices:*"},
			map[string]any{"action": "payments:initiate", "constraints": map[string]any{"approval": "always"}}},
	}, []string{"/permissions/*"}, e.iss, nil)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := httpsig.Thumbprint(k)
	a := &agent{key: k, cred: cred, idx: e.idx, kid: kid}
	// The approver the same issuer certified for the principal.
	apKey, apDID := testkeys.DIDKey(t, jwa.EdDSA)
	tp, _ := httpsig.Thumbprint(apKey)
	_ = apKey.Set("kid", tp)
	e.idx++
	apCred, err := sdjwt.Issue(map[string]any{
		"iss": e.issDID, "sub": apDID, "vct": schemas.ApproverV1, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"cnf":       map[string]any{"jwk": testkeys.PublicJWK(t, apKey)},
		"status":    map[string]any{"status_list": map[string]any{"idx": e.idx, "uri": statusURI}},
		"principal": map[string]any{"id": principal}, "approver": map[string]any{"name": "Dana"},
	}, nil, e.iss, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.establish(t, a)
	pay := func(tok string) answer {
		t.Helper()
		return e.sendTo(t, http.MethodPost, "/invoices/inv-1/pay", signOpts{key: a.key, kid: a.kid, mutate: func(r *http.Request) {
			if tok != "" {
				r.Header.Set(verifier.HeaderApproval, tok)
			}
		}})
	}
	approve := func() string {
		t.Helper()
		got := pay("")
		if got.status != 403 || got.code != errcode.ApprovalRequired {
			t.Fatalf("without an approval: %+v", got)
		}
		raw, _ := json.Marshal(got.body["approval_request"])
		req, err := approval.ParseRequest(raw)
		if err != nil {
			t.Fatalf("approval_request %s: %v", raw, err)
		}
		tok, err := approval.Sign(req, apDID, apKey, apCred, e.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if got := pay(approve()); got.status != 200 {
		t.Fatalf("approved: %+v", got)
	}
	tok := approve()
	if got := pay(tok); got.status != 429 || got.code != errcode.RateLimited {
		t.Fatalf("over the rate: %+v", got)
	}
	e.clk.Set(e.clk.Now().Add(20 * time.Second))
	if got := pay(tok); got.status != 200 {
		t.Fatalf("the same approval after Retry-After: %+v", got)
	}
	e.clk.Set(e.clk.Now().Add(20 * time.Second))
	if got := pay(tok); got.status != 403 || got.code != errcode.ApprovalReplayed {
		t.Fatalf("used again: %+v", got)
	}
}
