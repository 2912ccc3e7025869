package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/approval"
	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/receipt"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// approvalEnv is a running issuer and verifier with an agent certified to
// pay up to 1000 EUR, with approval above 100 EUR, and to send wires
// (irreversible, which the verifier's policy makes need approval), and an
// approver certified for the agent's principal through the CLI.
type approvalEnv struct {
	t                *testing.T
	dir, base        string
	issuerTok, audit string
	agent            testKey
	cred             string
	approverDID      string
}

const (
	apAud       = "https://shop.example"
	apPrincipal = "did:web:acme.example"
)

func newApprovalEnv(t *testing.T) *approvalEnv {
	t.Helper()
	e := &approvalEnv{t: t, dir: t.TempDir()}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	e.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	srv := startFromConfig(t, e.dir, fmt.Sprintf(`listen: 127.0.0.1:%d
public_url: %s
data_dir: %s
status: {ttl: 1s}
verifier:
  max_status_age: 0s
  approve_irreversible: true
`, port, e.base, filepath.Join(e.dir, "data")))
	admin := srv.Value("bootstrap admin token (shown once, store it now): ")
	status, tok := httpJSON(t, "POST", e.base+"/v1/admin/tokens", admin, map[string]any{"role": "issuer"})
	if status != 201 {
		t.Fatalf("token: %d %v", status, tok)
	}
	e.issuerTok = tok["token"].(string)
	status, tok = httpJSON(t, "POST", e.base+"/v1/admin/tokens", admin, map[string]any{"role": "auditor"})
	if status != 201 {
		t.Fatalf("token: %d %v", status, tok)
	}
	e.audit = tok["token"].(string)

	e.agent = newTestKey(t)
	status, m := httpJSON(t, "POST", e.base+"/v1/credentials", e.issuerTok, map[string]any{
		"subject": e.agent.did,
		"claims": map[string]any{
			"principal": map[string]any{"id": apPrincipal, "name": "ACME", "type": "organization"},
			"agent":     map[string]any{"class": "ap-assistant"},
			"permissions": []any{
				map[string]any{"action": "payments:initiate", "reversibility": "compensable",
					"constraints": map[string]any{"max_amount": 1000, "currency": "EUR", "approval": map[string]any{"above_amount": 100}}},
				map[string]any{"action": "wires:send", "reversibility": "irreversible"},
			},
			"prohibitions": []any{},
			"autonomy":     "supervised",
		},
	})
	if status != 201 {
		t.Fatalf("issue: %d %v", status, m)
	}
	e.cred = m["credential"].(string)

	// The approver makes a key; the issuer certifies it for the principal
	// (agentcert credentials issue with vct urn:agentcert:approver:v1).
	e.approverDID = e.certifyApprover("approver", apPrincipal)
	return e
}

// certifyApprover makes NAME.jwk and has the issuer certify it for
// principal; the credential is in NAME.cred.
func (e *approvalEnv) certifyApprover(name, principal string) string {
	e.t.Helper()
	id := mustRun(e.t, e.dir, "did", "create", "--method", "key", "--alg", "EdDSA", "--out", name+".jwk")
	req, _ := json.Marshal(map[string]any{"vct": "urn:agentcert:approver:v1", "subject": id, "claims": map[string]any{
		"principal": map[string]any{"id": principal, "name": "ACME"},
		"approver":  map[string]any{"name": "Dana Smith", "role": "Head of Finance"},
	}})
	write(e.t, filepath.Join(e.dir, name+".req.json"), string(req))
	mustRun(e.t, e.dir, "credentials", "issue", "--request", name+".req.json", "--out", name+".cred", "--server", e.base, "--token", e.issuerTok)
	return id
}

// verify posts a fresh presentation with action, request and approval.
func (e *approvalEnv) verify(action string, request map[string]any, approvalToken string) map[string]any {
	e.t.Helper()
	body := map[string]any{"presentation": presentAll(e.t, e.cred, e.agent, apAud, nonceFrom(e.t, e.base)), "audience": apAud,
		"action": action, "request": request}
	if approvalToken != "" {
		body["approval"] = approvalToken
	}
	status, m := httpJSON(e.t, "POST", e.base+"/v1/verify", "", body)
	if status != 200 || m["verified"] != true {
		e.t.Fatalf("verify: %d %v", status, m)
	}
	return m
}

