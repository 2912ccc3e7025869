package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// startVerifierOnly runs `agentcert serve` in verifier-only mode with the
// receipts section given, in an empty working directory, and returns its URL
// and that directory.
func startVerifierOnly(t *testing.T, receipts string) (url, workDir string) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	url = fmt.Sprintf("http://127.0.0.1:%d", port)
	cfgDir, workDir := t.TempDir(), t.TempDir()
	cfgFile := filepath.Join(cfgDir, "verifier.yaml")
	write(t, cfgFile, fmt.Sprintf("listen: 127.0.0.1:%d\npublic_url: %s\ndata_dir: \"\"\nissuer:\n  enabled: false\nverifier:\n  trust_local_issuer: false\nreceipts:\n%s", port, url, receipts))
	startProc(t, workDir, nil, "serve", "--config", cfgFile)
	return url, workDir
}

func verifyGarbage(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Post(url+"/v1/verify", "application/json", strings.NewReader(`{"presentation":"not-an-sd-jwt~","audience":"https://shop.example"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res struct {
		Verified bool   `json:"verified"`
		Receipt  string `json:"receipt"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 || res.Verified || res.Receipt == "" {
		t.Fatalf("verify: %d %+v %v", resp.StatusCode, res, err)
	}
	return res.Receipt
}

// TestVerifierOnlyReceiptsUnderDIDWeb: a verifier-only service signs with
// the key file its config names, under the did:web of its public URL, and
// serves that DID's document; its receipts check against it. It writes
// nothing.
func TestVerifierOnlyReceiptsUnderDIDWeb(t *testing.T) {
	keyDir := t.TempDir()
	keyFile := filepath.Join(keyDir, "receipt.jwk")
	mustRun(t, keyDir, "did", "create", "--method", "key", "--alg", "EdDSA", "--out", keyFile)
	url, work := startVerifierOnly(t, "  key_file: "+keyFile+"\n  did_method: web\n")
	did := "did:web:" + strings.ReplaceAll(strings.TrimPrefix(url, "http://"), ":", "%3A")

	resp, err := http.Get(url + "/.well-known/did.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ID                 string `json:"id"`
		VerificationMethod []struct {
			ID string `json:"id"`
		} `json:"verificationMethod"`
		AssertionMethod []any `json:"assertionMethod"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if resp.StatusCode != 200 || doc.ID != did || len(doc.VerificationMethod) != 1 || !strings.HasPrefix(doc.VerificationMethod[0].ID, did+"#receipt-") || len(doc.AssertionMethod) != 0 {
		t.Fatalf("did.json: %d %+v", resp.StatusCode, doc)
	}
	rf := filepath.Join(keyDir, "r.jwt")
	write(t, rf, verifyGarbage(t, url))
	cfg := filepath.Join(keyDir, "fetch.yaml")
	write(t, cfg, "fetch:\n  allow_hosts: [127.0.0.1]\n")
	out, errOut, code := runRevokeCLI(t, keyDir, nil, "receipt", "verify", rf, "--config", cfg, "--verifier", did)
	if code != 0 || !strings.Contains(out, `"error": "malformed"`) || !strings.Contains(out, "VALID receipt from "+did) {
		t.Fatalf("receipt verify: exit %d\n%s%s", code, out, errOut)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Fatalf("the verifier wrote %d files into its working directory", len(entries))
	}
}

// TestVerifierOnlyReceiptsUnderDIDKey: without a key file the verifier
// signs under a did:key of its own, checkable with no network at all, or
// with the public key pinned (--jwk).
func TestVerifierOnlyReceiptsUnderDIDKey(t *testing.T) {
	url, work := startVerifierOnly(t, "  did_method: key\n")
	dir := t.TempDir()
	rf := filepath.Join(dir, "r.jwt")
	rcpt := verifyGarbage(t, url)
	write(t, rf, rcpt)
	out, errOut, code := runRevokeCLI(t, dir, nil, "receipt", "verify", rf)
	if code != 0 || !strings.Contains(out, "VALID receipt from did:key:") {
		t.Fatalf("receipt verify: exit %d\n%s%s", code, out, errOut)
	}
	// The same receipt against another key, pinned: refused.
	other := filepath.Join(dir, "other.jwk")
	mustRun(t, dir, "did", "create", "--method", "key", "--alg", "ES256", "--out", other)
	if out, errOut, code := runRevokeCLI(t, dir, nil, "receipt", "verify", rf, "--jwk", other); code != 1 || !strings.Contains(errOut, "receipt_bad_signature") {
		t.Fatalf("pinned wrong key: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := runRevokeCLI(t, dir, nil, "receipt", "verify", rf, "--jwk", other, "--verifier", "did:key:z"); code != 2 {
		t.Fatalf("--jwk with --verifier: exit %d %s", code, errOut)
	}
	write(t, rf, "garbage")
	if _, errOut, code := runRevokeCLI(t, dir, nil, "receipt", "verify", rf); code != 1 || !strings.Contains(errOut, "receipt_malformed") {
		t.Fatalf("garbage receipt: exit %d %s", code, errOut)
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Fatalf("the verifier wrote %d files", len(entries))
	}
}
