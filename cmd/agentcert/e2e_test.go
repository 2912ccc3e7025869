package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentcert/agentcert/internal/testbin"
	"github.com/agentcert/agentcert/verifier"
)

// binPath is the agentcert binary built once for the end-to-end tests.
var binPath string

func TestMain(m *testing.M) { testbin.Main(m, &binPath) }

// run runs the binary and returns stdout, stderr and the exit code.
func run(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	return testbin.Run(t, binPath, dir, nil, args...)
}

func mustRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return testbin.MustRun(t, binPath, dir, nil, args...)
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCLIEndToEnd(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			dir := t.TempDir()
			issuerDID := mustRun(t, dir, "did", "create", "--method", "key", "--alg", alg, "--out", "issuer.jwk")
			agentDID := mustRun(t, dir, "did", "create", "--method", "jwk", "--alg", alg, "--out", "agent.jwk")
			if !strings.HasPrefix(issuerDID, "did:key:z") || !strings.HasPrefix(agentDID, "did:jwk:") {
				t.Fatalf("unexpected DIDs %q %q", issuerDID, agentDID)
			}
			st, err := os.Stat(filepath.Join(dir, "issuer.jwk"))
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("key file mode: %v %v", st, err)
			}
			claims, _ := json.Marshal(demoClaims())
			write(t, filepath.Join(dir, "claims.json"), string(claims))
			cred := mustRun(t, dir, "issue", "--key", "issuer.jwk", "--claims", "claims.json", "--sd", "/permissions/*", "--holder", agentDID)
			write(t, filepath.Join(dir, "cred.txt"), cred)
			pres := mustRun(t, dir, "present", "--credential", "cred.txt", "--key", "agent.jwk", "--aud", "https://verifier.example", "--nonce", "n-1", "--disclose", "/permissions/0", "--disclose", "/permissions/2")
			write(t, filepath.Join(dir, "pres.txt"), pres)

			out := mustRun(t, dir, "verify", "--presentation", "pres.txt", "--aud", "https://verifier.example", "--nonce", "n-1", "--trust", issuerDID, "--json", "--no-status")
			var res verifier.Result
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("verify --json output: %v\n%s", err, out)
			}
			if !res.Verified || res.Issuer != issuerDID || res.Subject != agentDID || res.VCT != "urn:agentcert:agent-certification:v1" {
				t.Fatalf("unexpected result %+v", res)
			}
			perms, _ := res.Claims["permissions"].([]any)
			if len(perms) != 2 {
				t.Fatalf("want 2 disclosed permissions, got %v", res.Claims["permissions"])
			}
			if _, ok := res.Claims["_sd_alg"]; ok {
				t.Fatal("_sd_alg left in the processed claims")
			}
			if res.Status.Checked {
				t.Fatal("--no-status must say the status was not checked")
			}
			// Status checking is on by default and fails closed: this
			// offline credential has no status reference.
			out, _, code := run(t, dir, "verify", "--presentation", "pres.txt", "--aud", "https://verifier.example", "--nonce", "n-1", "--trust", issuerDID, "--json")
			if code != 1 || !strings.Contains(out, `"code": "status_invalid"`) {
				t.Fatalf("without --no-status: exit %d\n%s", code, out)
			}

			// Wrong nonce, untrusted issuer: exit 1 with the code.
			for _, tc := range []struct {
				args []string
				code string
			}{
				{[]string{"--aud", "https://verifier.example", "--nonce", "other", "--trust", issuerDID}, "kb_wrong_nonce"},
				{[]string{"--aud", "https://other.example", "--nonce", "n-1", "--trust", issuerDID}, "kb_wrong_audience"},
				{[]string{"--aud", "https://verifier.example", "--nonce", "n-1", "--trust", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"}, "untrusted_issuer"},
			} {
				args := append([]string{"verify", "--presentation", "pres.txt", "--json", "--no-status"}, tc.args...)
				out, _, code := run(t, dir, args...)
				if code != 1 || !strings.Contains(out, `"code": "`+tc.code+`"`) {
					t.Errorf("%v: exit %d, want 1 with %s\n%s", tc.args, code, tc.code, out)
				}
			}

			// One byte of a disclosure changed: not verified, disclosure_not_referenced.
			write(t, filepath.Join(dir, "tampered.txt"), tamperDisclosure(t, pres))
			out, _, code = run(t, dir, "verify", "--presentation", "tampered.txt", "--aud", "https://verifier.example", "--nonce", "n-1", "--trust", issuerDID, "--json", "--no-status")
			if code != 1 || !strings.Contains(out, `"code": "disclosure_not_referenced"`) {
				t.Fatalf("tampered: exit %d, want 1 with disclosure_not_referenced\n%s", code, out)
			}
		})
	}
}

