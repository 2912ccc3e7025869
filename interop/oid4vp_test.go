package interop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// vpQuery asks for the invoices:read permission and the principal's id.
const vpQuery = `{"credentials":[{"id":"cert","format":"dc+sd-jwt","meta":{"vct_values":["urn:agentcert:agent-certification:v1"]},
	"claims":[{"path":["permissions",null,"action"],"values":["invoices:read"]},{"path":["principal","id"]}]}]}`

// issueTo issues the test certification (every permission selectively
// disclosable) to a new ES256 agent key and returns the credential and the
// agent's private JWK file and map.
func issueTo(t *testing.T, srv *server, dir string) (cred, keyFile string, holder map[string]any) {
	t.Helper()
	tok := srv.token(t, "issuer")
	keyFile = filepath.Join(dir, "agent.jwk")
	agentDID := mustRun(t, dir, "did", "create", "--method", "key", "--alg", "ES256", "--out", keyFile)
	var issued struct {
		Credential string `json:"credential"`
	}
	body := map[string]any{"subject": agentDID, "claims": certClaims(), "selectively_disclosable": []string{"/permissions/*"}}
	if st := srv.call(t, http.MethodPost, "/v1/credentials", tok, body, &issued); st != http.StatusCreated {
		t.Fatalf("POST /v1/credentials: HTTP %d", st)
	}
	return issued.Credential, keyFile, testkit.JSONMap(t, readKey(t, keyFile))
}

// vpWalletAnswer is the answer of oid4vp-tool.mjs wallet.
type vpWalletAnswer struct {
	OK              bool             `json:"ok"`
	Stage           string           `json:"stage"`
	Error           string           `json:"error"`
	ClientID        string           `json:"client_id"`
	ClientPrefix    string           `json:"client_prefix"`
	Signed          bool             `json:"signed"`
	Encrypted       bool             `json:"encrypted"`
	Status          int              `json:"status"`
	Body            string           `json:"body"`
	TransactionData []map[string]any `json:"transaction_data"`
}

// TestOID4VPVerifierWithOpenWalletClient answers agentcert's presentation
// requests with the OpenWallet Foundation's client (@openid4vc/openid4vp)
// and sd-jwt-js: the signed request object (decentralized_identifier: the
// service's did:web) is resolved and its signature checked by the library,
// the response is built (and for direct_post.jwt encrypted) and submitted
// by it; agentcert verifies it, transaction data included. A presentation
// that discloses a permission the query did not ask for is refused.
func TestOID4VPVerifierWithOpenWalletClient(t *testing.T) {
	requireNode(t)
	srv := startServer(t, "")
	dir := t.TempDir()
	cred, _, holder := issueTo(t, srv, dir)
	td := map[string]any{"type": "payment_confirmation", "credential_ids": []string{"cert"}, "amount": "12.00", "currency": "EUR"}
	for _, tc := range []struct {
		name  string
		mode  string
		frame map[string]any
		td    bool
		want  string // "" verified, else the code
	}{
		{"direct_post", "direct_post", map[string]any{"permissions": map[string]any{"0": true}}, false, ""},
		{"direct_post.jwt with transaction data", "direct_post.jwt", map[string]any{"permissions": map[string]any{"0": true}}, true, ""},
		{"over-disclosure", "direct_post", map[string]any{"permissions": map[string]any{"0": true, "1": true}}, false, "over_disclosure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := map[string]any{"dcql_query": json.RawMessage(vpQuery), "response_mode": tc.mode, "action": "invoices:read"}
			if tc.td {
				req["transaction_data"] = []any{td}
			}
			var created struct {
				ID       string `json:"id"`
				ClientID string `json:"client_id"`
				Link     string `json:"link"`
			}
			if st := srv.call(t, http.MethodPost, "/v1/presentation-requests", "", req, &created); st != http.StatusCreated {
				t.Fatalf("POST /v1/presentation-requests: HTTP %d", st)
			}
			var got vpWalletAnswer
			nodeScript(t, "oid4vp-tool.mjs", "wallet", map[string]any{"link": created.Link, "credential": cred, "holder": holder, "frame": tc.frame}, &got)
			if got.Stage != "" {
				t.Fatalf("the OpenWallet client failed at %s: %s", got.Stage, got.Error)
			}
			if got.ClientID != created.ClientID || got.ClientPrefix != "decentralized_identifier" || !got.Signed || got.Encrypted != (tc.mode == "direct_post.jwt") {
				t.Fatalf("client answer %+v", got)
			}
			if tc.td && (len(got.TransactionData) != 1 || got.TransactionData[0]["amount"] != "12.00") {
				t.Fatalf("the client read transaction data %v", got.TransactionData)
			}
			var res struct {
				Status   string `json:"status"`
				Verified bool   `json:"verified"`
				Allowed  bool   `json:"allowed"`
				Error    *struct {
					Code string `json:"code"`
				} `json:"error"`
				TransactionData []map[string]any `json:"transaction_data"`
			}
			if st := srv.call(t, http.MethodGet, "/v1/presentation-requests/"+created.ID, "", nil, &res); st != http.StatusOK {
				t.Fatalf("GET result: HTTP %d", st)
			}
			if tc.want == "" {
				if !got.OK || got.Status != http.StatusOK || !res.Verified || !res.Allowed || (tc.td && len(res.TransactionData) != 1) {
					t.Fatalf("wallet %+v, result %+v", got, res)
				}
				return
			}
			if got.OK || got.Status != http.StatusBadRequest || !strings.Contains(got.Body, tc.want) || res.Verified || res.Error == nil || res.Error.Code != tc.want {
				t.Fatalf("wallet %+v, result %+v; want %s", got, res, tc.want)
			}
		})
	}
}