func decisionOf(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	d, ok := m["decision"].(map[string]any)
	if !ok {
		t.Fatalf("no decision in %v", m)
	}
	return d
}

// approve writes what asks for approval to a file and runs agentcert
// approve on it with the approver's key and credential.
func (e *approvalEnv) approve(name string, asking any) (token, shown string) {
	e.t.Helper()
	b, _ := json.Marshal(asking)
	f := filepath.Join(e.dir, fmt.Sprintf("ask-%d.json", time.Now().UnixNano()))
	write(e.t, f, string(b))
	out, errOut, code := run(e.t, e.dir, "approve", f, "--key", name+".jwk", "--credential", name+".cred", "--yes")
	if code != 0 {
		e.t.Fatalf("approve: exit %d: %s", code, errOut)
	}
	return strings.TrimSpace(out), errOut
}

func pay(amount int) map[string]any {
	return map[string]any{"amount": amount, "currency": "EUR", "counterparty": "shop.example"}
}

func TestApprovalEndToEnd(t *testing.T) {
	e := newApprovalEnv(t)

	// A small payment is allowed without approval.
	if d := decisionOf(t, e.verify("payments:initiate", pay(50), "")); d["allowed"] != true || d["reversibility"] != "compensable" {
		t.Fatalf("small payment: %v", d)
	}
	// A large one needs approval: the decision carries the request.
	res := e.verify("payments:initiate", pay(250), "")
	d := decisionOf(t, res)
	ar, _ := d["approval_request"].(map[string]any)
	if d["allowed"] != false || d["code"] != "approval_required" || ar == nil || ar["principal"] != apPrincipal || ar["sub"] != e.agent.did || ar["aud"] != apAud {
		t.Fatalf("large payment: %v", d)
	}
	wantDigest, _ := approval.Digest("payments:initiate", pay(250))
	if ar["digest"] != wantDigest {
		t.Fatalf("digest %v, want %s", ar["digest"], wantDigest)
	}
	if c, err := receipt.Unverified(res["receipt"].(string)); err != nil || c.Error != "approval_required" || c.Approval == nil || c.Approval.Nonce != ar["nonce"] {
		t.Fatalf("receipt of approval_required: %+v %v", c, err)
	}
	// The approver sees what is approved, in words, and signs.
	tok, shown := e.approve("approver", res)
	for _, want := range []string{"payments:initiate", "250 EUR", "shop.example", e.agent.did, apPrincipal} {
		if !strings.Contains(shown, want) {
			t.Fatalf("approve does not show %q:\n%s", want, shown)
		}
	}
	// Used for 900 EUR: refused, and the nonce is not burnt.
	if d := decisionOf(t, e.verify("payments:initiate", pay(900), tok)); d["allowed"] != false || d["code"] != "approval_digest_mismatch" {
		t.Fatalf("approval for 250 used for 900: %v", d)
	}
	// Allowed once.
	res = e.verify("payments:initiate", pay(250), tok)
	d = decisionOf(t, res)
	if a, _ := d["approval"].(map[string]any); d["allowed"] != true || a["approver"] != e.approverDID {
		t.Fatalf("approved payment: %v", d)
	}
	if c, err := receipt.Unverified(res["receipt"].(string)); err != nil || c.Result != receipt.Success || c.Approval == nil || c.Approval.Approver != e.approverDID {
		t.Fatalf("receipt of the approved payment: %+v %v", c, err)
	}
	// The same approval again is refused.
	if d := decisionOf(t, e.verify("payments:initiate", pay(250), tok)); d["allowed"] != false || d["code"] != "approval_replayed" {
		t.Fatalf("second use: %v", d)
	}

	// The issuer's audit log has the certification, the request and the use.
	for _, action := range []string{"approver.certify", "approval.request", "approval.use"} {
		status, m := httpJSON(t, "GET", e.base+"/v1/audit?action="+action, e.audit, nil)
		if entries, _ := m["entries"].([]any); status != 200 || len(entries) == 0 {
			t.Errorf("audit %s: %d %v", action, status, m)
		}
	}
}

