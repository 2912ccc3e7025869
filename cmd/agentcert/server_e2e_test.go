package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/issuer"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/agentcert/agentcert/verifier"
	_ "github.com/mattn/go-sqlite3"
)

// End-to-end tests of `agentcert serve`, run as a separate process on a free
// loopback port with a temporary data directory (helpers in testutil_test.go).

const testVerifierAud = "https://verifier.example"

// newAgent creates an agent did:key with its private JWK in dir.
func newAgent(t *testing.T, dir, name string) (did, keyFile string) {
	t.Helper()
	keyFile = filepath.Join(dir, name+".jwk")
	did = mustRun(t, dir, "did", "create", "--method", "key", "--alg", "EdDSA", "--out", keyFile)
	if !strings.HasPrefix(did, "did:key:z6Mk") {
		t.Fatalf("agent DID %q", did)
	}
	return did, keyFile
}

// issueRequest is a valid issuance request for subject with every
// permission selectively disclosable.
func issueRequest(subject string) map[string]any {
	return map[string]any{
		"subject":                 subject,
		"claims":                  demoClaims(),
		"selectively_disclosable": []string{"/permissions/*"},
		"valid_for":               "24h",
	}
}

// issue issues a credential and fails the test unless the answer is 201.
func (ts *testServer) issue(t *testing.T, token string, req any) issuer.Issued {
	t.Helper()
	status, hdr, body := ts.DoHeaders(http.MethodPost, "/v1/credentials", token, req, nil)
	if status != http.StatusCreated {
		t.Fatalf("issue: status %d: %s", status, body)
	}
	var out issuer.Issued
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("issue: %v: %s", err, body)
	}
	if !strings.HasPrefix(out.ID, "urn:uuid:") || out.Credential == "" || !strings.HasPrefix(out.Status.URI, ts.URL+"/statuslists/") || out.Status.Idx < 0 {
		t.Fatalf("issue: unexpected answer %s", body)
	}
	if loc := hdr.Get("Location"); loc != "/v1/credentials/"+out.ID {
		t.Fatalf("issue: Location %q", loc)
	}
	return out
}

// headerKID returns the kid of the credential's issuer-signed JWT.
func headerKID(t *testing.T, cred string) string {
	t.Helper()
	h, _, _ := strings.Cut(cred, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatalf("credential header: %v", err)
	}
	var hdr struct {
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		t.Fatalf("credential header: %v", err)
	}
	if hdr.Typ != "dc+sd-jwt" || hdr.Kid == "" {
		t.Fatalf("credential header %s", raw)
	}
	return hdr.Kid
}

var (
	noStatusOnce sync.Once
	noStatusFlag bool
)

// verifyHasNoStatus reports whether `agentcert verify` has --no-status.
func verifyHasNoStatus() bool {
	noStatusOnce.Do(func() {
		out, _ := exec.Command(binPath, "verify", "--help").CombinedOutput()
		noStatusFlag = strings.Contains(string(out), "--no-status")
	})
	return noStatusFlag
}

// presentAndVerify presents cred with the agent's key, disclosing the
// pointers given, and runs the offline `agentcert verify --config` against
// the running server (which serves the issuer's did:web document). It
// returns the verify --json output and the exit code.
func (ts *testServer) presentAndVerify(t *testing.T, dir, cred, agentKey string, disclose ...string) (verifier.Result, int) {
	t.Helper()
	return ts.presentAndVerifyStatus(t, dir, cred, agentKey, false, disclose...)
}

