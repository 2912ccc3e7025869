package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/agentcert/agentcert/internal/testsvc"
)

// startReplica starts a verifier-only service trusting iss, requiring
// nonces from GET /v1/nonce, with spent nonces in nonceStore.
func startReplica(t *testing.T, iss, nonceStore, secret string) string {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	p := startFromConfig(t, dir, fmt.Sprintf(`listen: 127.0.0.1:%d
public_url: %s
data_dir: %s
issuer: {enabled: false}
verifier:
  trust_local_issuer: false
  check_status: false             # the offline credential names no status list
  require_nonce: true
  nonce_ttl: 1m
  nonce_secrets: [%q]
  nonce_store: %q
  trusted: [{issuer: %q, vcts: [urn:agentcert:agent-certification:v1]}]
`, port, base, dir, secret, nonceStore, iss))
	return p.url
}

// TestScaleOutVerifierReplicasShareRedis: two verifier replicas with the
// same nonce secrets and one Redis. A nonce minted by one verifies on the
// other, and once spent on either it is refused by both (nonce_replayed); a
// replica whose Redis is unreachable refuses (nonce_store_unavailable)
// instead of accepting.
func TestScaleOutVerifierReplicasShareRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts verifier replicas")
	}
	redisURL, _ := testsvc.Redis(t)
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := base64.StdEncoding.EncodeToString(raw)
	iss := newTestKey(t)
	agent := newTestKey(t)
	cred := offlineCred(t, iss, iss.did, agent, "")
	const aud = "https://counterparty.example"
	a := startReplica(t, iss.did, redisURL, secret)
	b := startReplica(t, iss.did, redisURL, secret)

	for _, tc := range []struct{ mint, first, replay string }{{a, b, a}, {b, a, b}, {a, a, b}} {
		body := map[string]any{"presentation": presentAll(t, cred, agent, aud, nonceFrom(t, tc.mint)), "audience": aud}
		if status, code, _ := verifyCall(t, tc.first, body); status != 200 || code != "" {
			t.Fatalf("first use on %s of a nonce from %s: %d %q", tc.first, tc.mint, status, code)
		}
		for _, r := range []string{tc.replay, tc.first} {
			if _, code, _ := verifyCall(t, r, body); code != "nonce_replayed" {
				t.Fatalf("replay on %s of a nonce spent on %s: %q, want nonce_replayed", r, tc.first, code)
			}
		}
	}

	// Redis unreachable: fail closed.
	closed, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	down := startReplica(t, iss.did, fmt.Sprintf("redis://127.0.0.1:%d/0", closed), secret)
	body := map[string]any{"presentation": presentAll(t, cred, agent, aud, nonceFrom(t, down)), "audience": aud}
	if _, code, _ := verifyCall(t, down, body); code != "nonce_store_unavailable" {
		t.Fatalf("verify with Redis down: %q, want nonce_store_unavailable", code)
	}
}
