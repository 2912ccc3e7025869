package main

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// codesAud is the audience of every presentation in TestVerifyEndpointMoreCodes.
const codesAud = "https://counterparty.example"

// serveStatusList serves, at the returned URI, a Status List Token of 1024
// valid entries signed by k for issuer k.did.
func serveStatusList(t *testing.T, k testKey) string {
	t.Helper()
	var token string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/lists/1" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/statuslist+jwt")
		_, _ = w.Write([]byte(token))
	}))
	t.Cleanup(srv.Close)
	uri := srv.URL + "/lists/1"
	l, err := revocation.NewList(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	token, err = revocation.SignToken(l, revocation.TokenClaims{Subject: uri, Issuer: k.did, IssuedAt: now, Expires: now.Add(time.Hour), TTL: time.Minute}, k.key)
	if err != nil {
		t.Fatal(err)
	}
	return uri
}

// codesClaims is an agent certification by iss for agent that passes every
// check of the server in TestVerifyEndpointMoreCodes: prohibitions in clear
// and a status reference (idx 7 of statusURI).
func codesClaims(t *testing.T, agent testKey, iss, statusURI string) map[string]any {
	cnf := testkeys.PublicJWK(t, agent.key)
	now := time.Now()
	return map[string]any{
		"iss": iss, "sub": agent.did, "vct": "urn:agentcert:agent-certification:v1",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"cnf":          map[string]any{"jwk": cnf},
		"status":       map[string]any{"status_list": map[string]any{"idx": 7, "uri": statusURI}},
		"principal":    map[string]any{"id": "did:web:acme.example", "name": "ACME", "type": "organization"},
		"agent":        map[string]any{"class": "ap-assistant"},
		"permissions":  []any{map[string]any{"action": "invoices:read"}, map[string]any{"action": "invoices:list"}},
		"prohibitions": []any{"payments:initiate"},
		"task":         nil,
		"autonomy":     "supervised",
	}
}

