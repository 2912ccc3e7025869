package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/agentclient"
	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/receipt"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

const aud = "https://invoices.example"

type party struct {
	key jwk.Key
	did string
}

func newParty(t *testing.T) party {
	t.Helper()
	k, id := testkeys.DIDKey(t, jwa.ES256)
	return party{k, id}
}

const statusURI = "https://issuer.example/statuslists/1"

// certify issues the example certification from issuer to agent, at index
// idx of the issuer's status list.
func certify(t *testing.T, issuer, agent party, idx int) string {
	t.Helper()
	pub, err := did.PublicKey(agent.did)
	if err != nil {
		t.Fatal(err)
	}
	cnf := testkit.JSONMap(t, pub)
	now := time.Now()
	claims := map[string]any{
		"iss": issuer.did, "sub": agent.did, "vct": vct, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"cnf":          map[string]any{"jwk": cnf},
		"status":       map[string]any{"status_list": map[string]any{"idx": idx, "uri": statusURI}},
		"principal":    map[string]any{"id": "did:web:acme.example", "name": "ACME", "type": "organization"},
		"agent":        map[string]any{"class": "ap-assistant"},
		"permissions":  []any{map[string]any{"action": "invoices:read"}, map[string]any{"action": "invoices:list"}},
		"prohibitions": []any{"payments:initiate"},
		"autonomy":     "supervised",
	}
	cred, err := sdjwt.Issue(claims, []string{"/permissions/*"}, issuer.key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// statusLists serves the issuer's status list from memory, signed fresh on
// every fetch, in place of the issuer's HTTP endpoint.
type statusLists struct {
	t      *testing.T
	issuer party
	list   *revocation.List
}

func (s *statusLists) fetch(_ context.Context, url, _ string, _ int64) ([]byte, error) {
	if url != statusURI {
		s.t.Errorf("unexpected fetch of %s", url)
		return nil, errcode.New(errcode.FetchFailed, "not found")
	}
	now := time.Now()
	tok, err := revocation.SignToken(s.list, revocation.TokenClaims{Subject: statusURI, Issuer: s.issuer.did, IssuedAt: now, Expires: now.Add(time.Hour), TTL: time.Minute}, s.issuer.key)
	return []byte(tok), err
}

func fixture(t *testing.T, trusted party) (*httptest.Server, *statusLists) {
	t.Helper()
	return fixtureWith(t, trusted, 0, "")
}

// fixtureWith is fixture with a status max age (and so a session length
// for signed requests) of maxStatusAge.
// With actionLog, the API signs receipts and records them there.
func fixtureWith(t *testing.T, trusted party, maxStatusAge time.Duration, actionLog string) (*httptest.Server, *statusLists) {
	t.Helper()
	list, err := revocation.NewList(131072, 2)
	if err != nil {
		t.Fatal(err)
	}
	lists := &statusLists{t: t, issuer: trusted, list: list}
	p := verifier.DefaultPolicy()
	p.Trusted[trusted.did] = []string{vct}
	p.MaxStatusAge = maxStatusAge // 0: always fetch, so that a revocation shows at once
	nonces, err := verifier.NewNonces(nil, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := []verifier.Option{verifier.WithFetch(lists.fetch)}
	var sink receipt.Sink
	if actionLog != "" {
		signer, err := receiptSigner()
		if err != nil {
			t.Fatal(err)
		}
		fs, err := receipt.OpenFileSink(actionLog, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = fs.Close() })
		opts, sink = append(opts, verifier.WithReceipts(signer)), fs
	}
	v, err := verifier.New(p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	ch, err := verifier.NewChannel(v, verifier.ChannelOptions{Authorities: authorities("", srv.Listener.Addr().String(), aud)})
	if err != nil {
		t.Fatal(err)
	}
	api, err := newAPI(v, ch, nonces, aud, sink)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = api
	srv.Start()
	return srv, lists
}

func getNonce(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/nonce")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Nonce string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Nonce == "" {
		t.Fatalf("nonce: %v %+v", err, out)
	}
	return out.Nonce
}

func present(t *testing.T, cred string, agent party, audience, nonce string, disclose ...string) string {
	t.Helper()
	p, err := sdjwt.Present(cred, disclose, &sdjwt.KBOptions{Key: agent.key, Audience: audience, Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func call(t *testing.T, method, url, pres string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if pres != "" {
		req.Header.Set(verifier.HeaderAgentCredential, pres)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, resp.Header
}

func TestInvoiceAPI(t *testing.T) {
	issuer, agent := newParty(t), newParty(t)
	srv, lists := fixture(t, issuer)
	cred := certify(t, issuer, agent, 42)

	// Only invoices:read is disclosed: reading works, listing does not.
	pres := present(t, cred, agent, aud, getNonce(t, srv.URL), "/permissions/0")
	status, body, _ := call(t, "GET", srv.URL+"/invoices/inv-1", pres)
	if status != 200 || body["served_to"].(map[string]any)["agent"] != agent.did {
		t.Fatalf("read: %d %v", status, body)
	}
	if status, body, h := call(t, "GET", srv.URL+"/invoices/inv-1", pres); status != 401 || body["code"] != "nonce_replayed" || !strings.Contains(h.Get("WWW-Authenticate"), "nonce_replayed") {
		t.Fatalf("replay: %d %v", status, body)
	}
	if status, body, _ := call(t, "GET", srv.URL+"/invoices", present(t, cred, agent, aud, getNonce(t, srv.URL), "/permissions/0")); status != 403 || body["code"] != "action_not_permitted" {
		t.Fatalf("list without disclosing invoices:list: %d %v", status, body)
	}
	if status, body, _ := call(t, "POST", srv.URL+"/invoices/inv-1/pay", present(t, cred, agent, aud, getNonce(t, srv.URL), "")); status != 403 || body["code"] != "action_prohibited" {
		t.Fatalf("pay: %d %v", status, body)
	}

	for name, tc := range map[string]struct {
		pres string
		code string
	}{
		"no credential":   {"", "kb_missing"},
		"other audience":  {present(t, cred, agent, "https://other.example", getNonce(t, srv.URL), ""), "kb_wrong_audience"},
		"foreign nonce":   {present(t, cred, agent, aud, "made-up-nonce", ""), "nonce_invalid"},
		"untrusted":       {present(t, certify(t, newParty(t), agent, 1), agent, aud, getNonce(t, srv.URL), ""), "untrusted_issuer"},
		"no key binding":  {cred, "kb_missing"},
		"holder mismatch": {present(t, cred, newParty(t), aud, getNonce(t, srv.URL), ""), "kb_bad_signature"},
	} {
		t.Run(name, func(t *testing.T) {
			status, body, h := call(t, "GET", srv.URL+"/invoices/inv-1", tc.pres)
			if status != 401 || body["code"] != tc.code || h.Get("WWW-Authenticate") == "" {
				t.Fatalf("got %d %v, want 401 %s", status, body, tc.code)
			}
		})
	}

	// The issuer revokes the certification: the next request is refused.
	if err := lists.list.Set(42, revocation.StatusRevoked); err != nil {
		t.Fatal(err)
	}
	if status, body, _ := call(t, "GET", srv.URL+"/invoices/inv-1", present(t, cred, agent, aud, getNonce(t, srv.URL), "/permissions/0")); status != 401 || body["code"] != "revoked" {
		t.Fatalf("after revocation: %d %v", status, body)
	}
}

// TestInvoiceAPISignedRequests: an agent with agentclient presents once
// and signs every request; reads are served, payments refused, and a
// request whose signature does not verify is refused with the hint.
func TestInvoiceAPISignedRequests(t *testing.T) {
	issuer, agent := newParty(t), newParty(t)
	srv, _ := fixtureWith(t, issuer, time.Minute, "")
	cred := certify(t, issuer, agent, 7)
	tr, err := agentclient.New(agentclient.Options{Credential: cred, Key: agent.key, Audience: func(*http.Request) string { return aud },
		NonceURL: func(*http.Request) string { return srv.URL + "/nonce" }, Base: srv.Client().Transport})
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: tr}
	get := func(method, path string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		status, _, m := testkit.DoJSON(t, c, req)
		return status, m
	}
	for _, path := range []string{"/invoices", "/invoices/inv-1", "/invoices/inv-2"} {
		code, body := get(http.MethodGet, path)
		served, _ := body["served_to"].(map[string]any)
		if code != 200 || served["agent"] != agent.did {
			t.Fatalf("GET %s: %d %v", path, code, body)
		}
	}
	if code, body := get(http.MethodPost, "/invoices/inv-1/pay"); code != 403 || body["code"] != string(errcode.ActionProhibited) {
		t.Fatalf("pay: %d %v", code, body)
	}
	// A signature from a key no credential names.
	other := newParty(t)
	kid, _ := httpsig.Thumbprint(other.key)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/invoices", nil)
	now := time.Now()
	in, sig, err := httpsig.Sign(httpsig.Outgoing(req), "sig1", httpsig.Components("@method", "@authority", "@path", "@query"),
		httpsig.Params{Created: now, Expires: now.Add(time.Minute), Nonce: "n", Alg: httpsig.AlgECDSAP256, KeyID: kid, Tag: verifier.TagWebBotAuth}, other.key)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Signature-Input", in)
	req.Header.Set("Signature", sig)
	if code, body, _ := call(t, http.MethodGet, srv.URL+"/invoices", ""); code != 401 || body["code"] != string(errcode.KBMissing) {
		t.Fatalf("unsigned, no credential: %d %v", code, body)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("Accept-Signature") == "" || resp.Header.Get(verifier.HeaderCredentialNonce) == "" {
		t.Fatalf("stranger's signature: %d %v", resp.StatusCode, resp.Header)
	}
	// The API answers to its listen address and its audience's host; a
	// request signed for another host is refused before anything else.
	for host, want := range map[string]errcode.Code{"invoices.example": errcode.CredentialRequired, "other.example": errcode.SigWrongAuthority} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/invoices", nil)
		req.Host = host
		in, sig, err := httpsig.Sign(httpsig.Outgoing(req), "sig1", httpsig.Components("@method", "@authority", "@path", "@query"),
			httpsig.Params{Created: now, Expires: now.Add(time.Minute), Nonce: "n-" + host, Alg: httpsig.AlgECDSAP256, KeyID: kid, Tag: verifier.TagWebBotAuth}, other.key)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Signature-Input", in)
		req.Header.Set("Signature", sig)
		if status, _, m := testkit.DoJSON(t, srv.Client(), req); status != 401 || m["code"] != string(want) {
			t.Fatalf("signed for %s: %d %v, want 401 %s", host, status, m, want)
		}
	}
}

// TestInvoiceAPIReceipts: with an action log, every decision, allowed or
// refused, comes back with a receipt that verifies under the API's did:key,
// and the log holds the same receipts in order.
func TestInvoiceAPIReceipts(t *testing.T) {
	issuer, agent := newParty(t), newParty(t)
	logPath := filepath.Join(t.TempDir(), "actions.jsonl")
	srv, _ := fixtureWith(t, issuer, 0, logPath)
	cred := certify(t, issuer, agent, 7)

	var sent []string
	for _, tc := range []struct {
		method, path, result, action string
		status                       int
	}{
		{"GET", "/invoices/inv-1", receipt.Success, "invoices:read", 200},
		{"POST", "/invoices/inv-1/pay", receipt.Error, "payments:initiate", 403},
	} {
		status, _, h := call(t, tc.method, srv.URL+tc.path, present(t, cred, agent, aud, getNonce(t, srv.URL), ""))
		if status != tc.status {
			t.Fatalf("%s %s: %d", tc.method, tc.path, status)
		}
		jwt := h.Get(verifier.HeaderReceipt)
		c, err := receipt.Verify(context.Background(), jwt, receipt.VerifyOptions{Keys: receipt.DIDKeys(did.NewResolver(nil))})
		if err != nil {
			t.Fatalf("%s %s: receipt %q: %v", tc.method, tc.path, jwt, err)
		}
		if c.Result != tc.result || c.Action != tc.action || c.Subject != agent.did || c.Principal != "did:web:acme.example" {
			t.Fatalf("%s %s: receipt claims %+v", tc.method, tc.path, c)
		}
		sent = append(sent, jwt)
	}
	var logged []string
	if _, err := receipt.SearchFile(logPath, receipt.Filter{}, func(r receipt.Record) error {
		logged = append(logged, r.Receipt)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(logged, "\n") != strings.Join(sent, "\n") {
		t.Fatalf("action log %q, answers %q", logged, sent)
	}
}
