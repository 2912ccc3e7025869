package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/oid4vp"
)

const vpReadQuery = `{"credentials":[{"id":"cert","format":"dc+sd-jwt","meta":{"vct_values":["urn:agentcert:agent-certification:v1"]},
	"claims":[{"path":["permissions",null,"action"],"values":["invoices:read"]},{"path":["principal","id"]}]}]}`

func (ts *testServer) presentationRequest(t *testing.T, req map[string]any) oid4vp.Created {
	t.Helper()
	if _, ok := req["dcql_query"]; !ok {
		req["dcql_query"] = json.RawMessage(vpReadQuery)
	}
	var out oid4vp.Created
	ts.Call(http.MethodPost, "/v1/presentation-requests", "", req, http.StatusCreated, &out)
	return out
}

func (ts *testServer) presentationResult(t *testing.T, id string) (int, oid4vp.Result) {
	t.Helper()
	status, body := ts.Do(http.MethodGet, "/v1/presentation-requests/"+id, "", nil)
	var out oid4vp.Result
	if status == http.StatusOK {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
	}
	return status, out
}

// postForm posts an authorization response by hand and returns the status
// and agentcert's code.
func postForm(t *testing.T, uri string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(uri, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Code
}

// TestOID4VPWalletPresent runs a counterparty's presentation request
// against `agentcert serve` and answers it with `agentcert wallet present`:
// signed (decentralized_identifier: the service's did:web) with
// direct_post.jwt and transaction data, and unsigned (redirect_uri:) with
// direct_post. The negatives: a replayed answer, a query the credential
// cannot satisfy, an expired request, and hand-made responses with the
// wrong nonce, the wrong audience and a claim the query did not ask for.
func TestOID4VPWalletPresent(t *testing.T) {
	s := startIssued(t)
	ts, dir, agentKey, cred := s.testServer, s.Dir, s.AgentKey, s.Cred.Credential
	credFile, err := createTemp(dir, "cred-*.txt", cred+"\n")
	if err != nil {
		t.Fatal(err)
	}

	td := json.RawMessage(`{"type":"payment_confirmation","credential_ids":["cert"],"amount":"12.00","currency":"EUR"}`)
	c := ts.presentationRequest(t, map[string]any{"response_mode": "direct_post.jwt", "transaction_data": []any{td}, "action": "invoices:read"})
	if !strings.HasPrefix(c.ClientID, "decentralized_identifier:did:web:") || !strings.HasPrefix(c.Link, "openid4vp://?") || c.RequestURI == "" {
		t.Fatalf("created %+v", c)
	}
	if status, r := ts.presentationResult(t, c.ID); status != http.StatusOK || r.Status != "pending" {
		t.Fatalf("before the answer: %d %+v", status, r)
	}
	out, errOut, code := run(t, dir, "wallet", "present", c.Link, "--credential", credFile, "--key", agentKey, "--json")
	if code != 0 {
		t.Fatalf("wallet present: exit %d\n%s\n%s", code, out, errOut)
	}
	var shown struct {
		Posted        bool `json:"posted"`
		Presentations []struct {
			Disclosed []string `json:"disclosed"`
			TxHashes  []string `json:"transaction_data_hashes"`
		} `json:"presentations"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || !shown.Posted || len(shown.Presentations) != 1 || len(shown.Presentations[0].TxHashes) != 1 {
		t.Fatalf("wallet present printed %s (%v)", out, err)
	}
	if !strings.Contains(errOut, "signed by did:web:") || !strings.Contains(errOut, "payment_confirmation") {
		t.Fatalf("wallet present stderr: %s", errOut)
	}
	// The same link again: the request was answered.
	if _, errOut, code := run(t, dir, "wallet", "present", c.Link, "--credential", credFile, "--key", agentKey); code == 0 || !strings.Contains(errOut, "presentation_request_answered") {
		t.Fatalf("replayed answer: exit %d: %s", code, errOut)
	}
	status, r := ts.presentationResult(t, c.ID)
	if status != http.StatusOK || r.Status != "verified" || !r.Verified || !r.Allowed || len(r.TransactionData) != 1 || r.TransactionData[0]["amount"] != "12.00" {
		t.Fatalf("result: %d %+v", status, r)
	}
	claims := r.Presentations["cert"][0].Claims
	perms, _ := claims["permissions"].([]any)
	// Only the asked-for permission; what the type metadata keeps in clear
	// (principal, agent, autonomy, prohibitions) is there anyway.
	if len(perms) != 1 || len(shown.Presentations[0].Disclosed) != 2 {
		t.Fatalf("disclosed more than asked: %v", claims)
	}
	if status, _ := ts.presentationResult(t, c.ID); status != http.StatusNotFound {
		t.Fatalf("second fetch: %d, want 404", status)
	}

	// Unsigned, by value, direct_post.
	u := ts.presentationRequest(t, map[string]any{"client_id_prefix": "redirect_uri"})
	linkFile := filepath.Join(dir, "link.txt")
	if err := os.WriteFile(linkFile, []byte(u.Link+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, dir, "wallet", "present", linkFile, "--credential", credFile, "--key", agentKey); !strings.Contains(out, "cert: discloses /permissions/0/action") {
		t.Fatalf("wallet present (redirect_uri): %s", out)
	}
	if _, r := ts.presentationResult(t, u.ID); !r.Verified {
		t.Fatalf("redirect_uri result %+v", r)
	}

	// A query the credential cannot satisfy: nothing is posted.
	q := ts.presentationRequest(t, map[string]any{"dcql_query": json.RawMessage(`{"credentials":[{"id":"cert","format":"dc+sd-jwt","meta":{"vct_values":["urn:agentcert:agent-certification:v1"]},"claims":[{"path":["clearance"]}]}]}`)})
	if _, errOut, code := run(t, dir, "wallet", "present", q.Link, "--credential", credFile, "--key", agentKey); code == 0 || !strings.Contains(errOut, "query_unsatisfied") {
		t.Fatalf("unsatisfiable query: exit %d: %s", code, errOut)
	}
	if _, r := ts.presentationResult(t, q.ID); r.Status != "pending" {
		t.Fatalf("after a refusal to answer: %+v", r)
	}

	// Hand-made responses to unsigned requests (the state travels by value).
	for _, tc := range []struct {
		name       string
		aud, nonce func(c oid4vp.Created) string
		disclose   []string
		code       string
	}{
		{"wrong nonce", func(c oid4vp.Created) string { return c.ClientID }, func(oid4vp.Created) string { return "n-elsewhere" }, []string{"/permissions/0"}, "kb_wrong_nonce"},
		{"wrong audience", func(oid4vp.Created) string { return "https://elsewhere.example" }, func(c oid4vp.Created) string { return c.Request.Nonce }, []string{"/permissions/0"}, "kb_wrong_audience"},
		{"over-disclosure", func(c oid4vp.Created) string { return c.ClientID }, func(c oid4vp.Created) string { return c.Request.Nonce }, []string{"/permissions/0", "/permissions/1"}, "over_disclosure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.presentationRequest(t, map[string]any{"client_id_prefix": "redirect_uri"})
			args := []string{"present", "--credential", credFile, "--key", agentKey, "--aud", tc.aud(c), "--nonce", tc.nonce(c)}
			for _, d := range tc.disclose {
				args = append(args, "--disclose", d)
			}
			pres := mustRun(t, dir, args...)
			vp, _ := json.Marshal(map[string][]string{"cert": {pres}})
			if status, code := postForm(t, c.Request.ResponseURI, url.Values{"vp_token": {string(vp)}, "state": {c.Request.State}}); status != http.StatusBadRequest || code != tc.code {
				t.Fatalf("response: %d %s, want 400 %s", status, code, tc.code)
			}
			if _, r := ts.presentationResult(t, c.ID); r.Status != "failed" || r.Error == nil || string(r.Error.Code) != tc.code {
				t.Fatalf("result %+v", r)
			}
		})
	}

	// An expired request: its request object is gone and its result says so.
	e := ts.presentationRequest(t, map[string]any{"expires_in": 1})
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _ := ts.Do(http.MethodGet, strings.TrimPrefix(e.RequestURI, ts.URL), "", nil)
		if status != http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the request did not expire")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, errOut, code := run(t, dir, "wallet", "present", e.Link, "--credential", credFile, "--key", agentKey); code == 0 || !strings.Contains(errOut, "presentation_request_expired") {
		t.Fatalf("expired request: exit %d: %s", code, errOut)
	}
	if _, r := ts.presentationResult(t, e.ID); r.Status != "expired" {
		t.Fatalf("expired result %+v", r)
	}
}

// TestOID4VPCallback: with verifier.presentation_callback the outcome is
// posted to the counterparty's URL and not kept for fetching.
func TestOID4VPCallback(t *testing.T) {
	got := make(chan oid4vp.Result, 1)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var res oid4vp.Result
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&res) != nil {
			http.Error(w, "bad callback", http.StatusBadRequest)
			return
		}
		got <- res
	}))
	defer cb.Close()
	s := startIssued(t, "AGENTCERT_VERIFIER_PRESENTATION_CALLBACK="+cb.URL+"/outcomes")
	ts, dir, agentKey := s.testServer, s.Dir, s.AgentKey
	credFile, err := createTemp(dir, "cred-*.txt", s.Cred.Credential)
	if err != nil {
		t.Fatal(err)
	}
	c := ts.presentationRequest(t, map[string]any{})
	mustRun(t, dir, "wallet", "present", c.Link, "--credential", credFile, "--key", agentKey)
	select {
	case r := <-got:
		if r.Status != "verified" || !r.Verified {
			t.Fatalf("callback got %+v", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no callback")
	}
	if status, _ := ts.presentationResult(t, c.ID); status != http.StatusNotFound {
		t.Fatalf("a delivered outcome is still fetchable: %d", status)
	}
}

// TestOID4VPDelegationChain: a sub-agent answers a counterparty's
// presentation request with the delegation chain it was handed: `agentcert
// wallet present` matches the query against the certification at the
// chain's root and signs the KB-JWT with the sub-agent's key; the service
// verifies the chain, checks the query on the root's claims, and decides
// the action on the last hop. A sub-agent not handed the action is denied.
func TestOID4VPDelegationChain(t *testing.T) {
	s := startIssued(t)
	ts, dir := s.testServer, s.Dir
	credFile, err := createTemp(dir, "cred-*.txt", s.Cred.Credential+"\n")
	if err != nil {
		t.Fatal(err)
	}
	subDID := mustRun(t, dir, "did", "create", "--method", "jwk", "--alg", "ES256", "--out", "sub.jwk")
	listQuery := strings.Replace(vpReadQuery, `"values":["invoices:read"]`, `"values":["invoices:list"]`, 1)
	for _, tc := range []struct {
		name, disclose, perm, query, action string
		allowed                             bool
	}{
		{"the action handed over", "/permissions/0", `{"action":"invoices:read"}`, vpReadQuery, "invoices:read", true},
		{"an action not handed over", "/permissions/1", `{"action":"invoices:list"}`, listQuery, "invoices:read", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The hop passes on the one root disclosure the query asks for
			// (sd_hash fixes them: the wallet cannot choose fewer later).
			hop := mustRun(t, dir, "delegate", "--credential", credFile, "--key", s.AgentKey, "--to", subDID, "--permission", tc.perm,
				"--disclose", tc.disclose, "--ttl", "10m")
			hopFile, err := createTemp(dir, "hop-*.txt", hop+"\n")
			if err != nil {
				t.Fatal(err)
			}
			c := ts.presentationRequest(t, map[string]any{"action": tc.action, "dcql_query": json.RawMessage(tc.query)})
			out, errOut, code := run(t, dir, "wallet", "present", c.Link, "--credential", hopFile, "--key", "sub.jwk")
			if code != 0 {
				t.Fatalf("wallet present with a chain: exit %d\n%s\n%s", code, out, errOut)
			}
			status, r := ts.presentationResult(t, c.ID)
			if status != http.StatusOK || !r.Verified || r.Allowed != tc.allowed {
				t.Fatalf("result: %d %+v (error %+v)", status, r, r.Error)
			}
			if got := r.Presentations["cert"]; len(got) != 1 || len(got[0].Chain) != 1 || got[0].Chain[0].Subject != subDID {
				t.Fatalf("the presentation's chain: %+v", got)
			}
		})
	}
}
