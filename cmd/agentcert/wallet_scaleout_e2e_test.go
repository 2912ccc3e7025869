package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/oid4vci"
)

type vciAnswer struct {
	AccessToken string `json:"access_token"`
	CNonce      string `json:"c_nonce"`
	Error       string `json:"error"`
	Code        string `json:"code"`
	Credentials []struct {
		Credential string `json:"credential"`
	} `json:"credentials"`
}

func vciToken(t *testing.T, node *testServer, code, tx string) (int, vciAnswer) {
	t.Helper()
	form := url.Values{"grant_type": {oid4vci.GrantPreAuthorizedCode}, "pre-authorized_code": {code}}
	if tx != "" {
		form.Set("tx_code", tx)
	}
	status, _, body := node.DoHeaders(http.MethodPost, oid4vci.TokenPath, "", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	var a vciAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("token answer %s: %v", body, err)
	}
	return status, a
}

func vciPost(t *testing.T, node *testServer, path, token string, body any) (int, vciAnswer) {
	t.Helper()
	status, b := node.Do(http.MethodPost, path, token, body)
	var a vciAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s answer %s: %v", path, b, err)
	}
	return status, a
}

// TestScaleOutOID4VCI runs OpenID4VCI across two issuer nodes on one
// PostgreSQL database: every step may land on either node, a code is
// redeemed once even when both nodes race for it, wrong transaction codes
// are counted across nodes, and a c_nonce from one node is spent for both.
func TestScaleOutOID4VCI(t *testing.T) {
	c := startCluster(t)
	offer := func(tx bool) (code string, txCode string) {
		t.Helper()
		o := c.a.createOffer(t, c.issuer, tx)
		var created oid4vci.CreatedOffer
		b, _ := json.Marshal(o)
		_ = json.Unmarshal(b, &created)
		return created.CredentialOffer.Grants.PreAuthorizedCode.Code, created.TxCode
	}
	key, err := keyutil.Generate(jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	proof := func(nonce string) string {
		p, err := oid4vci.SignProof(key, c.a.URL, nonce, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	request := func(nonce string) map[string]any {
		return map[string]any{"credential_configuration_id": oid4vci.DefaultConfigurationID, "proofs": map[string]any{"jwt": []string{proof(nonce)}}}
	}

	// Offer on A, token on B, nonce on A, credential on B.
	code, _ := offer(false)
	st, tok := vciToken(t, c.b, code, "")
	if st != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("token on B: %d %+v", st, tok)
	}
	_, n := vciPost(t, c.a, oid4vci.NoncePath, "", nil)
	st, cred := vciPost(t, c.b, oid4vci.CredentialPath, tok.AccessToken, request(n.CNonce))
	if st != http.StatusOK || len(cred.Credentials) != 1 {
		t.Fatalf("credential on B: %d %+v", st, cred)
	}
	if st, a := vciToken(t, c.a, code, ""); st != http.StatusBadRequest || a.Code != "pre_authorized_code_used" {
		t.Fatalf("the code again on A: %d %+v", st, a)
	}
	// The c_nonce spent on B is refused on A.
	code2, _ := offer(false)
	_, tok2 := vciToken(t, c.a, code2, "")
	if st, a := vciPost(t, c.a, oid4vci.CredentialPath, tok2.AccessToken, request(n.CNonce)); st != http.StatusBadRequest || a.Code != "nonce_replayed" {
		t.Fatalf("the spent c_nonce on A: %d %+v", st, a)
	}

	// Both nodes race for one code: exactly one token.
	code3, _ := offer(false)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, used := 0, 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := c.a
			if i%2 == 1 {
				node = c.b
			}
			st, a := vciToken(t, node, code3, "")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case st == http.StatusOK:
				wins++
			case a.Code == "pre_authorized_code_used":
				used++
			default:
				t.Errorf("racing redemption: %d %+v", st, a)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || used != 7 {
		t.Fatalf("%d tokens and %d refusals for one code across two nodes, want 1 and 7", wins, used)
	}

	// Wrong transaction codes count on both nodes.
	code4, tx := offer(true)
	for i := 1; i <= oid4vci.DefaultMaxTxCodeAttempts; i++ {
		node := c.a
		if i%2 == 0 {
			node = c.b
		}
		want := "tx_code_wrong"
		if i == oid4vci.DefaultMaxTxCodeAttempts {
			want = "tx_code_attempts_exceeded"
		}
		if st, a := vciToken(t, node, code4, "wrong"); st != http.StatusBadRequest || a.Code != want {
			t.Fatalf("wrong tx_code %d: %d %+v, want %s", i, st, a, want)
		}
	}
	if st, a := vciToken(t, c.b, code4, tx); st != http.StatusBadRequest || a.Code != "tx_code_attempts_exceeded" {
		t.Fatalf("the right tx_code after the lock: %d %+v", st, a)
	}
}
