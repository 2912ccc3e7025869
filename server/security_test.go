package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// Tests of the defences in docs/security.md that live in the HTTP layer,
// over a real listener.

func newSubject(t testing.TB) string {
	t.Helper()
	key, err := keyutil.Generate(jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := keyutil.Public(key)
	sub, err := did.KeyDID(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// TestSec01IssuanceRefusesAForeignHolderKey: an issuer token cannot
// certify a victim's did:key with a key it holds (400
// subject_key_mismatch); naming the subject's own key is fine.
func TestSec01IssuanceRefusesAForeignHolderKey(t *testing.T) {
	f := newStatusFixture(t)
	victimKey, _ := keyutil.Generate(jwa.ES256)
	victimPub, _ := keyutil.Public(victimKey)
	victim, _ := did.KeyDID(victimPub)
	attacker, _ := keyutil.Generate(jwa.ES256)
	attackerPub, _ := keyutil.Public(attacker)
	for _, tc := range []struct {
		name   string
		holder any
		want   int
		code   errcode.Code
	}{
		{"attacker's key", attackerPub, http.StatusBadRequest, errcode.SubjectKeyMismatch},
		{"the subject's own key", victimPub, http.StatusCreated, ""},
	} {
		req := map[string]any{"subject": victim, "holder_jwk": tc.holder, "claims": map[string]any{
			"principal": map[string]any{"id": "did:web:acme.example", "name": "ACME"}, "agent": map[string]any{"class": "x"},
			"autonomy": "supervised", "permissions": []any{map[string]any{"action": "payments:initiate"}},
		}}
		resp, b := f.do(http.MethodPost, "/v1/credentials", f.issuerA, req, nil)
		if resp.StatusCode != tc.want || (tc.code != "" && problemCode(t, b) != tc.code) {
			t.Errorf("%s: HTTP %d %s, want %d %s", tc.name, resp.StatusCode, b, tc.want, tc.code)
		}
	}
}

// numberBomb is an issuance body of 600 permissions each constrained by
// max_amount 1e999999 (about 24 KB): the exact comparison JSON Schema makes
// of such a number costs seconds.
func numberBomb(subject string) []byte {
	var perms []string
	for i := 0; i < 600; i++ {
		perms = append(perms, `{"action":"payments:initiate","constraints":{"max_amount":1e999999,"currency":"EUR"}}`)
	}
	return []byte(fmt.Sprintf(`{"subject":%q,"claims":{"principal":{"id":"did:web:acme.example","name":"ACME"},"agent":{"class":"x"},"autonomy":"supervised","permissions":[%s]}}`,
		subject, strings.Join(perms, ",")))
}

// TestSec07NumberBombRefused: numbers beyond the bounds are refused while
// the body is decoded, before any schema validation, with invalid_input.
func TestSec07NumberBombRefused(t *testing.T) {
	f := newStatusFixture(t)
	body := numberBomb(newSubject(t))
	if len(body) < 20<<10 {
		t.Fatalf("bomb is only %d bytes", len(body))
	}
	resp, b := f.do(http.MethodPost, "/v1/credentials", f.issuerA, body, nil)
	if resp.StatusCode != http.StatusBadRequest || problemCode(t, b) != errcode.InvalidInput || !strings.Contains(string(b), "exponent") {
		t.Fatalf("number bomb: HTTP %d %s", resp.StatusCode, b)
	}
	for _, n := range []string{"1e-999999", "1" + strings.Repeat("0", 80)} {
		req := fmt.Sprintf(`{"presentation":"x~","audience":"a","request":{"amount":%s}}`, n)
		resp, b := f.do(http.MethodPost, "/v1/verify", "", []byte(req), nil)
		if resp.StatusCode != http.StatusBadRequest || problemCode(t, b) != errcode.InvalidInput {
			t.Errorf("verify with amount %s: HTTP %d %s", n, resp.StatusCode, b)
		}
	}
}

// BenchmarkSec07NumberBombRefused: the number-bomb issuance body is refused
// by the handler (decoding alone; no validation runs). The target is well
// under 10 ms per request.
func BenchmarkSec07NumberBombRefused(b *testing.B) {
	env := NewTestEnv(b, nil)
	env.Server.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	secret, _, err := tokens.Create(context.Background(), env.Store, tokens.RoleIssuer, "bench", "test", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	body := numberBomb(newSubject(b))
	h := env.Server.Handler()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/v1/credentials", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest {
			b.Fatalf("HTTP %d %s", rec.Code, rec.Body)
		}
	}
}

// TestSec08DuplicateAndCaseVariantKeysInBodies: every JSON request body
// refuses duplicate members, members that differ only in case, and members
// that name a field only case-insensitively (400 invalid_input), so that
// no two readers of one body disagree on its meaning.
func TestSec08DuplicateAndCaseVariantKeysInBodies(t *testing.T) {
	f := newStatusFixture(t)
	c := f.issue(f.issuerA, "did:web:acme.example", "ap")
	sub := newSubject(t)
	claims := `{"principal":{"id":"did:web:acme.example","name":"ACME"},"agent":{"class":"x"},"autonomy":"supervised","permissions":[{"action":"invoices:read"}]}`
	for _, tc := range []struct {
		name, method, path, token, body string
	}{
		{"verify audience twice in two cases", "POST", "/v1/verify", "", `{"presentation":"x~","audience":"https://a.example","AUDIENCE":"https://b.example"}`},
		{"verify audience twice", "POST", "/v1/verify", "", `{"presentation":"x~","audience":"https://a.example","audience":"https://b.example"}`},
		{"verify field in the wrong case", "POST", "/v1/verify", "", `{"presentation":"x~","Audience":"https://a.example"}`},
		{"verify request attributes twice", "POST", "/v1/verify", "", `{"presentation":"x~","audience":"a","request":{"amount":1,"amount":1000000}}`},
		{"issue subject twice", "POST", "/v1/credentials", f.issuerA, fmt.Sprintf(`{"subject":%q,"subject":%q,"claims":%s}`, sub, sub, claims)},
		{"issue claim in two cases", "POST", "/v1/credentials", f.issuerA, fmt.Sprintf(`{"subject":%q,"claims":%s}`, sub, strings.Replace(claims, `"autonomy":"supervised"`, `"autonomy":"supervised","Autonomy":"autonomous"`, 1))},
		{"issue unknown field in another case", "POST", "/v1/credentials", f.issuerA, fmt.Sprintf(`{"Subject":%q,"claims":%s}`, sub, claims)},
		{"revoke reason twice", "POST", "/v1/credentials/" + c.ID + "/revoke", f.auditor, `{"reason":"other","reason":"key_compromise"}`},
		{"bulk action in two cases", "POST", "/v1/revocations", f.auditor, `{"action":"suspend","ACTION":"revoke","reason":"other","agent_class":"ap"}`},
		{"token role twice", "POST", "/v1/admin/tokens", f.admin, `{"role":"auditor","role":"admin","name":"x"}`},
	} {
		resp, b := f.do(tc.method, tc.path, tc.token, []byte(tc.body), nil)
		if resp.StatusCode != http.StatusBadRequest || problemCode(t, b) != errcode.InvalidInput {
			t.Errorf("%s: HTTP %d %s, want 400 invalid_input", tc.name, resp.StatusCode, b)
		}
	}
	if f.value(c) != 0 {
		t.Fatal("a refused body changed a status")
	}
}

// TestSec10TimesBefore1970Refused: the zero time (and anything before the
// Unix epoch) in a filter is refused, not read as "no filter": on main a
// dry run with issued_before 0001-01-01 matched every credential of the
// subject.
func TestSec10TimesBefore1970Refused(t *testing.T) {
	f := newStatusFixture(t)
	f.issue(f.issuerA, "did:web:acme.example", "ap")
	for _, ts := range []string{"0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z"} {
		resp, b := f.do(http.MethodPost, "/v1/revocations", f.auditor, map[string]any{"action": "revoke", "reason": "incident", "issued_before": ts, "dry_run": true}, nil)
		if resp.StatusCode != http.StatusBadRequest || problemCode(t, b) != errcode.InvalidInput {
			t.Errorf("bulk issued_before %s: HTTP %d %s", ts, resp.StatusCode, b)
		}
		resp, b = f.do(http.MethodPost, "/v1/revocations", f.auditor, map[string]any{"action": "revoke", "reason": "incident", "issued_before": ts, "principal_id": "did:web:acme.example", "dry_run": true}, nil)
		if resp.StatusCode != http.StatusBadRequest || problemCode(t, b) != errcode.InvalidInput {
			t.Errorf("bulk issued_before %s with a principal: HTTP %d %s", ts, resp.StatusCode, b)
		}
		for _, q := range []string{"/v1/credentials?issued_before=", "/v1/credentials?issued_after=", "/v1/audit?since=", "/v1/audit?until="} {
			resp, b := f.do(http.MethodGet, q+ts, f.auditor, nil, nil)
			if resp.StatusCode != http.StatusBadRequest || problemCode(t, b) != errcode.InvalidInput {
				t.Errorf("%s%s: HTTP %d %s", q, ts, resp.StatusCode, b)
			}
		}
	}
	resp, b := f.do(http.MethodPost, "/v1/revocations", f.auditor, map[string]any{"action": "revoke", "reason": "incident", "issued_before": "1970-01-01T00:00:00Z", "dry_run": true}, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"count":0`) {
		t.Fatalf("issued_before at the epoch: HTTP %d %s", resp.StatusCode, b)
	}
}

// TestSec11NoExistenceOracle: an issuer token changing another issuer's
// credential gets the answer an unknown id gets (404 not_found), for every
// action, so ids cannot be probed.
func TestSec11NoExistenceOracle(t *testing.T) {
	f := newStatusFixture(t)
	c := f.issue(f.issuerA, "did:web:acme.example", "ap")
	const unknown = "urn:uuid:00000000-0000-4000-8000-000000000000"
	req := map[string]string{"reason": "other"}
	for _, action := range []string{"revoke", "suspend", "reinstate"} {
		code, other := f.change(f.issuerB, c.ID, action, req)
		ucode, none := f.change(f.issuerB, unknown, action, req)
		if code != http.StatusNotFound || ucode != http.StatusNotFound || problemCode(t, other) != errcode.NotFound || problemCode(t, none) != errcode.NotFound {
			t.Errorf("%s: another issuer's credential HTTP %d %s; unknown id HTTP %d %s; want both 404 not_found", action, code, other, ucode, none)
		}
		var p1, p2 Problem
		_ = json.Unmarshal(other, &p1)
		_ = json.Unmarshal(none, &p2)
		if strings.ReplaceAll(p1.Detail, c.ID, "ID") != strings.ReplaceAll(p2.Detail, unknown, "ID") {
			t.Errorf("%s: details differ: %q vs %q", action, p1.Detail, p2.Detail)
		}
	}
	if resp, b := f.do(http.MethodGet, "/v1/credentials/"+c.ID, f.issuerB, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET another issuer's credential: HTTP %d %s", resp.StatusCode, b)
	}
	if f.value(c) != 0 {
		t.Fatal("another issuer changed the status")
	}
}

// TestSec12IssuanceRefusesWhatVerificationWould: 256 permissions with
// 512-character resources pass the JSON Schema but make a credential no
// verifier accepts; the issuer refuses it (too_large).
func TestSec12IssuanceRefusesWhatVerificationWould(t *testing.T) {
	f := newStatusFixture(t)
	perms := make([]any, 256)
	for i := range perms {
		perms[i] = map[string]any{"action": "files:read", "resource": fmt.Sprintf("files/%03d/%s", i, strings.Repeat("r", 502))}
	}
	for _, sd := range [][]string{{"/permissions/*"}, nil} {
		req := map[string]any{"subject": newSubject(t), "selectively_disclosable": sd, "claims": map[string]any{
			"principal": map[string]any{"id": "did:web:acme.example", "name": "ACME"}, "agent": map[string]any{"class": "x"},
			"autonomy": "supervised", "permissions": perms,
		}}
		resp, b := f.do(http.MethodPost, "/v1/credentials", f.issuerA, req, nil)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || problemCode(t, b) != errcode.TooLarge {
			t.Errorf("sd %v: HTTP %d %s, want 413 too_large", sd, resp.StatusCode, b)
		}
	}
	// The next credential is issued normally.
	f.issue(f.issuerA, "did:web:acme.example", "ap")
}
