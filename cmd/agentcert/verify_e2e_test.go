package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/testbin"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// vproc is an `agentcert serve` process started from a config text.
type vproc struct {
	*testbin.Proc
	url string
}

// startFromConfig starts the binary with the YAML config text (which must
// contain "listen: ADDR") in dir and waits until it listens.
func startFromConfig(t *testing.T, dir, yaml string, args ...string) *vproc {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return startProc(t, dir, nil, append([]string{"serve", "--config", cfg}, args...)...)
}

// startProc starts the binary with args (a serve command) and extra
// environment in dir and waits until it listens. It is interrupted at the
// end of the test.
func startProc(t *testing.T, dir string, env []string, args ...string) *vproc {
	t.Helper()
	p, err := testbin.StartProc(binPath, dir, append(os.Environ(), env...), args...)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		_ = p.Stop(os.Interrupt)
		if t.Failed() {
			t.Logf("server stderr:\n%s", p.Stderr())
		}
	})
	return &vproc{Proc: p, url: p.Value("listening on ")}
}

func httpJSON(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	status, _, m := testkit.DoJSON(t, http.DefaultClient, req)
	return status, m
}

// testKey is a key with a did:key (or a chosen kid).
type testKey struct {
	key jwk.Key
	did string
}

func newTestKey(t *testing.T) testKey {
	t.Helper()
	k, id := testkeys.DIDKey(t, jwa.ES256)
	return testKey{k, id}
}

