package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/verifier"
)

// signedCounterparty is a service behind verifier.Middleware with the
// agent channel on, trusting issuerDID, on 127.0.0.1.
func signedCounterparty(t *testing.T, issuerDID string) (*httptest.Server, *verifier.Channel) {
	t.Helper()
	p := verifier.DefaultPolicy()
	p.Trusted[issuerDID] = []string{verifier.AnyVCT}
	p.CheckStatus = false // the CLI's offline credentials carry no status reference
	v, err := verifier.New(p, verifier.WithResolver(did.NewResolver(nil)), verifier.WithFetch(func(context.Context, string, string, int64) ([]byte, error) {
		return nil, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	nonces, _ := verifier.NewNonces(nil, time.Minute, nil)
	ch, err := verifier.NewChannel(v, verifier.ChannelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	guard, err := verifier.Middleware(v, verifier.MiddlewareOptions{Audience: "https://invoices.example", Nonces: nonces, Channel: ch,
		Action: func(r *http.Request) (string, map[string]any) {
			if strings.HasSuffix(r.URL.Path, "/pay") {
				return "payments:initiate", nil
			}
			return "invoices:read", nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /nonce", nonces.Handler())
	mux.Handle("/", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := verifier.ResultFrom(r.Context())
		b, _ := io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(map[string]any{"agent": res.Subject, "method": r.Method, "body": string(b)})
	})))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, ch
}

// TestRequestCommand runs `agentcert request` against a counterparty that
// accepts signed requests: reads, a body, an action the credential
// prohibits, a key that is not the credential's, and bad flags.
func TestRequestCommand(t *testing.T) {
	dir := t.TempDir()
	issuerDID := mustRun(t, dir, "did", "create", "--method", "key", "--alg", "ES256", "--out", "issuer.jwk")
	agentDID := mustRun(t, dir, "did", "create", "--method", "key", "--alg", "EdDSA", "--out", "agent.jwk")
	mustRun(t, dir, "did", "create", "--method", "jwk", "--alg", "ES256", "--out", "other.jwk")
	claims, _ := json.Marshal(demoClaims())
	write(t, filepath.Join(dir, "claims.json"), string(claims))
	cred := mustRun(t, dir, "issue", "--key", "issuer.jwk", "--claims", "claims.json", "--sd", "/permissions/*", "--holder", agentDID)
	write(t, filepath.Join(dir, "cred.txt"), cred)
	write(t, filepath.Join(dir, "body.json"), `{"note":"from a file"}`)
	srv, ch := signedCounterparty(t, issuerDID)
	base := []string{"request", "--credential", "cred.txt", "--key", "agent.jwk", "--aud", "https://invoices.example"}

	out := mustRun(t, dir, append(base, srv.URL+"/invoices?status=open")...)
	if !strings.Contains(out, `"agent":"`+agentDID+`"`) || !strings.Contains(out, `"method":"GET"`) {
		t.Fatalf("GET: %s", out)
	}
	out = mustRun(t, dir, append(base, "-d", `{"note":"hi"}`, "-i", srv.URL+"/invoices/inv-1/notes")...)
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK") || !strings.Contains(out, `"body":"{\"note\":\"hi\"}"`) || !strings.Contains(out, `"method":"POST"`) {
		t.Fatalf("POST -d: %s", out)
	}
	out = mustRun(t, dir, append(base, "-X", "PUT", "-d", "@body.json", srv.URL+"/invoices/inv-1/notes")...)
	if !strings.Contains(out, `from a file`) || !strings.Contains(out, `"method":"PUT"`) {
		t.Fatalf("PUT -d @file: %s", out)
	}
	if ch.Sessions() != 1 {
		t.Fatalf("%d sessions, want 1 (the agent's)", ch.Sessions())
	}
	// With --nonce-url the first request of a fresh process presents.
	mustRun(t, dir, append(base, "--nonce-url", srv.URL+"/nonce", srv.URL+"/invoices")...)

	fresh, _ := signedCounterparty(t, issuerDID) // no session yet
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{append(base, "-X", "POST", srv.URL+"/invoices/inv-1/pay"), 1, `"code":"action_prohibited"`},
		{[]string{"request", "--credential", "cred.txt", "--key", "other.jwk", "--aud", "https://invoices.example", fresh.URL + "/invoices"}, 1, `"code":"kb_bad_signature"`},
		{[]string{"request", "--credential", "cred.txt", "--key", "agent.jwk", fresh.URL + "/invoices"}, 1, `"code":"kb_wrong_audience"`},
		{append(base, "ftp://x.example/"), 2, "absolute http or https URL"},
		{[]string{"request", "--key", "agent.jwk", srv.URL}, 2, "--credential and --key are required"},
		{append(base, "-H", "nocolon", srv.URL), 2, "want 'Name: value'"},
		{append(base, "-d", "@missing.json", srv.URL), 2, "missing.json"},
	} {
		stdout, stderr, code := run(t, dir, tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tc.args, code, tc.code, tc.want, stdout, stderr)
		}
	}
}
