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
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/receipt"
	"github.com/agentcert/agentcert/verifier"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// signedCounterparty is a service behind verifier.Middleware with the
// agent channel on, trusting issuerDID, on 127.0.0.1.
func signedCounterparty(t *testing.T, issuerDID string) (*httptest.Server, *verifier.Channel) {
	t.Helper()
	return signedCounterpartyLogging(t, issuerDID, "")
}

// signedCounterpartyLogging is signedCounterparty that, given logPath,
// signs a receipt of every decision under a did:key of its own and records
// each in a JSON-lines file sink at logPath.
func signedCounterpartyLogging(t *testing.T, issuerDID, logPath string) (*httptest.Server, *verifier.Channel) {
	t.Helper()
	p := verifier.DefaultPolicy()
	p.Trusted[issuerDID] = []string{verifier.AnyVCT}
	p.CheckStatus = false // the CLI's offline credentials carry no status reference
	vopts := []verifier.Option{verifier.WithResolver(did.NewResolver(nil)), verifier.WithFetch(func(context.Context, string, string, int64) ([]byte, error) {
		return nil, nil
	})}
	var sink receipt.Sink
	if logPath != "" {
		k, id := testkeys.DIDKey(t, jwa.EdDSA)
		signer, err := receipt.SignerFromJWK(id, k)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := receipt.OpenFileSink(logPath, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = fs.Close() })
		vopts, sink = append(vopts, verifier.WithReceipts(signer)), fs
	}
	v, err := verifier.New(p, vopts...)
	if err != nil {
		t.Fatal(err)
	}
	nonces, _ := verifier.NewNonces(nil, time.Minute, nil)
	// Requests are signed for the server's address, not the audience's host.
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	ch, err := verifier.NewChannel(v, verifier.ChannelOptions{Authorities: []string{srv.Listener.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	guard, err := verifier.Middleware(v, verifier.MiddlewareOptions{Audience: "https://invoices.example", Nonces: nonces, Channel: ch, Sink: sink,
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
	srv.Config.Handler = mux
	srv.Start()
	return srv, ch
}

// requestFiles makes, in a fresh directory, an issuer key, an agent key
// (agent.jwk), another key (other.jwk) and the agent's credential
// (cred.txt), with the CLI.
func requestFiles(t *testing.T) (dir, issuerDID, agentDID string) {
	t.Helper()
	dir = t.TempDir()
	issuerDID = mustRun(t, dir, "did", "create", "--method", "key", "--alg", "ES256", "--out", "issuer.jwk")
	agentDID = mustRun(t, dir, "did", "create", "--method", "key", "--alg", "EdDSA", "--out", "agent.jwk")
	mustRun(t, dir, "did", "create", "--method", "jwk", "--alg", "ES256", "--out", "other.jwk")
	claims, _ := json.Marshal(demoClaims())
	write(t, filepath.Join(dir, "claims.json"), string(claims))
	write(t, filepath.Join(dir, "cred.txt"), mustRun(t, dir, "issue", "--key", "issuer.jwk", "--claims", "claims.json", "--sd", "/permissions/*", "--holder", agentDID))
	return dir, issuerDID, agentDID
}

// TestRequestCommand runs `agentcert request` against a counterparty that
// accepts signed requests: reads, a body, an action the credential
// prohibits, a key that is not the credential's, and bad flags.
func TestRequestCommand(t *testing.T) {
	dir, issuerDID, agentDID := requestFiles(t)
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

// TestRequestReceiptsThroughTheBinary: signed requests from `agentcert
// request` to a counterparty that signs receipts — the refusal that asks for
// the credential, the request that presents, a request signed in the
// session, a prohibited action — each leave a receipt in the answer's
// header and a line in the action log; `agentcert receipt verify` checks
// them offline and `agentcert receipts search` finds them.
func TestRequestReceiptsThroughTheBinary(t *testing.T) {
	dir, issuerDID, agentDID := requestFiles(t)
	logPath := filepath.Join(dir, "receipts.jsonl")
	srv, _ := signedCounterpartyLogging(t, issuerDID, logPath)
	base := []string{"request", "-i", "--credential", "cred.txt", "--key", "agent.jwk", "--aud", "https://invoices.example"}

	// receiptOf saves the receipt header of a `request -i` answer and
	// checks it with `receipt verify`.
	receiptOf := func(name, out string) string {
		t.Helper()
		var jwt string
		for _, line := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(line, verifier.HeaderReceipt+": "); ok {
				jwt = strings.TrimSpace(v)
			}
		}
		if jwt == "" {
			t.Fatalf("%s: no receipt header\n%s", name, out)
		}
		write(t, filepath.Join(dir, name+".jwt"), jwt)
		return mustRun(t, dir, "receipt", "verify", name+".jwt")
	}
	// First run: no session, so the counterparty asks for the credential
	// (the transport presents and retries); both answers are decisions.
	out := mustRun(t, dir, append(base, srv.URL+"/invoices")...)
	got := receiptOf("opened", out)
	if !strings.Contains(got, "(success") || !strings.Contains(got, `"presented": true`) || !strings.Contains(got, `"bound": true`) ||
		!strings.Contains(got, `"subject": "`+agentDID+`"`) {
		t.Fatalf("receipt of the presenting request:\n%s", got)
	}
	// Second run, a fresh process: signed in the server's session.
	out = mustRun(t, dir, append(base, "-d", `{"note":"hi"}`, srv.URL+"/invoices/inv-1/notes")...)
	got = receiptOf("session", out)
	if !strings.Contains(got, "(success") || !strings.Contains(got, `"presented": false`) || !strings.Contains(got, `"bound": true`) ||
		!strings.Contains(got, `"subject": "`+agentDID+`"`) {
		t.Fatalf("receipt of the session request:\n%s", got)
	}
	// Refused: an action the credential prohibits.
	stdout, stderr, code := run(t, dir, append(base, "-X", "POST", srv.URL+"/invoices/inv-1/pay")...)
	if code != 1 {
		t.Fatalf("prohibited action: exit %d\n%s%s", code, stdout, stderr)
	}
	got = receiptOf("denied", stdout)
	if !strings.Contains(got, "(error") || !strings.Contains(got, `"error": "action_prohibited"`) || !strings.Contains(got, `"bound": true`) {
		t.Fatalf("receipt of the refusal:\n%s", got)
	}
	// Refused: signed with a key that is not the credential's.
	stdout, stderr, code = run(t, dir, "request", "-i", "--credential", "cred.txt", "--key", "other.jwk", "--aud", "https://invoices.example", srv.URL+"/invoices")
	if code != 1 {
		t.Fatalf("other key: exit %d\n%s%s", code, stdout, stderr)
	}
	got = receiptOf("otherkey", stdout)
	if !strings.Contains(got, "(error") || !strings.Contains(got, `"bound": false`) || strings.Contains(got, `"subject"`) {
		t.Fatalf("receipt of the other key's request:\n%s", got)
	}

	// The action log: credential_required and the success of the first
	// run, the session request, the denial, and the other key's two
	// refusals (credential_required, then its presentation's).
	lines := strings.Split(mustRun(t, dir, "receipts", "search", logPath), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d log lines, want 6:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if !strings.Contains(l, `"channel":{`) {
			t.Fatalf("a log line without the channel claim: %s", l)
		}
	}
	agentLines := strings.Split(mustRun(t, dir, "receipts", "search", logPath, "--subject", agentDID), "\n")
	denied := mustRun(t, dir, "receipts", "search", logPath, "--subject", agentDID, "--result", "error", "--action", "payments:initiate")
	if len(agentLines) != 3 || strings.Count(denied, "\n") != 0 || !strings.Contains(denied, `"error":"action_prohibited"`) {
		t.Fatalf("search by subject: %d lines; denied: %s", len(agentLines), denied)
	}
}
