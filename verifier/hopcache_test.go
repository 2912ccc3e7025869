package verifier

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/sdjwt"
)

// present adds the final KB-JWT of delegate i to a dSD-JWT.
func (e *chainEnv) present(chain string, i int, nonce string) string {
	e.t.Helper()
	out, err := sdjwt.PresentChain(chain, nil, &sdjwt.KBOptions{Key: e.keys[i], Audience: chainAud, Nonce: nonce, IssuedAt: e.now})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// wantStats fails unless the hop schema cache counted hits and misses
// since before.
func wantStats(t *testing.T, v *Verifier, before CacheStats, hits, misses int64, what string) CacheStats {
	t.Helper()
	got := v.HopSchemaCacheStats()
	if got.Hits-before.Hits != hits || got.Misses-before.Misses != misses {
		t.Fatalf("%s: %d hits and %d misses, want %d and %d", what, got.Hits-before.Hits, got.Misses-before.Misses, hits, misses)
	}
	return got
}

// TestHopSchemaCacheRepeatsSkipOnlyTheSchema: a delegate presenting the
// same chain again, with a fresh KB-JWT, skips the schema validation of
// its hops (a hit per hop), and nothing else: the same hop bytes are still
// refused whenever a check that depends on the presentation, the parent,
// the policy or the time fails.
func TestHopSchemaCacheRepeatsSkipOnlyTheSchema(t *testing.T) {
	e := newChainEnv(t, 2)
	pay := map[string]any{"amount": 150, "currency": "EUR"}
	s := e.chain(e.hop(1), e.hop(2))
	if r := e.verify(s, "payments:initiate", pay); !r.Allowed() {
		t.Fatal(r.Error)
	}
	st := wantStats(t, e.v, CacheStats{}, 0, 2, "first presentation")
	dsd := s[:strings.LastIndexByte(s, '~')+1]
	if r := e.v.Verify(context.Background(), Request{Presentation: e.present(dsd, 2, "n-8"), Audience: chainAud, Nonce: "n-8", Action: "payments:initiate", Attributes: pay}); !r.Allowed() {
		t.Fatal(r.Error)
	}
	st = wantStats(t, e.v, st, 2, 0, "the same chain with a fresh KB-JWT")

	// One hop to delegate 1 with fixed disclosure bytes, verified once.
	hop := e.signedHop(e.root, e.hop(1), e.keys[0], "salt-cache")
	if r := e.verify(e.present(hop, 1, "n-7"), "payments:initiate", pay); !r.Allowed() {
		t.Fatal(r.Error)
	}
	st = wantStats(t, e.v, st, 0, 1, "a new hop")
	// The same payload with another salt is other bytes: a miss.
	if r := e.verify(e.present(e.signedHop(e.root, e.hop(1), e.keys[0], "salt-other"), 1, "n-7"), "payments:initiate", pay); !r.Allowed() {
		t.Fatal(r.Error)
	}
	st = wantStats(t, e.v, st, 0, 1, "another salt")

	refused := func(name, pres string, want errcode.Code, hits int64) {
		t.Helper()
		r := e.verify(pres, "payments:initiate", pay)
		if r.Verified || r.Code() != want {
			t.Fatalf("%s: verified=%v %+v, want %s", name, r.Verified, r.Error, want)
		}
		st = wantStats(t, e.v, st, hits, 0, name)
	}
	// The same hop bytes under a root that ends sooner, or grants less.
	short := e.rootClaims()
	short["exp"] = e.now.Add(10 * time.Minute).Unix()
	refused("a parent ending before the hop", e.present(e.signedHop(e.issueRoot(short), e.hop(1), e.keys[0], "salt-cache"), 1, "n-7"), errcode.DelegationOutlivesParent, 1)
	narrow := e.rootClaims()
	narrow["permissions"].([]any)[1].(map[string]any)["constraints"] = map[string]any{"max_amount": 100, "currency": "EUR"}
	refused("a parent granting less", e.present(e.signedHop(e.issueRoot(narrow), e.hop(1), e.keys[0], "salt-cache"), 1, "n-7"), errcode.DelegationWidened, 1)
	noProhib := e.rootClaims()
	noProhib["prohibitions"] = []any{"payments:approve", "invoices:read"}
	refused("a parent prohibiting more", e.present(e.signedHop(e.issueRoot(noProhib), e.hop(1), e.keys[0], "salt-cache"), 1, "n-7"), errcode.DelegationWidened, 1)
	// A policy with a shorter maximum lifetime.
	e.v.p.MaxDelegationLifetime = 10 * time.Minute
	refused("a shorter policy lifetime", e.present(hop, 1, "n-7"), errcode.DelegationLifetime, 1)
	e.v.p.MaxDelegationLifetime = 0
	// Checks before the lookup: the signature, the link, the final KB-JWT, the times.
	pres := e.present(hop, 1, "n-7")
	sig := strings.Split(strings.Split(pres, "~~")[1], "~")[0]
	sig = sig[strings.LastIndexByte(sig, '.')+1:]
	c := byte('A')
	if sig[len(sig)/2] == 'A' {
		c = 'B'
	}
	flipped := sig[:len(sig)/2] + string(c) + sig[len(sig)/2+1:]
	refused("a hop signature changed", strings.Replace(pres, sig, flipped, 1), errcode.DelegationBadSignature, 0)
	refused("a hop signed by another key", e.present(e.signedHop(e.root, e.hop(1), e.keys[2], "salt-cache"), 1, "n-7"), errcode.DelegationBadSignature, 0)
	other := e.issueRoot(e.rootClaims())
	refused("a hop moved to another root", e.present(other+hop[len(e.root):], 1, "n-7"), errcode.DelegationBadLink, 0)
	refused("a KB-JWT by the wrong key", e.present(hop, 2, "n-7"), errcode.KBBadSignature, 0)
	e.now = e.now.Add(31 * time.Minute)
	refused("the hop expired", e.present(hop, 1, "n-7"), errcode.Expired, 0)
	e.now = e.now.Add(-31 * time.Minute)
	if r := e.verify(e.present(hop, 1, "n-7"), "payments:initiate", pay); !r.Allowed() {
		t.Fatalf("the hop again: %+v", r.Error)
	}
	wantStats(t, e.v, st, 1, 0, "the hop again")
}

// TestHopSchemaCacheKeepsNoFailure: a hop that fails the schema is never
// remembered (each presentation validates it again and is refused), and
// with WithoutCredentialCache nothing is remembered at all.
func TestHopSchemaCacheKeepsNoFailure(t *testing.T) {
	e := newChainEnv(t, 1)
	bad := e.hop(1)
	bad["task"] = map[string]any{"id": "t", "expires": 5} // not in the delegation schema
	pres := e.present(e.signedHop(e.root, bad, e.keys[0], "salt-bad"), 1, "n-7")
	st := CacheStats{}
	for i := 0; i < 3; i++ {
		if r := e.verify(pres, "payments:initiate", map[string]any{"amount": 1, "currency": "EUR"}); r.Verified || r.Code() != errcode.SchemaInvalid {
			t.Fatalf("try %d: %+v", i, r.Error)
		}
		st = wantStats(t, e.v, st, 0, 1, "a schema-invalid hop")
	}
	v, err := New(e.v.p, append(e.opts, WithoutCredentialCache())...)
	if err != nil {
		t.Fatal(err)
	}
	e.v = v
	good := e.present(e.signedHop(e.root, e.hop(1), e.keys[0], "salt-good"), 1, "n-7")
	for i := 0; i < 2; i++ {
		if r := e.verify(good, "payments:initiate", map[string]any{"amount": 1, "currency": "EUR"}); !r.Allowed() {
			t.Fatal(r.Error)
		}
		if r := e.verify(pres, "payments:initiate", map[string]any{"amount": 1, "currency": "EUR"}); r.Code() != errcode.SchemaInvalid {
			t.Fatalf("without the cache: %+v", r.Error)
		}
	}
	if s := v.HopSchemaCacheStats(); s != (CacheStats{}) {
		t.Fatalf("stats without the cache: %+v", s)
	}
}