func TestApprovalRefusedEndToEnd(t *testing.T) {
	e := newApprovalEnv(t)
	ask := func() map[string]any {
		return decisionOf(t, e.verify("payments:initiate", pay(250), ""))["approval_request"].(map[string]any)
	}
	want := func(what, tok, code string) {
		t.Helper()
		if d := decisionOf(t, e.verify("payments:initiate", pay(250), tok)); d["allowed"] != false || d["code"] != code {
			t.Errorf("%s: %v, want %s", what, d, code)
		}
	}

	// An approver the issuer certified for another principal: the CLI
	// refuses to sign, and an approval signed anyway is refused.
	otherDID := e.certifyApprover("other", "did:web:other.example")
	b, _ := json.Marshal(map[string]any{"approval_request": ask()})
	write(t, filepath.Join(e.dir, "ask.json"), string(b))
	if _, errOut, code := run(t, e.dir, "approve", "ask.json", "--key", "other.jwk", "--credential", "other.cred", "--yes"); code == 0 || !strings.Contains(errOut, "did:web:other.example") {
		t.Fatalf("approve with another principal's credential: exit %d %s", code, errOut)
	}
	req := requestOf(t, ask())
	want("approver of another principal", signApproval(t, e, req, "other", otherDID), "approval_unauthorized")
	// An approval naming another principal (with that principal's approver).
	req = requestOf(t, ask())
	req.Principal = "did:web:other.example"
	want("approval for another principal", signApproval(t, e, req, "other", otherDID), "approval_unauthorized")

	// An approver credential the approver made itself (not the issuer).
	mustRun(t, e.dir, "did", "create", "--method", "key", "--out", "rogue-issuer.jwk")
	rogueDID := mustRun(t, e.dir, "did", "create", "--method", "key", "--alg", "EdDSA", "--out", "rogue.jwk")
	write(t, filepath.Join(e.dir, "rogue-claims.json"), `{"principal":{"id":"`+apPrincipal+`"},"approver":{"name":"Mallory"}}`)
	rogueCred := mustRun(t, e.dir, "issue", "--key", "rogue-issuer.jwk", "--claims", "rogue-claims.json", "--vct", "urn:agentcert:approver:v1", "--holder", rogueDID)
	write(t, filepath.Join(e.dir, "rogue.cred"), rogueCred)
	tok, _ := e.approve("rogue", map[string]any{"approval_request": ask()})
	want("self-made approver credential", tok, "approval_unauthorized")

	// For another audience.
	status, m := httpJSON(t, "POST", e.base+"/v1/approvals/requests", "", map[string]any{
		"action": "payments:initiate", "request": pay(250), "audience": "https://evil.example", "principal": apPrincipal, "subject": e.agent.did})
	if status != 201 || m["description"] == "" {
		t.Fatalf("approval request: %d %v", status, m)
	}
	tok, _ = e.approve("approver", m)
	want("another audience", tok, "approval_wrong_audience")
	// The same request taken from its approval link: the approver is shown
	// the audience, and the approval is refused for it just the same.
	link, _ := m["approval_link"].(string)
	out, errOut, code := run(t, e.dir, "approve", link, "--key", "approver.jwk", "--credential", "approver.cred", "--yes")
	if code != 0 || !strings.Contains(errOut, "https://evil.example") {
		t.Fatalf("approve from the link %q: exit %d: %s", link, code, errOut)
	}
	want("another audience, from the link", strings.TrimSpace(out), "approval_wrong_audience")
	if _, errOut, code := run(t, e.dir, "approve", link+"x", "--key", "approver.jwk", "--credential", "approver.cred", "--yes"); code != 2 {
		t.Errorf("a damaged link: exit %d: %s", code, errOut)
	}

	// Expired.
	status, m = httpJSON(t, "POST", e.base+"/v1/approvals/requests", "", map[string]any{
		"action": "payments:initiate", "request": pay(250), "audience": apAud, "principal": apPrincipal, "subject": e.agent.did, "valid_for": "5s"})
	if status != 201 {
		t.Fatalf("approval request: %d %v", status, m)
	}
	tok, _ = e.approve("approver", m)
	exp := time.Unix(int64(m["approval_request"].(map[string]any)["exp"].(float64)), 0)
	time.Sleep(time.Until(exp) + 1100*time.Millisecond) // the approval's lifetime passing is what is tested
	want("expired", tok, "approval_expired")

	// Malformed requests for an approval request.
	for _, body := range []map[string]any{
		{"action": "payments", "audience": apAud, "principal": apPrincipal, "subject": e.agent.did},
		{"action": "payments:initiate", "principal": apPrincipal, "subject": e.agent.did},
		{"action": "payments:initiate", "audience": apAud, "principal": apPrincipal, "subject": e.agent.did, "valid_for": "1h"},
		{"action": "payments:initiate", "audience": apAud, "principal": apPrincipal, "subject": e.agent.did, "extra": 1},
	} {
		if status, m := httpJSON(t, "POST", e.base+"/v1/approvals/requests", "", body); status != 400 || m["code"] != "invalid_input" {
			t.Errorf("%v: %d %v", body, status, m)
		}
	}
}