// tamperDisclosure changes one byte inside the first disclosure's JSON and
// re-encodes it, so it stays well formed but no digest references it.
func tamperDisclosure(t *testing.T, pres string) string {
	t.Helper()
	parts := strings.Split(pres, "~")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(raw, []byte("invoices"))
	if i < 0 {
		t.Fatalf("disclosure %s has no invoices action", raw)
	}
	raw[i] = 'I'
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, "~")
}

func TestCLIUsageErrors(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "did", "create", "--method", "key", "--out", "k.jwk")
	write(t, filepath.Join(dir, "bad.json"), "{not json")
	write(t, filepath.Join(dir, "sym.jwk"), `{"kty":"oct","k":"c2VjcmV0"}`)
	for name, args := range map[string][]string{
		"missing file":    {"verify", "--presentation", "nope.txt", "--no-kb", "--trust", "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"},
		"bad claims JSON": {"issue", "--key", "k.jwk", "--claims", "bad.json"},
		"wrong key type":  {"issue", "--key", "sym.jwk", "--claims", "bad.json"},
		"unknown flag":    {"verify", "--bogus"},
		"bad method":      {"did", "create", "--method", "web", "--out", "x.jwk"},
		"existing out":    {"did", "create", "--out", "k.jwk"},
		"bad alg":         {"did", "create", "--alg", "RS256", "--out", "y.jwk"},
		"no aud":          {"verify", "--presentation", "x"},
	} {
		t.Run(name, func(t *testing.T) {
			_, errOut, code := run(t, dir, args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, errOut)
			}
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); n != 0 || errOut == "" {
				t.Fatalf("want one clear line on stderr, got %q", errOut)
			}
		})
	}
}

func TestDemo(t *testing.T) {
	out := mustRun(t, t.TempDir(), "demo")
	for _, want := range []string{"verified: issuer did:key:", "may the agent invoices:read? true", "may the agent payments:initiate? false"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// TestCLIIssueKeepsRestrictionsInClear: the offline issue command applies
// the type metadata as the issuer service does.
func TestCLIIssueKeepsRestrictionsInClear(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, dir, "did", "create", "--method", "key", "--out", "k.jwk")
	agent := mustRun(t, dir, "did", "create", "--method", "key", "--out", "agent.jwk")
	claims, _ := json.Marshal(demoClaims())
	write(t, filepath.Join(dir, "claims.json"), string(claims))
	for _, ptr := range []string{"/prohibitions", "/prohibitions/0", "/status", "/vct", "/task"} {
		_, errOut, code := run(t, dir, "issue", "--key", "k.jwk", "--claims", "claims.json", "--sd", ptr)
		if code != 2 || !strings.Contains(errOut, "not_disclosable") {
			t.Errorf("--sd %s: exit %d, stderr %q; want 2 and not_disclosable", ptr, code, errOut)
		}
	}
	noProhibitions := demoClaims()
	delete(noProhibitions, "prohibitions")
	claims, _ = json.Marshal(noProhibitions)
	write(t, filepath.Join(dir, "claims.json"), string(claims))
	cred := mustRun(t, dir, "issue", "--key", "k.jwk", "--claims", "claims.json", "--holder", agent)
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(strings.Split(cred, "~")[0], ".")[1])
	if err != nil || !strings.Contains(string(payload), `"prohibitions":[]`) || !strings.Contains(string(payload), `"task":null`) {
		t.Fatalf("an agent certification states its prohibitions, even none: %s", payload)
	}
}