// presentAndVerifyStatus is presentAndVerify that also checks the status
// list (fetched from the running server) when checkStatus is true.
func (ts *testServer) presentAndVerifyStatus(t *testing.T, dir, cred, agentKey string, checkStatus bool, disclose ...string) (verifier.Result, int) {
	t.Helper()
	f, err := createTemp(dir, "cred-*.txt", cred)
	if err != nil {
		t.Fatal(err)
	}
	nonce := randomHex(8)
	args := []string{"present", "--credential", f, "--key", agentKey, "--aud", testVerifierAud, "--nonce", nonce}
	for _, d := range disclose {
		args = append(args, "--disclose", d)
	}
	pres := mustRun(t, dir, args...)
	p, err := createTemp(dir, "pres-*.txt", pres)
	if err != nil {
		t.Fatal(err)
	}
	args = []string{"verify", "--config", ts.Config, "--presentation", p, "--aud", testVerifierAud, "--nonce", nonce, "--trust", ts.IssuerDID, "--json"}
	if !checkStatus && verifyHasNoStatus() {
		args = append(args, "--no-status")
	}
	out, errOut, code := run(t, dir, args...)
	var res verifier.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("verify --json output: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	return res, code
}

// wantVerified checks a verify result for a credential issued by ts to agent.
func (ts *testServer) wantVerified(t *testing.T, what string, res verifier.Result, code int, agent string) {
	t.Helper()
	if code != 0 || !res.Verified {
		t.Fatalf("%s: verify exit %d, result %+v", what, code, res)
	}
	if res.Issuer != ts.IssuerDID || res.Subject != agent || res.VCT != "urn:agentcert:agent-certification:v1" {
		t.Fatalf("%s: verified issuer %q subject %q vct %q; want %q %q", what, res.Issuer, res.Subject, res.VCT, ts.IssuerDID, agent)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// metricValue returns the value of an unlabelled metric from /metrics.
func (ts *testServer) metricValue(t *testing.T, name string) float64 {
	t.Helper()
	status, body := ts.Do(http.MethodGet, "/metrics", "", nil)
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d", status)
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s:\n%s", name, body)
	return 0
}

// TestServerIssueAndVerify is the main path: an issuer token issues a
// certification for a fresh agent did:key, and the offline verify CLI
// resolves the issuer's did:web from the running server and verifies it.
func TestServerIssueAndVerify(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	if !strings.HasPrefix(ts.IssuerDID, "did:web:127.0.0.1%3A") || !strings.HasPrefix(ts.AdminToken, "act_") {
		t.Fatalf("issuer DID %q, admin token %q", ts.IssuerDID, ts.AdminToken)
	}
	for _, f := range []string{"agentcert.db", "kek.key"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode want 0600", f, err)
		}
	}
	tok := issueToken(t, dir, "issuer")
	agent, agentKey := newAgent(t, dir, "agent")
	out := ts.issue(t, tok, issueRequest(agent))
	if kid := headerKID(t, out.Credential); !strings.HasPrefix(kid, ts.IssuerDID+"#") {
		t.Fatalf("kid %q is not a DID URL of %s", kid, ts.IssuerDID)
	}

	// The record: found by id, hash of the issued string, issued by this token.
	status, body := ts.Do(http.MethodGet, "/v1/credentials/"+out.ID, tok, nil)
	if status != http.StatusOK {
		t.Fatalf("GET credential: %d %s", status, body)
	}
	var rec struct {
		ID, Subject, Status, VCT string
		JWTSHA256                string `json:"jwt_sha256"`
		PrincipalID              string `json:"principal_id"`
		StatusList               struct {
			Idx int    `json:"idx"`
			URI string `json:"uri"`
		} `json:"status_list"`
	}
	if err := json.Unmarshal(body, &rec); err != nil {
		t.Fatal(err)
	}
	sum, err := sdjwt.CredentialDigest(out.Credential)
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID != out.ID || rec.Subject != agent || rec.Status != "valid" || rec.JWTSHA256 != hex.EncodeToString(sum[:]) ||
		rec.PrincipalID != "did:web:acme.example" || rec.StatusList.Idx != out.Status.Idx || rec.StatusList.URI != out.Status.URI {
		t.Fatalf("record %s does not match the issuance %+v", body, out)
	}

	res, code := ts.presentAndVerify(t, dir, out.Credential, agentKey, "/permissions/0")
	ts.wantVerified(t, "fresh credential", res, code, agent)
	perms, _ := res.Claims["permissions"].([]any)
	if len(perms) != 1 || perms[0].(map[string]any)["action"] != "invoices:read" {
		t.Fatalf("disclosed permissions %v, want only invoices:read", res.Claims["permissions"])
	}
	if p, _ := res.Claims["principal"].(map[string]any); p["id"] != "did:web:acme.example" {
		t.Fatalf("principal %v", res.Claims["principal"])
	}

	// With the status check, the status list comes from the server too.
	res, code = ts.presentAndVerifyStatus(t, dir, out.Credential, agentKey, true)
	ts.wantVerified(t, "with status", res, code, agent)
	if !res.Status.Checked || res.Status.Value != "valid" {
		t.Fatalf("status %+v, want checked and valid", res.Status)
	}

	// Another agent's key cannot present it.
	_, otherKey := newAgent(t, dir, "other")
	res, code = ts.presentAndVerify(t, dir, out.Credential, otherKey)
	if code != 1 || res.Verified || res.Error == nil || res.Error.Code != errcode.KBBadSignature {
		t.Fatalf("presented with another key: exit %d %+v, want kb_bad_signature", code, res)
	}
}

// TestServerAPI checks the HTTP contract on one server: authentication and
// roles, request validation as problem+json, idempotency, limits and the
// operational endpoints.
func TestServerAPI(t *testing.T) {
	dir := t.TempDir()
	ts, issuerTok, auditorTok := startWithTokens(t, dir)
	agent, agentKey := newAgent(t, dir, "agent")
	privateJWK, err := os.ReadFile(agentKey)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("health", func(t *testing.T) {
		for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ready"`} {
			status, body := ts.Do(http.MethodGet, path, "", nil)
			if status != http.StatusOK || !strings.Contains(string(body), want) {
				t.Errorf("%s: %d %s", path, status, body)
			}
		}
	})

	t.Run("metrics count issuance", func(t *testing.T) {
		before := ts.metricValue(t, "agentcert_credentials_issued_total")
		ts.issue(t, issuerTok, issueRequest(agent))
		if after := ts.metricValue(t, "agentcert_credentials_issued_total"); after != before+1 {
			t.Fatalf("agentcert_credentials_issued_total went from %v to %v after one issuance", before, after)
		}
	})

	t.Run("unauthorized", func(t *testing.T) {
		revokedTok, revokedID := issueNamedToken(t, dir, "issuer", "to-revoke")
		ts.issue(t, revokedTok, issueRequest(agent)) // works before revocation
		mustRun(t, dir, "token", "revoke", revokedID, "--server", ts.URL, "--token", ts.AdminToken)
		for name, tok := range map[string]string{
			"no token":      "",
			"unknown token": "act_" + randomHex(32),
			"not a token":   "hello",
			"revoked token": revokedTok,
		} {
			status, hdr, body := ts.DoHeaders(http.MethodPost, "/v1/credentials", tok, issueRequest(agent), nil)
			wantProblem(t, name, status, hdr, body, http.StatusUnauthorized, "unauthorized")
			if !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: WWW-Authenticate %q", name, hdr.Get("WWW-Authenticate"))
			}
		}
		// A scheme other than Bearer is no token at all.
		status, hdr, body := ts.DoHeaders(http.MethodGet, "/v1/credentials", "", nil, map[string]string{"Authorization": "Basic " + auditorTok})
		wantProblem(t, "basic scheme", status, hdr, body, http.StatusUnauthorized, "unauthorized")
	})

	t.Run("wrong role", func(t *testing.T) {
		for _, tc := range []struct {
			name, method, path, tok string
			body                    any
		}{
			{"auditor issues", http.MethodPost, "/v1/credentials", auditorTok, issueRequest(agent)},
			{"admin issues", http.MethodPost, "/v1/credentials", ts.AdminToken, issueRequest(agent)},
			{"issuer rotates keys", http.MethodPost, "/v1/admin/keys/rotate", issuerTok, nil},
			{"issuer reads audit", http.MethodGet, "/v1/audit", issuerTok, nil},
			{"auditor creates tokens", http.MethodPost, "/v1/admin/tokens", auditorTok, map[string]string{"role": "admin"}},
		} {
			status, hdr, body := ts.DoHeaders(tc.method, tc.path, tc.tok, tc.body, nil)
			wantProblem(t, tc.name, status, hdr, body, http.StatusForbidden, "forbidden")
		}
	})

	t.Run("invalid claims", func(t *testing.T) {
		bad := issueRequest(agent)
		claims := demoClaims()
		claims["autonomy"] = "unsupervised"
		claims["permissions"] = []any{map[string]any{"action": "no verb"}}
		bad["claims"] = claims
		status, hdr, body := ts.DoHeaders(http.MethodPost, "/v1/credentials", issuerTok, bad, nil)
		p := wantProblem(t, "schema", status, hdr, body, http.StatusBadRequest, "schema_invalid")
		paths := map[string]bool{}
		for _, e := range p.Errors {
			paths[e.Path] = e.Message != ""
		}
		if !paths["/autonomy"] || !paths["/permissions/0/action"] {
			t.Fatalf("errors %+v do not name /autonomy and /permissions/0/action", p.Errors)
		}
		if !strings.HasPrefix(p.Detail, "/autonomy") {
			t.Errorf("detail %q does not start with the first failing path", p.Detail)
		}
	})

	t.Run("bad requests", func(t *testing.T) {
		withClaim := func(name string, v any) map[string]any {
			r := issueRequest(agent)
			c := demoClaims()
			c[name] = v
			r["claims"] = c
			return r
		}
		with := func(name string, v any) map[string]any {
			r := issueRequest(agent)
			r[name] = v
			return r
		}
		for _, tc := range []struct {
			name string
			body any
			code string
		}{
			{"unknown field", with("subjekt", agent), "invalid_input"},
			{"not JSON", "{not json", "invalid_input"},
			{"trailing data", `{"subject":"` + agent + `"} {}`, "invalid_input"},
			{"registered claim", withClaim("iss", "did:web:evil.example"), "invalid_input"},
			{"cnf claim", withClaim("cnf", map[string]any{}), "invalid_input"},
			{"subject not a DID", with("subject", "agent-7"), "invalid_input"},
			{"both expiries", with("expires_at", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), "invalid_input"},
			{"validity over max", with("valid_for", "100000h"), "invalid_input"},
			{"prohibitions disclosable", with("selectively_disclosable", []string{"/prohibitions"}), "not_disclosable"},
			{"private holder_jwk", with("holder_jwk", json.RawMessage(privateJWK)), "invalid_input"},
		} {
			status, hdr, body := ts.DoHeaders(http.MethodPost, "/v1/credentials", issuerTok, tc.body, nil)
			wantProblem(t, tc.name, status, hdr, body, http.StatusBadRequest, tc.code)
		}
	})

	t.Run("body limit", func(t *testing.T) {
		big := `{"subject":"` + strings.Repeat("a", 1<<20) + `"}`
		status, hdr, body := ts.DoHeaders(http.MethodPost, "/v1/credentials", issuerTok, big, nil)
		wantProblem(t, "1 MiB body", status, hdr, body, http.StatusRequestEntityTooLarge, "too_large")
	})

	t.Run("unknown endpoint", func(t *testing.T) {
		status, hdr, body := ts.DoHeaders(http.MethodGet, "/v1/nope", issuerTok, nil, nil)
		wantProblem(t, "unknown endpoint", status, hdr, body, http.StatusNotFound, "not_found")
		status, hdr, body = ts.DoHeaders(http.MethodGet, "/v1/credentials/urn:uuid:00000000-0000-4000-8000-000000000000", issuerTok, nil, nil)
		wantProblem(t, "unknown credential", status, hdr, body, http.StatusNotFound, "not_found")
	})

	t.Run("idempotency", func(t *testing.T) {
		subject, _ := newAgent(t, dir, "idem-agent")
		req := issueRequest(subject)
		key := map[string]string{"Idempotency-Key": "order-" + randomHex(8)}
		var first issuer.Issued
		for i := 0; i < 3; i++ {
			status, _, body := ts.DoHeaders(http.MethodPost, "/v1/credentials", issuerTok, req, key)
			if status != http.StatusCreated {
				t.Fatalf("attempt %d: %d %s", i, status, body)
			}
			var got issuer.Issued
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = got
				continue
			}
			if got.ID != first.ID || got.Credential != first.Credential || got.Status != first.Status || !got.ExpiresAt.Equal(first.ExpiresAt) {
				t.Fatalf("replay %d differs from the first answer:\n%+v\n%+v", i, got, first)
			}
		}
		countFor := func() int {
			status, body := ts.Do(http.MethodGet, "/v1/credentials?subject="+subject, auditorTok, nil)
			if status != http.StatusOK {
				t.Fatalf("list: %d %s", status, body)
			}
			var l struct {
				Credentials []struct{ ID string } `json:"credentials"`
			}
			if err := json.Unmarshal(body, &l); err != nil {
				t.Fatal(err)
			}
			return len(l.Credentials)
		}
		if n := countFor(); n != 1 {
			t.Fatalf("%d records after three requests with one Idempotency-Key, want 1", n)
		}

		// Same key, another body: 409, and still one record.
		other := issueRequest(subject)
		other["valid_for"] = "48h"
		status, hdr, body := ts.DoHeaders(http.MethodPost, "/v1/credentials", issuerTok, other, key)
		wantProblem(t, "same key, other body", status, hdr, body, http.StatusConflict, "conflict")
		if n := countFor(); n != 1 {
			t.Fatalf("%d records after the conflicting request, want 1", n)
		}

		// Another key, or another token with the same key, is a new issuance.
		ts.issue(t, issuerTok, req)
		status, _, body = ts.DoHeaders(http.MethodPost, "/v1/credentials", issueToken(t, dir, "issuer"), req, key)
		if status != http.StatusCreated || strings.Contains(string(body), first.ID) {
			t.Fatalf("same key under another token: %d %s", status, body)
		}
		if n := countFor(); n != 3 {
			t.Fatalf("%d records, want 3", n)
		}
		long := map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}
		status, hdr, body = ts.DoHeaders(http.MethodPost, "/v1/credentials", issuerTok, req, long)
		wantProblem(t, "256-byte key", status, hdr, body, http.StatusBadRequest, "invalid_input")
	})
}

