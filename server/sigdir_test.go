package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/httpsig"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/records"
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
	if _, _, err := c.get(context.Background(), l, now); err != nil {
		t.Fatal(err)
	}
	l.calls = 0
	_, _, _ = c.get(context.Background(), l, now.Add(sigDirTTL-time.Second))
	if l.calls != 0 {
		t.Fatal("rebuilt within the TTL")
	}
	_, _, _ = c.get(context.Background(), l, now.Add(sigDirTTL))
	if l.calls == 0 {
		t.Fatal("not rebuilt after the TTL")
	}
	l.err = errors.New("db down")
	if _, err := buildSigDir(context.Background(), l, now); err == nil {
		t.Fatal("a store failure must not give an empty directory")
	}
}

// TestSignaturesDirectoryAfterEveryStatusPath: a status change leaves the
// directory at once on this node whichever way it is made: the console's
// status form and kill switch, and an incident's resolution (API and
// console), as the API's status calls do.
func TestSignaturesDirectoryAfterEveryStatusPath(t *testing.T) {
	f := newStatusFixture(t)
	ctx := context.Background()
	form := f.issue(f.issuerA, "did:web:acme.example", "invoice-assistant")
	f.issue(f.issuerA, "did:web:acme.example", "bulk-class")
	viaAPI := f.issue(f.issuerA, "did:web:acme.example", "invoice-assistant")
	viaConsole := f.issue(f.issuerA, "did:web:acme.example", "invoice-assistant")
	for i, c := range []issued{viaAPI, viaConsole} {
		rec, err := f.store.Credential(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		in := store.Incident{ID: fmt.Sprintf("inc_000%d", i), State: records.IncidentOpen, Category: "misuse", Severity: "high", Description: "d",
			OccurredAt: time.Now().UTC(), RequestedAction: "revoke", Receipts: []string{"eyJ.receipt.x"}, Verifier: "did:web:shop.example",
			CredentialID: c.ID, Subject: rec.Subject, PrincipalID: "did:web:acme.example", ReporterTokenID: "tok_r", Reporter: "shop", CreatedAt: time.Now().UTC()}
		if err := f.store.CreateIncident(ctx, in, nil); err != nil {
			t.Fatal(err)
		}
	}
	listed := func() int {
		t.Helper()
		_, body := f.do(http.MethodGet, sigDirPath, "", nil, nil)
		return strings.Count(string(body), `"kid"`)
	}
	if n := listed(); n != 4 {
		t.Fatalf("before: %d keys listed, want 4", n)
	}
	b := newConsoleBrowser(t, f)
	b.mustSignin(f.auditor)
	b.get(credentialPath(form.ID))
	if resp, body := b.post(credentialPath(form.ID)+"/status", url.Values{"action": {"revoke"}, "reason": {"key_compromise"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("console revoke: %d %s", resp.StatusCode, body)
	}
	if n := listed(); n != 3 {
		t.Errorf("after a revocation in the console: %d keys listed, want 3", n)
	}
	if resp, body := b.post("/console/bulk", url.Values{"step": {"confirm"}, "expect": {"1"}, "action": {"suspend"}, "agent_class": {"bulk-class"}, "reason": {"other"}}); resp.StatusCode != http.StatusOK || !strings.Contains(body, "1 credentials changed") {
		t.Fatalf("console bulk: %d %s", resp.StatusCode, body)
	}
	if n := listed(); n != 2 {
		t.Errorf("after a bulk suspension in the console: %d keys listed, want 2", n)
	}
	if resp, body := f.do(http.MethodPost, "/v1/incidents/inc_0000/resolve", f.auditor, map[string]string{"decision": "suspend"}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("API resolve: %d %s", resp.StatusCode, body)
	}
	if n := listed(); n != 1 {
		t.Errorf("after an incident resolved through the API: %d keys listed, want 1", n)
	}
	b.get("/console/incidents/inc_0001")
	if resp, body := b.post("/console/incidents/inc_0001/resolve", url.Values{"decision": {"revoke"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("console resolve: %d %s", resp.StatusCode, body)
	}
	if n := listed(); n != 0 {
		t.Errorf("after an incident resolved in the console: %d keys listed, want 0", n)
	}
}

// listerStore is a store.Store whose only working method is Credentials.
type listerStore struct {
	store.Store
	l *stubLister
}

func (s listerStore) Credentials(ctx context.Context, f store.CredentialFilter) ([]store.Credential, error) {
	return s.l.Credentials(ctx, f)
}

// TestSignaturesDirectoryMaxAge: the directory may be cached only for what
// is left of the served copy's time, so that a key leaves every cache
// within sigDirTTL of its credential's revocation, not twice that.
func TestSignaturesDirectoryMaxAge(t *testing.T) {
	start := time.Unix(1_900_000_000, 0)
	now := start
	l := &stubLister{}
	l.recs = append(l.recs, store.Credential{ID: "a1", Subject: newDID(t, jwa.EdDSA), IssuedAt: start.Add(-time.Hour), ExpiresAt: start.Add(time.Hour)})
	s := &Server{store: listerStore{l: l}, now: func() time.Time { return now }, log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		at   time.Duration
		want string
	}{
		{0, "max-age=60"},
		{45*time.Second + 500*time.Millisecond, "max-age=14"},
		{sigDirTTL, "max-age=60"}, // rebuilt
	} {
		now = start.Add(tc.at)
		w := httptest.NewRecorder()
		s.signaturesDirectory(w, httptest.NewRequest(http.MethodGet, sigDirPath, nil))
		if w.Code != http.StatusOK || w.Header().Get("Cache-Control") != tc.want {
			t.Fatalf("at +%s: %d %q, want %q", tc.at, w.Code, w.Header().Get("Cache-Control"), tc.want)
		}
	}
	if l.calls != 2 {
		t.Fatalf("built %d times, want 2", l.calls)
	}
}

// TestSigDirBuildOutlivesItsRequest: the directory is built once for every
// request waiting on it, so the request that happens to build it going
// away (its context cancelled) does not fail the build (it was a logged
// 500 and a failure for everyone waiting).
func TestSigDirBuildOutlivesItsRequest(t *testing.T) {
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "agentcert.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var c sigDirCache
	if _, _, err := c.get(ctx, st, time.Now()); err != nil {
		t.Fatalf("a build asked for by a request that went away: %v", err)
	}
}
