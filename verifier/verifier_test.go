package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/schemas"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

func TestNonces(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	old := []byte("old-secret-0123456789")
	cur := []byte("new-secret-0123456789")
	// Replicas share one spent-nonce store (in production one that
	// outlives them, such as Redis).
	shared := NewMemorySpentStore(0, clock)
	a, err := NewNonces([][]byte{old}, time.Minute, clock, WithSpentStore(shared))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewNonces([][]byte{cur, old}, time.Minute, clock, WithSpentStore(shared)) // rotated replica
	n, exp, err := a.Issue()
	if err != nil || !exp.Equal(now.Add(time.Minute)) {
		t.Fatalf("issue: %v %v", exp, err)
	}
	if err := b.Check(ctx, n); err != nil {
		t.Fatalf("a nonce signed with the old secret must verify on a rotated replica: %v", err)
	}
	if c := errcode.CodeOf(b.Check(ctx, n)); c != errcode.NonceReplayed {
		t.Fatalf("replay on one replica: %s", c)
	}
	nb, _, _ := b.Issue()
	if c := errcode.CodeOf(a.Check(ctx, nb)); c != errcode.NonceInvalid {
		t.Fatalf("a nonce under a secret a does not know: %s", c)
	}
	tampered := []byte(nb)
	tampered[3] ^= 1
	for _, bad := range []string{"", "x", "a.b", string(tampered), nb + "x", strings.SplitN(nb, ".", 2)[0]} {
		if c := errcode.CodeOf(b.Check(ctx, bad)); c != errcode.NonceInvalid {
			t.Errorf("Check(%q) = %s, want nonce_invalid", bad, c)
		}
	}
	n2, _, _ := a.Issue()
	now = now.Add(time.Minute)
	if c := errcode.CodeOf(a.Check(ctx, n2)); c != errcode.NonceExpired {
		t.Fatalf("expired: %s", c)
	}
	if _, err := NewNonces([][]byte{[]byte("short")}, time.Minute, nil); err == nil {
		t.Fatal("short secret accepted")
	}
	if _, err := NewNonces(nil, 0, nil); err == nil {
		t.Fatal("zero ttl accepted")
	}
}

func TestNonceReplayCacheIsBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	n, _ := NewNonces(nil, time.Minute, clock, WithSpentStore(NewMemorySpentStore(2, clock)))
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		v, _, _ := n.Issue()
		if err := n.Check(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	v, _, _ := n.Issue()
	if c := errcode.CodeOf(n.Check(ctx, v)); c != errcode.RateLimited {
		t.Fatalf("full cache of live nonces: %s, want rate_limited (fail closed)", c)
	}
	now = now.Add(2 * time.Minute)
	v, _, _ = n.Issue()
	if err := n.Check(ctx, v); err != nil {
		t.Fatalf("expired entries must be purged to make room: %v", err)
	}
}

func TestMetadataURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://issuer.example":          "https://issuer.example/.well-known/jwt-vc-issuer",
		"https://issuer.example/":         "https://issuer.example/.well-known/jwt-vc-issuer",
		"https://issuer.example/tenant/1": "https://issuer.example/.well-known/jwt-vc-issuer/tenant/1",
	} {
		if got, err := MetadataURL(in); err != nil || got != want {
			t.Errorf("MetadataURL(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"http://issuer.example", "https://", "https://x.example/?q=1", "did:web:x"} {
		if _, err := MetadataURL(bad); errcode.CodeOf(err) != errcode.UntrustedIssuer {
			t.Errorf("MetadataURL(%q) accepted", bad)
		}
	}
}

// httpsFixture issues a credential from an https issuer whose metadata the
// fake fetcher serves.
func httpsFixture(t *testing.T, metadata func(pub jwk.Key) any) (*Verifier, Request, *int) {
	t.Helper()
	const iss = "https://issuer.example"
	k, _ := keyutil.Generate(jwa.ES256)
	_ = k.Set(jwk.KeyIDKey, "k1")
	pub, _ := keyutil.Public(k)
	agent, _ := keyutil.Generate(jwa.EdDSA)
	cnf := testkeys.PublicJWK(t, agent)
	now := time.Now()
	cred, err := sdjwt.Issue(map[string]any{
		"iss": iss, "vct": "urn:x", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "cnf": map[string]any{"jwk": cnf},
		"principal": map[string]any{"id": "p1"}, "permissions": []any{map[string]any{"action": "a:b"}},
	}, []string{"/principal", "/permissions/*"}, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	pres, err := sdjwt.Present(cred, []string{"/permissions/0"}, &sdjwt.KBOptions{Key: agent, Audience: "aud", Nonce: "n"})
	if err != nil {
		t.Fatal(err)
	}
	fetches := 0
	p := DefaultPolicy()
	p.Trusted[iss] = []string{"urn:x"}
	p.CheckStatus = false
	v, err := New(p, WithResolver(did.NewResolver(nil)), WithFetch(func(_ context.Context, url, _ string, _ int64) ([]byte, error) {
		fetches++
		if url != "https://issuer.example/.well-known/jwt-vc-issuer" {
			return nil, errors.New("unexpected fetch of " + url)
		}
		return json.Marshal(metadata(pub))
	}))
	if err != nil {
		t.Fatal(err)
	}
	return v, Request{Presentation: pres, Audience: "aud", Nonce: "n"}, &fetches
}

func TestHTTPSIssuerMetadata(t *testing.T) {
	v, req, fetches := httpsFixture(t, func(pub jwk.Key) any {
		set := jwk.NewSet()
		_ = set.AddKey(pub)
		return map[string]any{"issuer": "https://issuer.example", "jwks": set}
	})
	for i := 0; i < 3; i++ {
		if r := v.Verify(context.Background(), req); !r.Verified {
			t.Fatalf("https issuer: %+v", r.Error)
		}
	}
	if *fetches != 1 {
		t.Fatalf("metadata fetched %d times, want 1 (cached)", *fetches)
	}
	if r := v.Verify(context.Background(), req); r.Status.Checked || r.Decision != nil {
		t.Fatalf("status off and no action: %+v", r)
	}

	v, req, _ = httpsFixture(t, func(pub jwk.Key) any {
		set := jwk.NewSet()
		_ = set.AddKey(pub)
		return map[string]any{"issuer": "https://evil.example", "jwks": set}
	})
	if r := v.Verify(context.Background(), req); r.Verified || r.Code() != errcode.KeyNotFound {
		t.Fatalf("metadata naming another issuer: %+v", r.Error)
	}
	v, req, _ = httpsFixture(t, func(jwk.Key) any {
		other, _ := keyutil.Generate(jwa.ES256)
		_ = other.Set(jwk.KeyIDKey, "k2")
		opub, _ := keyutil.Public(other)
		set := jwk.NewSet()
		_ = set.AddKey(opub)
		return map[string]any{"issuer": "https://issuer.example", "jwks": set}
	})
	if r := v.Verify(context.Background(), req); r.Verified || r.Code() != errcode.KeyNotFound {
		t.Fatalf("kid not published: %+v", r.Error)
	}
}

func TestPolicyChecks(t *testing.T) {
	v, req, _ := httpsFixture(t, func(pub jwk.Key) any {
		set := jwk.NewSet()
		_ = set.AddKey(pub)
		return map[string]any{"issuer": "https://issuer.example", "jwks": set}
	})
	v.p.RequiredClaims = []string{"/principal/id"}
	if r := v.Verify(context.Background(), req); r.Verified || r.Code() != errcode.ClaimNotDisclosed {
		t.Fatalf("undisclosed required claim: %+v", r.Error)
	}
	v.p.RequiredClaims = []string{"/permissions/0/action"}
	if r := v.Verify(context.Background(), req); !r.Verified {
		t.Fatalf("disclosed required claim: %+v", r.Error)
	}
	v.p.Trusted["https://issuer.example"] = []string{"urn:other"}
	if r := v.Verify(context.Background(), req); r.Verified || r.Code() != errcode.UntrustedIssuer {
		t.Fatalf("issuer trusted for another vct only: %+v", r.Error)
	}
	v.p.Trusted["https://issuer.example"] = []string{AnyVCT}
	if r := v.Verify(context.Background(), req); !r.Verified {
		t.Fatalf("AnyVCT: %+v", r.Error)
	}
	req.Audience = ""
	if r := v.Verify(context.Background(), req); r.Verified || r.Code() != errcode.InvalidInput {
		t.Fatalf("no audience: %+v", r.Error)
	}
}

func TestRequiredClaimsMustBeJSONPointers(t *testing.T) {
	p := DefaultPolicy()
	for _, bad := range []string{"a", "/a~2", "/~"} {
		p.RequiredClaims = []string{"/ok", bad}
		_, err := New(p, WithResolver(did.NewResolver(nil)), WithFetch(func(context.Context, string, string, int64) ([]byte, error) { return nil, nil }))
		if errcode.CodeOf(err) != errcode.InvalidInput {
			t.Errorf("New with required claim %q: %v, want invalid_input", bad, err)
		}
	}
}

func TestDIDIssuerKeysAreCached(t *testing.T) {
	iss, issDID := testkeys.DIDKey(t, jwa.ES256)
	now := time.Now()
	cred, err := sdjwt.Issue(map[string]any{"iss": issDID, "vct": "urn:x", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}, nil, iss, nil)
	if err != nil {
		t.Fatal(err)
	}
	resolves := 0
	p := DefaultPolicy()
	p.Trusted[issDID] = []string{"urn:x"}
	p.RequireKB, p.CheckStatus = false, false
	clock := now
	v, err := New(p,
		WithResolver(did.ResolverFunc(func(_ context.Context, id string) (*did.Document, error) {
			resolves++
			return did.DocumentFor(id)
		})),
		WithFetch(func(context.Context, string, string, int64) ([]byte, error) { return nil, errors.New("no fetch") }),
		WithClock(func() time.Time { return clock }),
		WithCache(time.Minute, 0),
	)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if r := v.Verify(context.Background(), Request{Presentation: cred}); !r.Verified {
			t.Fatal(r.Error)
		}
	}
	if resolves != 1 {
		t.Fatalf("resolved %d times for 3 verifications, want 1 (parsed key cached)", resolves)
	}
	clock = clock.Add(2 * time.Minute)
	if r := v.Verify(context.Background(), Request{Presentation: cred}); !r.Verified || resolves != 2 {
		t.Fatalf("after the cache ttl the key must be resolved again: %d resolves, %v", resolves, r.Error)
	}
}

// TestWithheldRestrictions: a holder cannot widen what it may do by not
// disclosing its prohibitions or its status reference.
func TestWithheldRestrictions(t *testing.T) {
	iss, issDID := testkeys.DIDKey(t, jwa.ES256)
	now := time.Now()
	claims := func() map[string]any {
		return map[string]any{
			"iss": issDID, "vct": schemas.AgentCertificationV1, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"permissions":  []any{map[string]any{"action": "payments:*", "constraints": map[string]any{"max_amount": 10, "currency": "EUR"}}},
			"prohibitions": []any{"payments:initiate"},
			"task":         nil, // stated in clear: not scoped to a task
			"status":       map[string]any{"status_list": map[string]any{"idx": 1, "uri": "https://issuer.example/statuslists/1"}},
		}
	}
	p := DefaultPolicy()
	p.Trusted[issDID] = []string{schemas.AgentCertificationV1}
	p.RequireKB = false
	fetched := 0
	v, err := New(p, WithResolver(did.NewResolver(nil)), WithFetch(func(context.Context, string, string, int64) ([]byte, error) {
		fetched++
		return nil, errors.New("no status list in this test")
	}))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		sd, disclose []string
		code         errcode.Code
	}{
		"prohibitions withheld":          {[]string{"/prohibitions"}, nil, errcode.MissingClaim},
		"prohibitions disclosed but SD":  {[]string{"/prohibitions"}, []string{""}, errcode.MissingClaim},
		"a prohibition element withheld": {[]string{"/prohibitions/*"}, nil, errcode.MissingClaim},
		"status withheld":                {[]string{"/status"}, nil, errcode.StatusInvalid},
		"a permission's constraints SD":  {[]string{"/permissions/*", "/permissions/0/constraints"}, []string{"/permissions/0"}, errcode.MissingClaim},
	} {
		t.Run(name, func(t *testing.T) {
			cred, err := sdjwt.Issue(claims(), tc.sd, iss, nil)
			if err != nil {
				t.Fatal(err)
			}
			pres, err := sdjwt.Present(cred, tc.disclose, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := v.Verify(context.Background(), Request{Presentation: pres, Action: "payments:initiate"})
			if r.Verified || r.Code() != tc.code {
				t.Fatalf("got verified=%v %+v, want %s", r.Verified, r.Error, tc.code)
			}
		})
	}
	if fetched != 0 {
		t.Fatalf("a credential refused before its status check fetched %d status lists", fetched)
	}
}

// TestNonceSpentOnlyOnSuccess: a single-use nonce survives a tampered copy
// of the presentation and a passing status outage, and is spent by the
// first presentation that verifies.
func TestNonceSpentOnlyOnSuccess(t *testing.T) {
	iss, issDID := testkeys.DIDKey(t, jwa.ES256)
	agent, _ := keyutil.Generate(jwa.EdDSA)
	cnf := testkeys.PublicJWK(t, agent)
	now := time.Now()
	const uri = "https://issuer.example/statuslists/1"
	cred, err := sdjwt.Issue(map[string]any{
		"iss": issDID, "vct": "urn:x", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "cnf": map[string]any{"jwk": cnf},
		"status":      map[string]any{"status_list": map[string]any{"idx": 3, "uri": uri}},
		"permissions": []any{map[string]any{"action": "a:b"}, map[string]any{"action": "c:d"}},
	}, []string{"/permissions/*"}, iss, nil)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := revocation.NewList(131072, 2)
	tok, _ := revocation.SignToken(list, revocation.TokenClaims{Subject: uri, Issuer: issDID, IssuedAt: now, Expires: now.Add(time.Hour), TTL: time.Minute}, iss)
	outage := true
	nonces, _ := NewNonces(nil, time.Minute, nil)
	p := DefaultPolicy()
	p.Trusted[issDID] = []string{"urn:x"}
	p.RequireNonce = true
	p.MaxStatusAge = 0
	v, err := New(p, WithResolver(did.NewResolver(nil)), WithNonces(nonces), WithFetch(func(context.Context, string, string, int64) ([]byte, error) {
		if outage {
			return nil, errcode.New(errcode.FetchFailed, "down")
		}
		return []byte(tok), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	n, _, _ := nonces.Issue()
	pres, err := sdjwt.Present(cred, []string{""}, &sdjwt.KBOptions{Key: agent, Audience: "aud", Nonce: n})
	if err != nil {
		t.Fatal(err)
	}
	// A copy with one disclosure dropped: sd_hash no longer matches.
	parts := strings.Split(pres, "~")
	tampered := strings.Join(append(parts[:1:1], parts[2:]...), "~")
	verify := func(p string) errcode.Code {
		r := v.Verify(context.Background(), Request{Presentation: p, Audience: "aud"})
		if r.Verified {
			return ""
		}
		return r.Code()
	}
	if c := verify(tampered); c != errcode.KBSDHashMismatch {
		t.Fatalf("tampered copy: %s", c)
	}
	if c := verify(pres); c != errcode.StatusUnavailable {
		t.Fatalf("during the outage: %s", c)
	}
	outage = false
	if c := verify(pres); c != "" {
		t.Fatalf("the nonce must still be usable after a tampered copy and an outage: %s", c)
	}
	if c := verify(pres); c != errcode.NonceReplayed {
		t.Fatalf("second use: %s", c)
	}
}