// TestServerRestartAndKill: a graceful restart keeps keys, tokens and
// records; every issuance acknowledged before a kill -9 is still there.
func TestServerRestartAndKill(t *testing.T) {
	s := startIssued(t)
	ts, dir, tok, agent, agentKey, before := s.testServer, s.Dir, s.Token, s.Agent, s.AgentKey, s.Cred
	_, keysBefore := ts.Do(http.MethodGet, "/v1/admin/keys", ts.AdminToken, nil)
	_, didBefore := ts.Do(http.MethodGet, "/.well-known/did.json", "", nil)
	admin, issuerDID := ts.AdminToken, ts.IssuerDID

	ts.Restart()
	if ts.AdminToken != admin || ts.IssuerDID != issuerDID {
		t.Fatalf("after restart: admin token %q issuer %q", ts.AdminToken, ts.IssuerDID)
	}
	if strings.Contains(ts.Stdout(), "bootstrap admin token") {
		t.Fatal("a second bootstrap token was printed on restart")
	}
	status, keysAfter := ts.Do(http.MethodGet, "/v1/admin/keys", admin, nil)
	if status != http.StatusOK || string(keysAfter) != string(keysBefore) {
		t.Fatalf("keys changed across the restart (%d):\n%s\n%s", status, keysBefore, keysAfter)
	}
	if _, didAfter := ts.Do(http.MethodGet, "/.well-known/did.json", "", nil); string(didAfter) != string(didBefore) {
		t.Fatalf("DID document changed across the restart:\n%s\n%s", didBefore, didAfter)
	}
	if status, body := ts.Do(http.MethodGet, "/v1/credentials/"+before.ID, tok, nil); status != http.StatusOK {
		t.Fatalf("record lost across the restart: %d %s", status, body)
	}
	after := ts.issue(t, tok, issueRequest(agent)) // the issuer token still works
	if headerKID(t, after.Credential) != headerKID(t, before.Credential) {
		t.Fatal("the signing key changed across the restart")
	}
	res, code := ts.presentAndVerify(t, dir, before.Credential, agentKey)
	ts.wantVerified(t, "credential issued before the restart", res, code, agent)

	// kill -9 while issuances are in flight: every acknowledged one survives.
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	req := issueRequest(agent)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				status, _, body, err := ts.TryDo(http.MethodPost, "/v1/credentials", tok, req, nil)
				if err != nil {
					return // the server is gone
				}
				var out issuer.Issued
				if status == http.StatusCreated && json.Unmarshal(body, &out) == nil {
					mu.Lock()
					acked = append(acked, out.ID)
					mu.Unlock()
				}
			}
		}()
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d issuances acknowledged in a minute", n)
		}
	}
	ts.Kill()
	wg.Wait()
	ts.Restart()
	mu.Lock()
	defer mu.Unlock()
	for _, id := range acked {
		if status, body := ts.Do(http.MethodGet, "/v1/credentials/"+id, tok, nil); status != http.StatusOK {
			t.Errorf("acknowledged credential %s lost after kill -9: %d %s", id, status, body)
		}
	}
	if out := mustRun(t, dir, "audit", "verify", "--data-dir", dir); !strings.HasPrefix(out, "audit log intact") {
		t.Fatalf("audit log after kill -9: %s", out)
	}
}

