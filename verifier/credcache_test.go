package verifier

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentcert/agentcert/did"
	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/testkeys"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/internal/ttlcache"
	"github.com/agentcert/agentcert/revocation"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

const (
	fixtureStatusURI = "https://issuer.example/statuslists/1"
	revokedIdx       = 7 // revoked in the fixture's list from the start
)

// vcFixture is a did:key issuer whose agent certifications carry a status
// reference into one list served from memory, a verifier that trusts it,
// and a clock the test moves.
type vcFixture struct {
	t        testing.TB
	v        *Verifier
	alg      jwa.SignatureAlgorithm
	issKey   jwk.Key
	issDID   string
	agentKey jwk.Key
	agentDID string

	clk   *testkit.Clock
	mu    sync.Mutex
	list  *revocation.List
	token string
}

func newVCFixture(tb testing.TB, alg jwa.SignatureAlgorithm, opts ...Option) *vcFixture {
	tb.Helper()
	f := &vcFixture{t: tb, alg: alg, clk: testkit.NewClock(time.Now())}
	f.issKey, f.issDID = testkeys.DIDKey(tb, alg)
	f.agentKey, f.agentDID = testkeys.DIDKey(tb, alg)
	f.list, _ = revocation.NewList(131072, 2)
	if err := f.list.Set(revokedIdx, 1); err != nil {
		tb.Fatal(err)
	}
	f.sign()
	p := DefaultPolicy()
	p.Trusted[f.issDID] = []string{"urn:agentcert:agent-certification:v1"}
	p.MaxStatusAge = time.Hour
	v, err := New(p, append([]Option{
		WithClock(f.clk.Now),
		WithCache(time.Hour, 64),
		WithResolver(did.NewCachingResolver(did.NewResolver(nil), time.Hour, 16, f.clk.Now)),
		WithFetch(func(context.Context, string, string, int64) ([]byte, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return []byte(f.token), nil
		}),
	}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	f.v = v
	return f
}

// sign re-signs the status list token as of now.
func (f *vcFixture) sign() {
	tok, err := revocation.SignToken(f.list, revocation.TokenClaims{Subject: fixtureStatusURI, Issuer: f.issDID, IssuedAt: f.clk.Now(), Expires: f.clk.Now().Add(24 * time.Hour), TTL: 24 * time.Hour}, f.issKey)
	if err != nil {
		f.t.Fatal(err)
	}
	f.token = tok
}

// verify2 presents cred bound to another audience.
func (f *vcFixture) verify2(cred, nonce, aud string) string {
	f.t.Helper()
	pres, err := sdjwt.Present(cred, []string{"/permissions/0"}, &sdjwt.KBOptions{Key: f.agentKey, Audience: aud, Nonce: nonce, IssuedAt: f.clk.Now()})
	if err != nil {
		f.t.Fatal(err)
	}
	return pres
}

// dropFirstDisclosure removes the first disclosure of a bound presentation.
func dropFirstDisclosure(pres string) string {
	jwt, rest, _ := strings.Cut(pres, "~")
	_, rest, _ = strings.Cut(rest, "~")
	return jwt + "~" + rest
}

// credential issues an agent certification with status index idx and
// five selectively disclosable permissions res0:read ... res4:read.
func (f *vcFixture) credential(idx int, ttl time.Duration) string {
	f.t.Helper()
	cnf := testkeys.PublicJWK(f.t, f.agentKey)
	perms := []any{}
	for i := 0; i < 5; i++ {
		perms = append(perms, map[string]any{"action": fmt.Sprintf("res%d:read", i)})
	}
	now := f.clk.Now()
	claims := map[string]any{
		"iss": f.issDID, "sub": f.agentDID, "vct": "urn:agentcert:agent-certification:v1", "iat": now.Unix(), "exp": now.Add(ttl).Unix(),
		"cnf": map[string]any{"jwk": cnf}, "status": map[string]any{"status_list": map[string]any{"idx": idx, "uri": fixtureStatusURI}},
		"principal": map[string]any{"id": "did:web:acme.example", "name": "ACME", "type": "organization"},
		"agent":     map[string]any{"class": "ap", "version": "1"}, "permissions": perms, "prohibitions": []any{"payments:initiate"}, "autonomy": "supervised",
	}
	cred, err := sdjwt.Issue(claims, []string{"/permissions/*"}, f.issKey, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return cred
}

// present discloses the first two permissions, bound to aud/nonce with key.
func (f *vcFixture) present(cred string, key jwk.Key, nonce string) string {
	f.t.Helper()
	pres, err := sdjwt.Present(cred, []string{"/permissions/0", "/permissions/1"}, &sdjwt.KBOptions{Key: key, Audience: "aud", Nonce: nonce, IssuedAt: f.clk.Now()})
	if err != nil {
		f.t.Fatal(err)
	}
	return pres
}

func (f *vcFixture) verify(pres, nonce, action string) *Result {
	return f.v.Verify(context.Background(), Request{Presentation: pres, Audience: "aud", Nonce: nonce, Action: action})
}

// TestCredentialCacheEveryCheckRunsOnAHit: a repeat presentation of a
// credential hits the verified-credential cache, and each check other than
// the issuer signature still refuses what it refuses on a miss.
func TestCredentialCacheEveryCheckRunsOnAHit(t *testing.T) {
	f := newVCFixture(t, jwa.ES256)
	cred := f.credential(42, time.Hour)
	if r := f.verify(f.present(cred, f.agentKey, "n0"), "n0", "res0:read"); !r.Allowed() {
		t.Fatalf("first presentation: %+v", r.Error)
	}
	if s := f.v.CredentialCacheStats(); s.Hits != 0 || s.Misses != 1 {
		t.Fatalf("after the first presentation: %+v", s)
	}
	hits := int64(0)
	expectHit := func(t *testing.T) {
		t.Helper()
		hits++
		if s := f.v.CredentialCacheStats(); s.Hits != hits {
			t.Fatalf("cache hits %d, want %d (%+v)", s.Hits, hits, s)
		}
	}

	t.Run("repeat presentation verifies on a hit", func(t *testing.T) {
		if r := f.verify(f.present(cred, f.agentKey, "n1"), "n1", "res1:read"); !r.Allowed() {
			t.Fatalf("%+v", r.Error)
		}
		expectHit(t)
	})
	other, _ := testkeys.DIDKey(t, jwa.ES256)
	for _, tc := range []struct {
		name, pres, nonce string
		want              errcode.Code
	}{
		{"KB-JWT signed by another key", f.present(cred, other, "n2"), "n2", errcode.KBBadSignature},
		{"KB-JWT nonce", f.present(cred, f.agentKey, "n3"), "other", errcode.KBWrongNonce},
		{"KB-JWT audience", f.verify2(cred, "n4", "other-aud"), "n4", errcode.KBWrongAudience},
		{"a disclosure dropped after binding", dropFirstDisclosure(f.present(cred, f.agentKey, "n4b")), "n4b", errcode.KBSDHashMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := f.verify(tc.pres, tc.nonce, ""); r.Verified || r.Code() != tc.want {
				t.Fatalf("verified %v, code %s, want %s", r.Verified, r.Code(), tc.want)
			}
			expectHit(t)
		})
	}
	t.Run("an added disclosure with a matching KB-JWT", func(t *testing.T) {
		// The holder itself appends a disclosure the issuer never made and
		// signs the KB-JWT over it: the disclosure check refuses it.
		base, _ := sdjwt.Present(cred, []string{"/permissions/0"}, nil)
		forged := base + base64.RawURLEncoding.EncodeToString([]byte(`["c2FsdHNhbHRzYWx0","extra",1]`)) + "~"
		pres, err := sdjwt.AddKeyBinding(forged, &sdjwt.KBOptions{Key: f.agentKey, Audience: "aud", Nonce: "n5", IssuedAt: f.clk.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if r := f.verify(pres, "n5", ""); r.Verified || r.Code() != errcode.DisclosureNotReferenced {
			t.Fatalf("verified %v, code %s", r.Verified, r.Code())
		}
		expectHit(t)
	})
	t.Run("authorization", func(t *testing.T) {
		r := f.verify(f.present(cred, f.agentKey, "n6"), "n6", "payments:initiate")
		if !r.Verified || r.Allowed() || r.Decision == nil || r.Decision.Code != errcode.ActionProhibited {
			t.Fatalf("decision %+v", r.Decision)
		}
		expectHit(t)
	})
	t.Run("a signature rewritten is a miss and is checked", func(t *testing.T) {
		pres := f.present(cred, f.agentKey, "n7")
		jwt, rest, _ := strings.Cut(pres, "~")
		i := strings.LastIndexByte(jwt, '.')
		sig := []byte(jwt[i+1:])
		if sig[5] == 'A' {
			sig[5] = 'B'
		} else {
			sig[5] = 'A'
		}
		r := f.verify(jwt[:i+1]+string(sig)+"~"+rest, "n7", "")
		if r.Verified || r.Code() != errcode.BadSignature {
			t.Fatalf("verified %v, code %s", r.Verified, r.Code())
		}
		if s := f.v.CredentialCacheStats(); s.Hits != hits {
			t.Fatalf("a rewritten signature hit the cache: %+v", s)
		}
	})
	t.Run("status", func(t *testing.T) {
		revoked := f.credential(revokedIdx, time.Hour)
		if r := f.verify(f.present(revoked, f.agentKey, "s1"), "s1", ""); r.Code() != errcode.Revoked {
			t.Fatalf("first: %s", r.Code())
		}
		hitsBefore := f.v.CredentialCacheStats().Hits
		if r := f.verify(f.present(revoked, f.agentKey, "s2"), "s2", ""); r.Verified || r.Code() != errcode.Revoked {
			t.Fatalf("repeat of a revoked credential: verified %v, %s", r.Verified, r.Code())
		}
		if f.v.CredentialCacheStats().Hits != hitsBefore+1 {
			t.Fatal("the repeat did not hit the cache")
		}
		hits = f.v.CredentialCacheStats().Hits
	})
	t.Run("expiry", func(t *testing.T) {
		short := f.credential(9, time.Minute)
		if r := f.verify(f.present(short, f.agentKey, "e1"), "e1", ""); !r.Verified {
			t.Fatalf("%+v", r.Error)
		}
		f.clk.Advance(2 * time.Minute)
		if r := f.verify(f.present(short, f.agentKey, "e2"), "e2", ""); r.Verified || r.Code() != errcode.Expired {
			t.Fatalf("expired credential on a hit: verified %v, %s", r.Verified, r.Code())
		}
	})
}

// TestCredentialCacheDiesWithItsKey: a hit counts only while the issuer key
// lookup returns the key the entry was verified with. The same key read
// anew (a fresh object, as a re-read DID document or the local issuer
// gives) still hits; another key (rotation, a key cache poisoned or
// replaced) is a miss, and the signature is checked against it.
func TestCredentialCacheDiesWithItsKey(t *testing.T) {
	f := newVCFixture(t, jwa.EdDSA)
	cred := f.credential(1, 24*time.Hour)
	for i, n := range []string{"a", "b"} {
		if r := f.verify(f.present(cred, f.agentKey, n), n, ""); !r.Verified {
			t.Fatalf("%d: %+v", i, r.Error)
		}
	}
	if s := f.v.CredentialCacheStats(); s.Hits != 1 || s.Misses != 1 {
		t.Fatalf("%+v", s)
	}
	// The issuer key is read anew: the same public key, another object.
	f.v.keys = ttlcache.New[jwk.Key](64, f.clk.Now)
	f.v.s.resolver = did.NewCachingResolver(did.NewResolver(nil), time.Hour, 16, f.clk.Now)
	if r := f.verify(f.present(cred, f.agentKey, "c"), "c", ""); !r.Verified {
		t.Fatalf("%+v", r.Error)
	}
	if s := f.v.CredentialCacheStats(); s.Hits != 2 || s.Misses != 1 {
		t.Fatalf("the same key read anew: %+v, want a hit", s)
	}
	// The lookup now returns another key for the issuer's kid.
	other, _ := testkeys.DIDKey(t, jwa.EdDSA)
	otherPub, _ := keyutil.Public(other)
	tok, _ := sdjwt.Parse(cred, sdjwt.Limits{})
	kid, _ := tok.UnverifiedHeader()["kid"].(string)
	f.v.keys.Put(f.issDID+"\x00"+kid, otherPub, f.clk.Now().Add(time.Hour))
	if r := f.verify(f.present(cred, f.agentKey, "d"), "d", ""); r.Verified || r.Code() != errcode.BadSignature {
		t.Fatalf("another issuer key: verified %v, %s; want bad_signature", r.Verified, r.Code())
	}
	if s := f.v.CredentialCacheStats(); s.Hits != 2 || s.Misses != 2 {
		t.Fatalf("another issuer key: %+v, want a miss", s)
	}

	// Without the cache every presentation is a miss and nothing is counted.
	g := newVCFixture(t, jwa.EdDSA, WithoutCredentialCache())
	cred = g.credential(1, time.Hour)
	for _, n := range []string{"a", "b"} {
		if r := g.verify(g.present(cred, g.agentKey, n), n, ""); !r.Verified {
			t.Fatal(r.Error)
		}
	}
	if s := g.v.CredentialCacheStats(); s != (CacheStats{}) {
		t.Fatalf("cache off: %+v", s)
	}
}