// offlineCred signs an agent certification with k as issuer iss (kid as set
// on k) for agent, with the given status URI (none when empty).
func offlineCred(t *testing.T, k testKey, iss string, agent testKey, statusURI string) string {
	t.Helper()
	cnf := testkeys.PublicJWK(t, agent.key)
	now := time.Now()
	claims := map[string]any{
		"iss": iss, "sub": agent.did, "vct": "urn:agentcert:agent-certification:v1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"cnf":          map[string]any{"jwk": cnf},
		"principal":    map[string]any{"id": "did:web:acme.example", "name": "ACME", "type": "organization"},
		"agent":        map[string]any{"class": "ap"},
		"permissions":  []any{map[string]any{"action": "invoices:read"}},
		"prohibitions": []any{},
		"autonomy":     "supervised",
	}
	if statusURI != "" {
		claims["status"] = map[string]any{"status_list": map[string]any{"idx": 7, "uri": statusURI}}
	}
	cred, err := sdjwt.Issue(claims, []string{"/permissions/*"}, k.key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func presentAll(t *testing.T, cred string, agent testKey, aud, nonce string) string {
	t.Helper()
	p, err := sdjwt.Present(cred, []string{""}, &sdjwt.KBOptions{Key: agent.key, Audience: aud, Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// verifyCode posts to /v1/verify and returns the answer's status, first
// error code ("" when verified) and decision.
func verifyCall(t *testing.T, base string, body map[string]any) (int, string, map[string]any) {
	t.Helper()
	status, m := httpJSON(t, "POST", base+"/v1/verify", "", body)
	if status != 200 {
		return status, fmt.Sprint(m["code"]), nil
	}
	code := ""
	if errs, _ := m["errors"].([]any); len(errs) > 0 {
		code = errs[0].(map[string]any)["code"].(string)
	}
	if m["verified"] == true && code != "" || m["verified"] != true && code == "" {
		t.Fatalf("verified and errors disagree: %v", m)
	}
	d, _ := m["decision"].(map[string]any)
	return status, code, d
}

func nonceFrom(t *testing.T, base string) string {
	t.Helper()
	status, m := httpJSON(t, "GET", base+"/v1/nonce", "", nil)
	if status != 200 || m["nonce"] == "" {
		t.Fatalf("nonce: %d %v", status, m)
	}
	return m["nonce"].(string)
}

func TestVerifyEndpointCodes(t *testing.T) {
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	trustedX := newTestKey(t) // an offline issuer the verifier trusts
	closed, _ := freePort()   // nothing listens there
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	srv := startFromConfig(t, dir, fmt.Sprintf(`listen: 127.0.0.1:%d
public_url: %s
data_dir: %s
status: {ttl: 1s}
verifier:
  max_status_age: 0s
  require_nonce: true
  nonce_ttl: 5s
  trusted: [{issuer: %q, vcts: [urn:agentcert:agent-certification:v1]}]
`, port, base, filepath.Join(dir, "data"), trustedX.did))
	issuerDID := srv.Value("issuer DID: ")
	admin := srv.Value("bootstrap admin token (shown once, store it now): ")
	if issuerDID == "" || admin == "" {
		t.Fatalf("no DID or token in:\n%s", srv.Stdout())
	}
	status, tok := httpJSON(t, "POST", base+"/v1/admin/tokens", admin, map[string]any{"role": "issuer"})
	if status != 201 {
		t.Fatalf("token: %d %v", status, tok)
	}
	issuerTok := tok["token"].(string)
	status, tok = httpJSON(t, "POST", base+"/v1/admin/tokens", admin, map[string]any{"role": "auditor"})
	if status != 201 {
		t.Fatalf("token: %d %v", status, tok)
	}
	auditorTok := tok["token"].(string)

	agent := newTestKey(t)
	issue := func() (string, string) {
		status, m := httpJSON(t, "POST", base+"/v1/credentials", issuerTok, map[string]any{
			"subject": agent.did,
			"claims": map[string]any{
				"principal": map[string]any{"id": "did:web:acme.example", "name": "ACME", "type": "organization"},
				"agent":     map[string]any{"class": "ap-assistant"},
				"permissions": []any{
					map[string]any{"action": "invoices:read"},
					map[string]any{"action": "payments:initiate", "constraints": map[string]any{"max_amount": 100, "currency": "EUR"}},
				},
				"prohibitions": []any{"vendors:delete"},
				"autonomy":     "supervised",
			},
		})
		if status != 201 {
			t.Fatalf("issue: %d %v", status, m)
		}
		return m["id"].(string), m["credential"].(string)
	}
	const aud = "https://counterparty.example"
	_, cred := issue()
	pres := func(c string) map[string]any {
		return map[string]any{"presentation": presentAll(t, c, agent, aud, nonceFrom(t, base)), "audience": aud}
	}

	// Verified, with authorization decisions.
	for _, tc := range []struct {
		action  string
		request map[string]any
		allowed bool
		code    string
	}{
		{"invoices:read", nil, true, ""},
		{"invoices:delete", nil, false, "action_not_permitted"},
		{"vendors:delete", nil, false, "action_prohibited"},
		{"payments:initiate", map[string]any{"amount": 120, "currency": "EUR"}, false, "constraint_violated"},
		{"payments:initiate", map[string]any{"amount": 50, "currency": "EUR"}, true, ""},
	} {
		body := pres(cred)
		body["action"], body["request"] = tc.action, tc.request
		status, code, d := verifyCall(t, base, body)
		if status != 200 || code != "" || d == nil || d["allowed"] != tc.allowed || (tc.code != "" && d["code"] != tc.code) {
			t.Errorf("%s %v: status %d code %q decision %v", tc.action, tc.request, status, code, d)
		}
	}

	// Nonces: replayed, expired, not ours; KB for another audience.
	body := pres(cred)
	if _, code, _ := verifyCall(t, base, body); code != "" {
		t.Fatalf("first use: %s", code)
	}
	if _, code, _ := verifyCall(t, base, body); code != "nonce_replayed" {
		t.Errorf("replay: %q", code)
	}
	stale := nonceFrom(t, base)
	time.Sleep(5100 * time.Millisecond) // past nonce_ttl; the TTL leaves the other calls room on a loaded machine
	if _, code, _ := verifyCall(t, base, map[string]any{"presentation": presentAll(t, cred, agent, aud, stale), "audience": aud}); code != "nonce_expired" {
		t.Errorf("expired nonce: %q", code)
	}
	if _, code, _ := verifyCall(t, base, map[string]any{"presentation": presentAll(t, cred, agent, aud, "not-ours"), "audience": aud}); code != "nonce_invalid" {
		t.Errorf("foreign nonce: %q", code)
	}
	if _, code, _ := verifyCall(t, base, map[string]any{"presentation": presentAll(t, cred, agent, "https://other.example", nonceFrom(t, base)), "audience": aud}); code != "kb_wrong_audience" {
		t.Errorf("other audience: %q", code)
	}

	// Revoked and suspended, seen at once (max_status_age 0, no issuer-side staleness).
	for action, want := range map[string]string{"revoke": "revoked", "suspend": "suspended"} {
		id, c := issue()
		if _, code, _ := verifyCall(t, base, pres(c)); code != "" {
			t.Fatalf("before %s: %q", action, code)
		}
		if status, m := httpJSON(t, "POST", base+"/v1/credentials/"+id+"/"+action, auditorTok, map[string]any{"reason": "incident", "incident": "INC-1"}); status != 200 {
			t.Fatalf("%s: %d %v", action, status, m)
		}
		if _, code, _ := verifyCall(t, base, pres(c)); code != want {
			t.Errorf("after %s: %q, want %s", action, code, want)
		}
	}

	// Trust and keys.
	stranger := newTestKey(t)
	if _, code, _ := verifyCall(t, base, pres(offlineCred(t, stranger, stranger.did, agent, ""))); code != "untrusted_issuer" {
		t.Errorf("untrusted issuer: %q", code)
	}
	forger := newTestKey(t)
	_ = forger.key.Set(jwk.KeyIDKey, issuerDID+"#not-a-key")
	if _, code, _ := verifyCall(t, base, pres(offlineCred(t, forger, issuerDID, agent, ""))); code != "key_not_found" {
		t.Errorf("kid not in assertionMethod: %q", code)
	}
	// Status list unreachable, and one signed by someone else (the server's
	// own list, for a credential of issuer X).
	if _, code, _ := verifyCall(t, base, pres(offlineCred(t, trustedX, trustedX.did, agent, fmt.Sprintf("http://127.0.0.1:%d/statuslists/x", closed)))); code != "status_unavailable" {
		t.Errorf("unreachable status list: %q", code)
	}
	var m map[string]any
	_, m = httpJSON(t, "GET", base+"/v1/credentials?limit=1", auditorTok, nil)
	listURI := m["credentials"].([]any)[0].(map[string]any)["status_list"].(map[string]any)["uri"].(string)
	if _, code, _ := verifyCall(t, base, pres(offlineCred(t, trustedX, trustedX.did, agent, listURI))); code != "status_unavailable" {
		t.Errorf("status list of another issuer: %q", code)
	}
	if _, code, _ := verifyCall(t, base, pres(offlineCred(t, trustedX, trustedX.did, agent, ""))); code != "status_invalid" {
		t.Errorf("trusted offline issuer without status (fail closed): %q", code)
	}
	// A malformed request is the only 400.
	if status, code, _ := verifyCall(t, base, map[string]any{"audience": aud}); status != 400 || code != "invalid_input" {
		t.Errorf("missing presentation: %d %s", status, code)
	}
}

// TestVerifierRefusesPrivateAddresses runs the verifier-only config (no
// fetch allow-list): issuers and status lists on loopback, link-local and
// private addresses are refused before any connection, and the process
// writes nothing at all.
func TestVerifierRefusesPrivateAddresses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	lport := ln.Addr().(*net.TCPAddr).Port
	hosts := []string{fmt.Sprintf("127.0.0.1%%3A%d", lport), fmt.Sprintf("%%5B%%3A%%3A1%%5D%%3A%d", lport), "169.254.169.254", "10.0.0.1"}
	urls := []string{fmt.Sprintf("https://127.0.0.1:%d/s", lport), fmt.Sprintf("https://[::1]:%d/s", lport), "https://169.254.169.254/s", "https://10.0.0.1/s"}
	x := newTestKey(t)
	trusted := fmt.Sprintf("  - {issuer: %q, vcts: ['*']}\n", x.did)
	for _, h := range hosts {
		trusted += fmt.Sprintf("  - {issuer: %q, vcts: ['*']}\n", "did:web:"+h)
	}
	shipped, err := os.ReadFile("../../configs/verifier.yaml")
	if err != nil {
		t.Fatal(err)
	}
	port, _ := freePort()
	yaml := strings.Replace(string(shipped), "listen: 127.0.0.1:8081", fmt.Sprintf("listen: 127.0.0.1:%d", port), 1)
	yaml = strings.Replace(yaml, "  trusted:\n    - issuer: did:web:issuer.example.com\n      vcts: [urn:agentcert:agent-certification:v1]\n", "  trusted:\n"+trusted, 1)
	if !strings.Contains(yaml, x.did) {
		t.Fatal("could not set trusted issuers in configs/verifier.yaml's text")
	}
	workdir := t.TempDir()
	srv := startFromConfig(t, workdir, yaml)
	agent := newTestKey(t)
	const aud = "https://counterparty.example"
	for i, h := range hosts {
		iss := "did:web:" + h
		forged := testKey{key: x.key, did: iss}
		k, _ := x.key.Clone()
		_ = k.Set(jwk.KeyIDKey, iss+"#k")
		forged.key = k
		body := map[string]any{"presentation": presentAll(t, offlineCred(t, forged, iss, agent, ""), agent, aud, "n"), "audience": aud, "nonce": "n"}
		if _, code, _ := verifyCall(t, srv.url, body); code != "fetch_refused" {
			t.Errorf("issuer %s: %q, want fetch_refused", iss, code)
		}
		body = map[string]any{"presentation": presentAll(t, offlineCred(t, x, x.did, agent, urls[i]), agent, aud, "n"), "audience": aud, "nonce": "n"}
		_, m := httpJSON(t, "POST", srv.url+"/v1/verify", "", body)
		errs, _ := m["errors"].([]any)
		if len(errs) == 0 {
			t.Fatalf("status list %s: verified", urls[i])
		}
		e := errs[0].(map[string]any)
		if e["code"] != "status_unavailable" || e["cause"] != "fetch_refused" {
			t.Errorf("status list %s: %v, want status_unavailable caused by fetch_refused", urls[i], e)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("%d connections reached the loopback listener", n)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/v1/nonce"} {
		if resp, err := http.Get(srv.url + path); err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s: %v %v", path, resp, err)
		} else {
			resp.Body.Close()
		}
	}
	if resp, _ := http.Get(srv.url + "/v1/credentials"); resp == nil || resp.StatusCode != 404 {
		t.Errorf("the verifier-only server must not serve the issuer API")
	}
	entries, _ := os.ReadDir(workdir)
	if len(entries) != 0 {
		t.Errorf("verifier-only mode wrote %d entries into its working directory: %v", len(entries), entries)
	}
}