// issueWith signs claims with k, making the claims at sd selectively disclosable.
func issueWith(t *testing.T, k testKey, claims map[string]any, sd []string, opts *sdjwt.IssueOptions) string {
	t.Helper()
	cred, err := sdjwt.Issue(claims, sd, k.key, opts)
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// kbOver returns a KB-JWT signed by holder whose sd_hash is over sdHashInput
// (a presentation ending in '~'), built with jws.Sign directly.
func kbOver(t *testing.T, holder testKey, sdHashInput, aud, nonce string, iat time.Time) string {
	t.Helper()
	return testkeys.SignJWS(t, holder.key, jwa.ES256, map[string]any{jws.TypeKey: sdjwt.TypKB},
		map[string]any{"iat": iat.Unix(), "aud": aud, "nonce": nonce, "sd_hash": sdjwt.SDHash(sdHashInput)})
}

// bind appends to pres (ending in '~') a valid KB-JWT for codesAud and nonce.
func bind(t *testing.T, holder testKey, pres, nonce string) string {
	t.Helper()
	return pres + kbOver(t, holder, pres, codesAud, nonce, time.Now())
}

// parts splits an SD-JWT without KB-JWT into its issuer JWT and disclosures.
func parts(t *testing.T, cred string) (string, []string) {
	t.Helper()
	p := strings.Split(cred, "~")
	if len(p) < 2 || p[len(p)-1] != "" {
		t.Fatalf("not an SD-JWT without KB-JWT: %q", cred)
	}
	return p[0], p[1 : len(p)-1]
}

func join(jwt string, discs ...string) string {
	var sb strings.Builder
	sb.WriteString(jwt)
	sb.WriteByte('~')
	for _, d := range discs {
		sb.WriteString(d)
		sb.WriteByte('~')
	}
	return sb.String()
}

// TestVerifyEndpointMoreCodes drives every remaining verification error
// code through POST /v1/verify of the real binary. The server trusts an
// offline did:key issuer X (whose status list a local test server
// publishes) and a did:web issuer on a closed loopback port; nonces are the
// caller's own (require_nonce false); /principal/name must be disclosed.
func TestVerifyEndpointMoreCodes(t *testing.T) {
	x := newTestKey(t)
	agent := newTestKey(t)
	other := newTestKey(t)
	listURI := serveStatusList(t, x)
	closed, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	webIss := fmt.Sprintf("did:web:127.0.0.1%%3A%d", closed)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	startFromConfig(t, dir, fmt.Sprintf(`listen: 127.0.0.1:%d
public_url: %s
data_dir: %s
verifier:
  require_nonce: false
  check_status: true
  max_status_age: 0s
  required_claims: [/principal/name]
  trusted:
    - {issuer: %q, vcts: ['*']}
    - {issuer: %q, vcts: ['*']}
`, port, base, filepath.Join(dir, "data"), x.did, webIss))

	const nonce = "n-1"
	claims := func() map[string]any { return codesClaims(t, agent, x.did, listURI) }
	std := []string{"/permissions/*"}
	good := issueWith(t, x, claims(), std, nil)
	present := func(cred string, kb *sdjwt.KBOptions, disclose ...string) string {
		t.Helper()
		if disclose == nil {
			disclose = []string{""}
		}
		p, err := sdjwt.Present(cred, disclose, kb)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	kbOpts := func(key testKey, iat time.Time) *sdjwt.KBOptions {
		return &sdjwt.KBOptions{Key: key.key, Audience: codesAud, Nonce: nonce, IssuedAt: iat}
	}
	now := time.Now()
	goodJWT, goodDiscs := parts(t, good)
	if len(goodDiscs) != 2 {
		t.Fatalf("want 2 disclosures, got %d", len(goodDiscs))
	}

	type row struct {
		name, pres, nonce, want string
	}
	var rows []row
	add := func(name, pres, want string) { rows = append(rows, row{name, pres, nonce, want}) }

	// The control: the base credential verifies, so each row below fails
	// for its own fault only.
	add("control", present(good, kbOpts(agent, now)), "")

	// The issuer-signed JWT.
	{
		seg := strings.Split(goodJWT, ".")
		if len(seg) != 3 {
			t.Fatalf("issuer JWT %q", goodJWT)
		}
		sig := []byte(seg[2])
		i := len(sig) / 2 // a middle character: all six of its bits are signature bits
		if sig[i] == 'A' {
			sig[i] = 'B'
		} else {
			sig[i] = 'A'
		}
		flipped := seg[0] + "." + seg[1] + "." + string(sig)
		add("bad_signature", bind(t, agent, join(flipped, goodDiscs...), nonce), "bad_signature")
	}
	c := claims()
	c["iat"], c["nbf"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	add("expired", present(issueWith(t, x, c, std, nil), kbOpts(agent, now)), "expired")
	c = claims()
	c["nbf"], c["exp"] = now.Add(time.Hour).Unix(), now.Add(2*time.Hour).Unix()
	add("not_yet_valid nbf", present(issueWith(t, x, c, std, nil), kbOpts(agent, now)), "not_yet_valid")
	c = claims()
	c["iat"], c["nbf"], c["exp"] = now.Add(time.Hour).Unix(), now.Unix(), now.Add(2*time.Hour).Unix()
	add("not_yet_valid iat", present(issueWith(t, x, c, std, nil), kbOpts(agent, now)), "not_yet_valid")
	add("malformed", "garbage", "malformed")
	add("wrong_typ", present(issueWith(t, x, claims(), std, &sdjwt.IssueOptions{Typ: "JWT"}), kbOpts(agent, now)), "wrong_typ")
	{
		p := claims()
		p["_sd_alg"] = "sha-256"
		hs := testkeys.SignJWS(t, []byte("0123456789abcdef0123456789abcdef"), jwa.HS256, map[string]any{jws.TypeKey: sdjwt.TypVC, jws.KeyIDKey: x.key.KeyID()}, p)
		add("unsupported_alg HS256", bind(t, agent, hs+"~", nonce), "unsupported_alg")
		crit := testkeys.SignJWS(t, x.key, jwa.ES256, map[string]any{jws.TypeKey: sdjwt.TypVC, jws.KeyIDKey: x.key.KeyID(), jws.CriticalKey: []string{"x"}, "x": 1}, p)
		add("unknown_crit", bind(t, agent, crit+"~", nonce), "unknown_crit")
		// The same hand-made JWT without crit verifies: the rows above fail
		// for their header alone.
		plain := testkeys.SignJWS(t, x.key, jwa.ES256, map[string]any{jws.TypeKey: sdjwt.TypVC, jws.KeyIDKey: x.key.KeyID()}, p)
		add("control hand-made JWT", bind(t, agent, plain+"~", nonce), "")
	}

	// Disclosures.
	add("duplicate_disclosure", bind(t, agent, join(goodJWT, goodDiscs[0], goodDiscs[0], goodDiscs[1]), nonce), "duplicate_disclosure")
	{
		raw, err := base64.RawURLEncoding.DecodeString(goodDiscs[0])
		if err != nil || !strings.HasPrefix(string(raw), `["`) {
			t.Fatalf("disclosure %q: %s %v", goodDiscs[0], raw, err)
		}
		if raw[2] == 'A' {
			raw[2] = 'B'
		} else {
			raw[2] = 'A'
		}
		altered := base64.RawURLEncoding.EncodeToString(raw)
		add("disclosure_not_referenced", bind(t, agent, join(goodJWT, altered, goodDiscs[1]), nonce), "disclosure_not_referenced")
	}
	add("disclosure_malformed not JSON", bind(t, agent, join(goodJWT, base64.RawURLEncoding.EncodeToString([]byte("not json")), goodDiscs[1]), nonce), "disclosure_malformed")
	add("disclosure_malformed not base64url", bind(t, agent, join(goodJWT, "!!not-base64!!", goodDiscs[1]), nonce), "disclosure_malformed")

	// Key binding.
	add("kb_missing", present(good, nil), "kb_missing")
	add("kb_bad_signature", present(good, kbOpts(other, now)), "kb_bad_signature")
	{
		full := join(goodJWT, goodDiscs...)
		fewer := join(goodJWT, goodDiscs[0])
		add("kb_sd_hash_mismatch", full+kbOver(t, agent, fewer, codesAud, nonce, now), "kb_sd_hash_mismatch")
		add("control hand-made KB-JWT", full+kbOver(t, agent, full, codesAud, nonce, now), "")
	}
	add("kb_stale old", present(good, kbOpts(agent, now.Add(-time.Hour))), "kb_stale")
	add("kb_stale future", present(good, kbOpts(agent, now.Add(time.Hour))), "kb_stale")
	rows = append(rows, row{"kb_wrong_nonce", present(good, kbOpts(agent, now)), "n-2", "kb_wrong_nonce"})

	// Policy: a required claim withheld.
	add("claim_not_disclosed", present(issueWith(t, x, claims(), []string{"/permissions/*", "/principal/name"}, nil), kbOpts(agent, now), "/permissions/0"), "claim_not_disclosed")
	add("control required claim disclosed", present(issueWith(t, x, claims(), []string{"/permissions/*", "/principal/name"}, nil), kbOpts(agent, now)), "")

	// Status.
	c = claims()
	c["vct"] = "urn:example:other:v1" // the agent certification's own rules play no part
	delete(c, "status")
	add("status_invalid no status", present(issueWith(t, x, c, nil, nil), kbOpts(agent, now)), "status_invalid")
	c = claims()
	delete(c, "status")
	add("status_invalid agent certification without status", present(issueWith(t, x, c, std, nil), kbOpts(agent, now)), "status_invalid")
	add("status_invalid status withheld", present(issueWith(t, x, claims(), []string{"/permissions/*", "/status"}, nil), kbOpts(agent, now), "/permissions/0", "/principal/name"), "status_invalid")
	c = claims()
	c["status"] = map[string]any{"status_list": map[string]any{"idx": 999999999, "uri": listURI}}
	add("status_invalid idx beyond the list", present(issueWith(t, x, c, std, nil), kbOpts(agent, now)), "status_invalid")
	c = claims()
	c["status"] = map[string]any{"status_list": map[string]any{"idx": -1, "uri": listURI}}
	add("status_invalid negative idx", present(issueWith(t, x, c, std, nil), kbOpts(agent, now)), "status_invalid")
	c = claims()
	c["status"] = map[string]any{"other": true}
	add("status_invalid no status_list", present(issueWith(t, x, c, std, nil), kbOpts(agent, now)), "status_invalid")

	// A trusted did:web issuer whose document cannot be fetched.
	{
		k, _ := x.key.Clone()
		_ = k.Set(jwk.KeyIDKey, webIss+"#key-1")
		web := testKey{key: k, did: webIss}
		add("did_resolution_failed", present(issueWith(t, web, codesClaims(t, agent, webIss, listURI), std, nil), kbOpts(agent, now)), "did_resolution_failed")
	}

	// The agent certification's prohibitions must be in clear.
	c = claims()
	delete(c, "prohibitions")
	add("missing_claim no prohibitions", present(issueWith(t, x, c, std, nil), kbOpts(agent, now)), "missing_claim")
	add("missing_claim prohibitions disclosable", present(issueWith(t, x, claims(), []string{"/permissions/*", "/prohibitions"}, nil), kbOpts(agent, now)), "missing_claim")
	add("missing_claim a prohibition disclosable", present(issueWith(t, x, claims(), []string{"/permissions/*", "/prohibitions/0"}, nil), kbOpts(agent, now)), "missing_claim")
	c = claims()
	c["prohibitions"] = []any{}
	add("control empty prohibitions", present(issueWith(t, x, c, std, nil), kbOpts(agent, now)), "")

	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			status, code, _ := verifyCall(t, base, map[string]any{"presentation": r.pres, "audience": codesAud, "nonce": r.nonce})
			if status != 200 || code != r.want {
				t.Errorf("status %d, first code %q, want 200 and %q", status, code, r.want)
			}
		})
	}
}