// vpVerifierAnswer is the final answer of oid4vp-tool.mjs verifier.
type vpVerifierAnswer struct {
	OK                      bool           `json:"ok"`
	Error                   string         `json:"error"`
	Encrypted               bool           `json:"encrypted"`
	Claims                  map[string]any `json:"claims"`
	KB                      map[string]any `json:"kb"`
	TransactionDataVerified int            `json:"transaction_data_verified"`
}

// TestOID4VPWalletWithOpenWalletVerifier answers requests made by the
// OpenWallet Foundation's verifier (@openid4vc/openid4vp; request object
// signed under decentralized_identifier:<did:jwk>, served by the tool) with
// `agentcert wallet present`; the library parses (and decrypts) the
// response, checks state and transaction data hashes, and sd-jwt-js checks
// the presentation: issuer signature, KB aud = client_id and nonce, and
// that only the asked-for permission is disclosed.
func TestOID4VPWalletWithOpenWalletVerifier(t *testing.T) {
	requireNode(t)
	srv := startServer(t, "issuer:\n  did_method: key\n")
	dir := t.TempDir()
	cred, keyFile, _ := issueTo(t, srv, dir)
	credFile := filepath.Join(dir, "cred.txt")
	writeFile(t, credFile, cred+"\n")
	issuerPub, err := did.PublicKey(srv.IssuerDID)
	if err != nil {
		t.Fatal(err)
	}
	signer := testkeys.New(t, jwa.ES256, "")
	pub, err := signer.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	signerDID, err := did.JWKDID(pub)
	if err != nil {
		t.Fatal(err)
	}
	signerJWK := testkit.JSONMap(t, signer)
	signerJWK["kid"] = signerDID + "#0"
	for _, mode := range []string{"direct_post", "direct_post.jwt"} {
		t.Run(mode, func(t *testing.T) {
			req := map[string]any{"signer": signerJWK, "signer_did": signerDID, "response_mode": mode, "dcql_query": json.RawMessage(vpQuery),
				"issuer_jwk":       testkit.JSONMap(t, issuerPub),
				"transaction_data": []any{map[string]any{"type": "payment_confirmation", "credential_ids": []string{"cert"}, "amount": "7.50"}}}
			in, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			c := exec.Command(nodePath, "oid4vp-tool.mjs", "verifier")
			c.Dir, c.Stdin = interopDir, bytes.NewReader(in)
			var stderr bytes.Buffer
			c.Stderr = &stderr
			stdout, err := c.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			timer := time.AfterFunc(2*time.Minute, func() { _ = c.Process.Kill() })
			defer timer.Stop()
			lines := bufio.NewScanner(stdout)
			lines.Buffer(make([]byte, 1<<20), 1<<20)
			if !lines.Scan() {
				_ = c.Wait()
				t.Fatalf("the verifier tool printed no link: %s", stderr.String())
			}
			var first struct {
				Link     string `json:"link"`
				ClientID string `json:"client_id"`
			}
			if err := json.Unmarshal(lines.Bytes(), &first); err != nil {
				t.Fatalf("link line %q: %v", lines.Text(), err)
			}
			out, errOut, code := run(t, dir, "wallet", "present", first.Link, "--credential", credFile, "--key", keyFile, "--json")
			var got vpVerifierAnswer
			if !lines.Scan() || json.Unmarshal(lines.Bytes(), &got) != nil {
				_ = c.Wait()
				t.Fatalf("no answer from the verifier tool (wallet exit %d: %s %s): %s", code, out, errOut, stderr.String())
			}
			if err := c.Wait(); err != nil {
				t.Fatalf("verifier tool: %v: %s", err, stderr.String())
			}
			if code != 0 || !got.OK {
				t.Fatalf("wallet exit %d (%s %s); the library's verifier: %+v", code, out, errOut, got)
			}
			perms, _ := got.Claims["permissions"].([]any)
			if len(perms) != 1 || got.KB["aud"] != first.ClientID || got.TransactionDataVerified != 1 || got.Encrypted != (mode == "direct_post.jwt") {
				t.Fatalf("the library's verifier saw %+v", got)
			}
		})
	}
}