// Irreversible actions need approval by the verifier's policy, even when
// the credential says nothing of approval.
func TestApprovalOfIrreversibleEndToEnd(t *testing.T) {
	e := newApprovalEnv(t)
	d := decisionOf(t, e.verify("wires:send", pay(5), ""))
	if d["allowed"] != false || d["code"] != "approval_required" || d["reversibility"] != "irreversible" {
		t.Fatalf("irreversible action: %v", d)
	}
	tok, _ := e.approve("approver", map[string]any{"decision": d})
	if d := decisionOf(t, e.verify("wires:send", pay(5), tok)); d["allowed"] != true {
		t.Fatalf("approved irreversible action: %v", d)
	}
	// agentcert verify --server sends the approval too.
	n := nonceFrom(t, e.base)
	write(t, filepath.Join(e.dir, "pres"), presentAll(t, e.cred, e.agent, apAud, n))
	out, _, code := run(t, e.dir, "verify", "--presentation", "pres", "--aud", apAud, "--nonce", n, "--server", e.base, "--action", "wires:send", "--request", `{"amount":5}`)
	if code != 1 || !strings.Contains(out, "approval_required") || !strings.Contains(out, "approval request (agentcert approve)") {
		t.Fatalf("verify without approval: exit %d\n%s", code, out)
	}
	tok, _ = e.approve("approver", map[string]any{"decision": decisionOf(t, e.verify("wires:send", map[string]any{"amount": 5}, ""))})
	write(t, filepath.Join(e.dir, "approval"), tok)
	n = nonceFrom(t, e.base)
	write(t, filepath.Join(e.dir, "pres"), presentAll(t, e.cred, e.agent, apAud, n))
	out, _, code = run(t, e.dir, "verify", "--presentation", "pres", "--aud", apAud, "--nonce", n, "--server", e.base, "--action", "wires:send", "--request", `{"amount":5}`, "--approval", "approval")
	if code != 0 || !strings.Contains(out, "ALLOWED") || !strings.Contains(out, "approved by: "+e.approverDID) {
		t.Fatalf("verify with --approval: exit %d\n%s", code, out)
	}
}

func requestOf(t *testing.T, m map[string]any) approval.Request {
	t.Helper()
	b, _ := json.Marshal(m)
	r, err := approval.ParseRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// signApproval signs req with NAME.jwk and NAME.cred without the CLI's
// checks, as an attacker would.
func signApproval(t *testing.T, e *approvalEnv, req approval.Request, name, approverDID string) string {
	t.Helper()
	k, err := keyutil.ReadPrivateFile(filepath.Join(e.dir, name+".jwk"))
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := httpsig.Thumbprint(k)
	_ = k.Set(jwk.KeyIDKey, tp)
	cred, err := os.ReadFile(filepath.Join(e.dir, name+".cred"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := approval.Sign(req, approverDID, k, strings.TrimSpace(string(cred)), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
