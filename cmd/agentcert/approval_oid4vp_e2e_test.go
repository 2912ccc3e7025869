package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/oid4vp"
	"github.com/agentcert/agentcert/receipt"
	"github.com/agentcert/agentcert/sdjwt"
)

// The query of a payment: the permission and who the principal is.
const apPayQuery = `{"credentials":[{"id":"cert","format":"dc+sd-jwt","meta":{"vct_values":["urn:agentcert:agent-certification:v1"]},
	"claims":[{"path":["permissions",null,"action"],"values":["payments:initiate"]},{"path":["principal","id"]}]}]}`

// vpAsk is the 201 body of POST /v1/presentation-requests with approval.
type vpAsk struct {
	ID              string         `json:"id"`
	ClientID        string         `json:"client_id"`
	Link            string         `json:"link"`
	ApprovalRequest map[string]any `json:"approval_request"`
	ApprovalLink    string         `json:"approval_link"`
	Request         struct {
		ResponseURI     string   `json:"response_uri"`
		Nonce           string   `json:"nonce"`
		State           string   `json:"state"`
		TransactionData []string `json:"transaction_data"`
	} `json:"request"`
}

// askOverOID4VP creates a presentation request for a payment of amount
// that asks the principal's approval (edit changes the body).
func (e *approvalEnv) askOverOID4VP(amount int, edit func(map[string]any)) vpAsk {
	e.t.Helper()
	body := map[string]any{"dcql_query": json.RawMessage(apPayQuery), "action": "payments:initiate", "request": pay(amount),
		"approval": map[string]any{"principal": apPrincipal, "sub": e.agent.did}}
	if edit != nil {
		edit(body)
	}
	status, m := httpJSON(e.t, http.MethodPost, e.base+"/v1/presentation-requests", "", body)
	if status != http.StatusCreated {
		e.t.Fatalf("POST /v1/presentation-requests: %d %v", status, m)
	}
	b, _ := json.Marshal(m)
	var out vpAsk
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// outcome fetches the result of presentation request id.
func (e *approvalEnv) outcome(id string) map[string]any {
	e.t.Helper()
	status, m := httpJSON(e.t, http.MethodGet, e.base+"/v1/presentation-requests/"+id, "", nil)
	if status != http.StatusOK {
		e.t.Fatalf("GET the outcome: %d %v", status, m)
	}
	return m
}

func outcomeCode(m map[string]any) string {
	er, _ := m["error"].(map[string]any)
	c, _ := er["code"].(string)
	return c
}

// Over OpenID4VP the approval request travels as agentcert_approval
// transaction data and the approval in the KB-JWT: a 250 EUR payment is
// asked for, the wallet refuses to answer without the approval and shows
// its link, the approver signs from the link, and the answer carrying it is
// allowed once; the use is in the audit log and the receipt.
func TestApprovalOverOID4VPEndToEnd(t *testing.T) {
	e := newApprovalEnv(t)
	credFile := filepath.Join(e.dir, "agent.cred")
	write(t, credFile, e.cred+"\n")
	keyFile := e.agentKeyFile()

	c := e.askOverOID4VP(250, nil)
	if !strings.HasPrefix(c.ClientID, "decentralized_identifier:did:web:") || c.ApprovalRequest["aud"] != c.ClientID ||
		c.ApprovalRequest["principal"] != apPrincipal || c.ApprovalRequest["sub"] != e.agent.did || len(c.Request.TransactionData) != 1 {
		t.Fatalf("created %+v", c)
	}
	td, err := oid4vp.DecodeTransactionData(c.Request.TransactionData[0])
	if err != nil || td.Type != "agentcert_approval" || td.Approval == nil || td.Approval.Nonce != c.ApprovalRequest["nonce"] {
		t.Fatalf("transaction data %+v %v", td, err)
	}

	// Without an approval the wallet posts nothing and shows what to approve.
	_, errOut, code := run(t, e.dir, "wallet", "present", c.Link, "--credential", credFile, "--key", keyFile)
	link := regexp.MustCompile(`agentcert-approval:\?request=[A-Za-z0-9_%=-]+`).FindString(errOut)
	if code == 0 || !strings.Contains(errOut, "approval_required") || !strings.Contains(errOut, "250 EUR") || link == "" {
		t.Fatalf("wallet present without an approval: exit %d\n%s", code, errOut)
	}
	if o := e.outcome(c.ID); o["status"] != "pending" {
		t.Fatalf("after the refusal to answer: %v", o)
	}
	// The approver approves from the link the wallet showed.
	out, errOut, code := run(t, e.dir, "approve", link, "--key", "approver.jwk", "--credential", "approver.cred", "--yes")
	if code != 0 || !strings.Contains(errOut, "250 EUR") || !strings.Contains(errOut, c.ClientID) {
		t.Fatalf("approve: exit %d\n%s", code, errOut)
	}
	approvalFile := filepath.Join(e.dir, "approval-250")
	write(t, approvalFile, out)
	if out, errOut, code := run(t, e.dir, "wallet", "present", c.Link, "--credential", credFile, "--key", keyFile, "--approval", approvalFile); code != 0 {
		t.Fatalf("wallet present --approval: exit %d\n%s\n%s", code, out, errOut)
	}
	o := e.outcome(c.ID)
	pres := o["presentations"].(map[string]any)["cert"].([]any)[0].(map[string]any)
	d, _ := pres["decision"].(map[string]any)
	a, _ := d["approval"].(map[string]any)
	if o["allowed"] != true || d["allowed"] != true || a["approver"] != e.approverDID || a["nonce"] != c.ApprovalRequest["nonce"] {
		t.Fatalf("outcome %v", o)
	}
	if rc, err := receipt.Unverified(pres["receipt"].(string)); err != nil || rc.Approval == nil || rc.Approval.Approver != e.approverDID || rc.Audience != c.ClientID {
		t.Fatalf("receipt %+v %v", rc, err)
	}
	status, m := httpJSON(t, http.MethodGet, e.base+"/v1/audit?action=approval.use", e.audit, nil)
	entries, _ := m["entries"].([]any)
	found := false
	for _, en := range entries {
		if en.(map[string]any)["target"] == c.ApprovalRequest["nonce"] {
			found = true
		}
	}
	if status != http.StatusOK || !found {
		t.Fatalf("audit approval.use: %d %v", status, m)
	}
	status, m = httpJSON(t, http.MethodGet, e.base+"/v1/audit?action=approval.request", e.audit, nil)
	if entries, _ := m["entries"].([]any); status != http.StatusOK || len(entries) == 0 {
		t.Fatalf("audit approval.request: %d %v", status, m)
	}

	// The negatives, each answered by the wallet with --approval and
	// refused by the verifier with a stable code.
	present := func(what string, c vpAsk, tok, want string) {
		t.Helper()
		f := filepath.Join(e.dir, fmt.Sprintf("approval-%d", time.Now().UnixNano()))
		write(t, f, tok)
		_, errOut, code := run(t, e.dir, "wallet", "present", c.Link, "--credential", credFile, "--key", keyFile, "--approval", f)
		if code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d, want %s\n%s", what, code, want, errOut)
		}
		if o := e.outcome(c.ID); o["status"] != "failed" || o["allowed"] != false || outcomeCode(o) != want {
			t.Errorf("%s: outcome %v, want %s", what, o, want)
		}
	}
	// The same approval in a second request for the same payment.
	present("replayed", e.askOverOID4VP(250, nil), out, "approval_replayed")
	// An approval of 250 EUR used for 900 EUR.
	unused, _ := e.approve("approver", map[string]any{"approval_request": e.askOverOID4VP(250, nil).ApprovalRequest})
	present("250 used for 900", e.askOverOID4VP(900, nil), unused, "approval_digest_mismatch")
	// By an approver the issuer certified for another principal.
	otherDID := e.certifyApprover("other", "did:web:other.example")
	c = e.askOverOID4VP(250, nil)
	present("approver of another principal", c, signApproval(t, e, requestOf(t, c.ApprovalRequest), "other", otherDID), "approval_unauthorized")
	// Expired: the approval may be used for 2 s, the request for longer.
	c = e.askOverOID4VP(250, func(b map[string]any) { b["approval"].(map[string]any)["expires_in"] = 2 })
	tok, _ := e.approve("approver", c)
	time.Sleep(time.Until(time.Unix(int64(c.ApprovalRequest["exp"].(float64)), 0)) + 1100*time.Millisecond) // the approval's lifetime passing is what is tested
	present("expired", c, tok, "approval_expired")

	// Hand-made answers: the transaction data bound without the approval,
	// and the approval without the transaction data's hash.
	for _, tc := range []struct {
		name   string
		claims func(c vpAsk) map[string]any
		want   string
	}{
		{"no approval in the KB-JWT", func(c vpAsk) map[string]any {
			return map[string]any{"transaction_data_hashes": []string{oid4vp.TransactionDataHash(c.Request.TransactionData[0])}}
		}, "approval_required"},
		{"no transaction data hash", func(c vpAsk) map[string]any {
			tok, _ := e.approve("approver", c)
			return map[string]any{oid4vp.ClaimApproval: tok}
		}, "transaction_data_mismatch"},
	} {
		c := e.askOverOID4VP(250, nil)
		p, err := sdjwt.Present(e.cred, []string{"/permissions/0", "/principal/id"}, &sdjwt.KBOptions{Key: e.agent.key, Audience: c.ClientID, Nonce: c.Request.Nonce, Claims: tc.claims(c)})
		if err != nil {
			t.Fatal(err)
		}
		vp, _ := json.Marshal(map[string][]string{"cert": {p}})
		if status, code := postForm(t, c.Request.ResponseURI, url.Values{"vp_token": {string(vp)}, "state": {c.Request.State}}); status != http.StatusBadRequest || code != tc.want {
			t.Errorf("%s: %d %s, want 400 %s", tc.name, status, code, tc.want)
		}
		if o := e.outcome(c.ID); outcomeCode(o) != tc.want || o["allowed"] != false {
			t.Errorf("%s: outcome %v", tc.name, o)
		}
	}
}

// agentKeyFile writes the agent's private JWK for agentcert wallet present.
func (e *approvalEnv) agentKeyFile() string {
	e.t.Helper()
	b, err := json.Marshal(e.agent.key)
	if err != nil {
		e.t.Fatal(err)
	}
	f := filepath.Join(e.dir, "agent.jwk")
	write(e.t, f, string(b))
	return f
}
