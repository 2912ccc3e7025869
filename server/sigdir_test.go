package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

type sigDirJWKS struct {
	Keys []map[string]any `json:"keys"`
}

// TestSignaturesDirectoryHTTP: the directory lists the keys of agents with
// valid credentials, by thumbprint, and not those revoked or suspended.
func TestSignaturesDirectoryHTTP(t *testing.T) {
	f := newStatusFixture(t)
	a := f.issue(f.issuerA, "did:web:acme.example", "invoice-assistant")
	b := f.issue(f.issuerA, "did:web:acme.example", "invoice-assistant")
	c := f.issue(f.issuerA, "did:web:acme.example", "invoice-assistant")
	// Built (and cached) while all three are valid.
	if _, body := f.do(http.MethodGet, sigDirPath, "", nil, nil); strings.Count(string(body), `"kid"`) != 3 {
		t.Fatalf("before: %s", body)
	}
	if code, body := f.change(f.auditor, b.ID, "revoke", map[string]string{"reason": "key_compromise"}); code != 200 {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if code, body := f.change(f.auditor, c.ID, "suspend", map[string]string{"reason": "incident", "incident": "INC-1"}); code != 200 {
		t.Fatalf("suspend: %d %s", code, body)
	}
	resp, body := f.do(http.MethodGet, sigDirPath, "", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != sigDirMediaType || resp.Header.Get("Cache-Control") != "max-age=60" {
		t.Fatalf("%d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	var dir sigDirJWKS
	if err := json.Unmarshal(body, &dir); err != nil {
		t.Fatal(err)
	}
	rec, err := f.store.Credential(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := thumbprintOf(t, rec.Subject)
	if len(dir.Keys) != 1 || dir.Keys[0]["kid"] != want || dir.Keys[0]["use"] != "sig" {
		t.Fatalf("directory %s, want only %s", body, want)
	}
	if _, hasD := dir.Keys[0]["d"]; hasD {
		t.Fatal("a private member in the directory")
	}
	// The listed key is a usable JWK whose thumbprint is its kid.
	raw, _ := json.Marshal(dir.Keys[0])
	k, err := jwk.ParseKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	if tp, _ := httpsig.Thumbprint(k); tp != want {
		t.Fatalf("kid %s is not the key's thumbprint %s", want, tp)
	}
}

func thumbprintOf(t *testing.T, sub string) string {
	t.Helper()
	k, err := did.PublicKey(sub)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := httpsig.Thumbprint(k)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

type stubLister struct {
	recs  []store.Credential
	calls int
	err   error
}

func (s *stubLister) Credentials(_ context.Context, f store.CredentialFilter) ([]store.Credential, error) {
	s.calls++
	if s.err != nil {
		return nil, s.err
	}
	var out []store.Credential
	for _, r := range s.recs {
		if r.ID > f.AfterID && (f.Status == nil || r.Status == *f.Status) && len(out) < f.Limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func newDID(t *testing.T, alg jwa.SignatureAlgorithm) string {
	k, _ := keyutil.Generate(alg)
	pub, _ := keyutil.Public(k)
	d, err := did.KeyDID(pub)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestBuildSigDir: expired credentials and did:web subjects are left out,
// an agent with several credentials is listed once spanning them, and the
// store is read page by page.
func TestBuildSigDir(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	ed, p256 := newDID(t, jwa.EdDSA), newDID(t, jwa.ES256)
	l := &stubLister{}
	add := func(id, sub string, issued, exp time.Time) {
		l.recs = append(l.recs, store.Credential{ID: id, Subject: sub, IssuedAt: issued, ExpiresAt: exp})
	}
	add("a1", ed, now.Add(-2*time.Hour), now.Add(time.Hour))
	add("a2", ed, now.Add(-time.Hour), now.Add(3*time.Hour))
	add("b1", p256, now.Add(-time.Hour), now.Add(-time.Second)) // expired
	add("c1", "did:web:agent.example", now.Add(-time.Hour), now.Add(time.Hour))
	for i := 0; i < store.MaxLimit; i++ { // a second page
		add(fmt.Sprintf("d%05d", i), ed, now.Add(-time.Hour), now.Add(time.Hour))
	}
	b, err := buildSigDir(context.Background(), l, now)
	if err != nil {
		t.Fatal(err)
	}
	var dir sigDirJWKS
	_ = json.Unmarshal(b, &dir)
	if len(dir.Keys) != 1 || dir.Keys[0]["kid"] != thumbprintOf(t, ed) {
		t.Fatalf("%s", b)
	}
	if dir.Keys[0]["nbf"] != float64(now.Add(-2*time.Hour).Unix()) || dir.Keys[0]["exp"] != float64(now.Add(3*time.Hour).Unix()) {
		t.Fatalf("nbf/exp %v %v", dir.Keys[0]["nbf"], dir.Keys[0]["exp"])
	}
	if l.calls != 2 {
		t.Fatalf("%d pages read", l.calls)
	}
	// Cached for sigDirTTL, then rebuilt.
	var c sigDirCache
	if _, err := c.get(context.Background(), l, now); err != nil {
		t.Fatal(err)
	}
	l.calls = 0
	_, _ = c.get(context.Background(), l, now.Add(sigDirTTL-time.Second))
	if l.calls != 0 {
		t.Fatal("rebuilt within the TTL")
	}
	_, _ = c.get(context.Background(), l, now.Add(sigDirTTL))
	if l.calls == 0 {
		t.Fatal("not rebuilt after the TTL")
	}
	l.err = errors.New("db down")
	if _, err := buildSigDir(context.Background(), l, now); err == nil {
		t.Fatal("a store failure must not give an empty directory")
	}
}