// TestServerKeyRotation: after POST /v1/admin/keys/rotate a credential
// issued before still verifies and a new one carries the new kid.
func TestServerKeyRotation(t *testing.T) {
	s := startIssued(t)
	ts, dir, tok, agent, agentKey, old := s.testServer, s.Dir, s.Token, s.Agent, s.AgentKey, s.Cred
	oldKID := headerKID(t, old.Credential)

	status, body := ts.Do(http.MethodPost, "/v1/admin/keys/rotate", ts.AdminToken, map[string]string{"alg": "EdDSA"})
	if status != http.StatusOK {
		t.Fatalf("rotate: %d %s", status, body)
	}
	var rot struct{ KID string }
	if err := json.Unmarshal(body, &rot); err != nil || !strings.HasPrefix(rot.KID, ts.IssuerDID+"#") || rot.KID == oldKID {
		t.Fatalf("rotate answered %s (old kid %s)", body, oldKID)
	}
	status, hdr, body := ts.DoHeaders(http.MethodPost, "/v1/admin/keys/rotate", ts.AdminToken, map[string]string{"alg": "RS256"}, nil)
	wantProblem(t, "rotate to RS256", status, hdr, body, http.StatusBadRequest, "invalid_input")

	fresh := ts.issue(t, tok, issueRequest(agent))
	if kid := headerKID(t, fresh.Credential); kid != rot.KID {
		t.Fatalf("new credential kid %s, want %s", kid, rot.KID)
	}
	h, _, _ := strings.Cut(fresh.Credential, ".")
	if raw, _ := base64.RawURLEncoding.DecodeString(h); !strings.Contains(string(raw), `"alg":"EdDSA"`) {
		t.Fatalf("new credential header %s is not EdDSA", raw)
	}
	_, didDoc := ts.Do(http.MethodGet, "/.well-known/did.json", "", nil)
	for _, kid := range []string{oldKID, rot.KID} {
		if !strings.Contains(string(didDoc), kid) {
			t.Fatalf("DID document lacks %s:\n%s", kid, didDoc)
		}
	}
	res, code := ts.presentAndVerify(t, dir, old.Credential, agentKey)
	ts.wantVerified(t, "credential signed before the rotation", res, code, agent)
	res, code = ts.presentAndVerify(t, dir, fresh.Credential, agentKey)
	ts.wantVerified(t, "credential signed after the rotation", res, code, agent)

	// The rotation survives a restart.
	ts.Restart()
	again := ts.issue(t, tok, issueRequest(agent))
	if kid := headerKID(t, again.Credential); kid != rot.KID {
		t.Fatalf("after restart the kid is %s, want %s", kid, rot.KID)
	}
}

// TestServerAuditTamper: `audit verify` detects an entry edited directly in
// the SQLite file and names it.
func TestServerAuditTamper(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	tok := issueToken(t, dir, "issuer")
	agent, _ := newAgent(t, dir, "agent")
	for i := 0; i < 3; i++ {
		ts.issue(t, tok, issueRequest(agent))
	}
	if err := ts.Stop(); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, dir, "audit", "verify", "--data-dir", dir)
	if !strings.HasPrefix(out, "audit log intact: ") {
		t.Fatalf("audit verify before tampering: %q", out)
	}

	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "agentcert.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var seq, last int64
	if err := db.QueryRow(`SELECT seq FROM audit_log WHERE action = 'credential.issue' ORDER BY seq LIMIT 1 OFFSET 1`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT max(seq) FROM audit_log`).Scan(&last); err != nil || last <= seq {
		t.Fatalf("tampered entry %d is the last (%d, %v): the test would not show that later entries are checked", seq, last, err)
	}
	res, err := db.Exec(`UPDATE audit_log SET details = '{"subject":"did:key:someone-else"}' WHERE seq = ?`, seq)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("update: %v (%d rows)", err, n)
	}
	db.Close()

	stdout, stderr, code := run(t, dir, "audit", "verify", "--data-dir", dir)
	if code != 1 || !strings.Contains(stdout, fmt.Sprintf("BROKEN at entry %d ", seq)) {
		t.Fatalf("audit verify after tampering entry %d: exit %d\nstdout: %s\nstderr: %s", seq, code, stdout, stderr)
	}
}

// TestServerGracefulShutdown: on SIGTERM the server stops accepting, lets a
// request in flight finish, and exits 0.
func TestServerGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, dir)
	tok := issueToken(t, dir, "issuer")
	agent, _ := newAgent(t, dir, "agent")
	body, _ := json.Marshal(issueRequest(agent))

	// Send the headers with Expect: 100-continue; the server answers 100
	// once the handler reads the body, so the request is in flight.
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/credentials HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", ts.Addr, tok, len(body))
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("want 100 Continue, got %q %v", line, err)
	}
	if _, err := br.ReadString('\n'); err != nil { // the blank line after 100
		t.Fatal(err)
	}

	ts.Signal(syscall.SIGTERM)
	// Wait until the listener is closed: shutdown has begun.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ts.Addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ts.Exited() {
		t.Fatal("the server exited with a request in flight")
	}

	// Finish the request: it completes with 201.
	if _, err := conn.Write(body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight response: %v", err)
	}
	var out issuer.Issued
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated || out.ID == "" {
		t.Fatalf("in-flight request: %d %+v %v", resp.StatusCode, out, err)
	}
	resp.Body.Close()
	if code := ts.Wait(); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(ts.Stderr(), `"msg":"stopped"`) {
		t.Errorf("no \"stopped\" log line:\n%s", ts.Stderr())
	}

	// And it was recorded.
	ts.Restart()
	if status, b := ts.Do(http.MethodGet, "/v1/credentials/"+out.ID, tok, nil); status != http.StatusOK {
		t.Fatalf("in-flight credential not recorded: %d %s", status, b)
	}
}

// TestServerKEKFromEnv: with AGENTCERT_KEY_ENCRYPTION_KEY no key file is
// written, and a server started with another key refuses to start.
func TestServerKEKFromEnv(t *testing.T) {
	dir := t.TempDir()
	kek := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	ts := startServer(t, dir, "AGENTCERT_KEY_ENCRYPTION_KEY="+kek)
	if _, err := os.Stat(filepath.Join(dir, "kek.key")); err == nil {
		t.Fatal("a key file was written although the key came from the environment")
	}
	tok := issueToken(t, dir, "issuer")
	agent, _ := newAgent(t, dir, "agent")
	ts.issue(t, tok, issueRequest(agent))
	ts.Restart() // same key: starts, same issuer keys
	ts.issue(t, tok, issueRequest(agent))
	if err := ts.Stop(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ name, env, want string }{
		{"another key", base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", 32))), "wrong key-encryption key"},
		{"short key", base64.StdEncoding.EncodeToString([]byte("short")), "AGENTCERT_KEY_ENCRYPTION_KEY must be 32 bytes"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), serverStartTimeout) // kills a server that does start
		cmd := exec.CommandContext(ctx, binPath, "serve", "--config", ts.Config)
		cmd.Env = append(os.Environ(), "AGENTCERT_KEY_ENCRYPTION_KEY="+tc.env)
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil || strings.Contains(string(out), "listening on") || !strings.Contains(string(out), tc.want) {
			t.Fatalf("%s: serve should refuse to start: %v\n%s", tc.name, err, out)
		}
	}
}
