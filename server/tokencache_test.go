package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/internal/config"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/testkit"
	"github.com/agentcert/agentcert/internal/tokens"
)

// countingLookup counts the token reads that reach the real store.
type countingLookup struct {
	TokenLookup
	n atomic.Int64
}

func (c *countingLookup) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	c.n.Add(1)
	return c.TokenLookup.TokenByHash(ctx, hash)
}

// tokenCacheEnv is a full server whose token reads are counted and whose
// token cache runs on a clock the test moves.
type tokenCacheEnv struct {
	env    *TestEnv
	reads  *countingLookup
	clock  *testkit.Clock
	admin  string
	issuer string
	id     string // the issuer token's id
}

func newTokenCacheEnv(t *testing.T, ttl time.Duration) *tokenCacheEnv {
	t.Helper()
	env := NewTestEnv(t, func(c *config.Config) { c.HTTP.TokenCacheTTL = ttl })
	clock := testkit.NewClock(time.Now())
	env.Server.tokenCache = newTokenCache(ttl, clock.Now)
	reads := &countingLookup{TokenLookup: env.Server.tokens}
	env.Server.tokens = reads
	ctx := context.Background()
	admin, _, err := tokens.Create(ctx, env.Store, tokens.RoleAdmin, "admin", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	iss, tok, err := tokens.Create(ctx, env.Store, tokens.RoleIssuer, "issuer", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &tokenCacheEnv{env: env, reads: reads, clock: clock, admin: admin, issuer: iss, id: tok.ID}
}

// call makes an authenticated request and returns its status. GET
// /v1/credentials/{id} of an unknown id: 404 once the token is accepted,
// 401 when it is not.
func (e *tokenCacheEnv) call(t *testing.T, method, path, token string) int {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.env.Server.Handler().ServeHTTP(rec, req)
	return rec.Code
}

const unknownCredential = "/v1/credentials/urn:uuid:00000000-0000-4000-8000-000000000000"

func TestTokenCacheSparesStoreReads(t *testing.T) {
	e := newTokenCacheEnv(t, time.Second)
	for i := 0; i < 5; i++ {
		if got := e.call(t, http.MethodGet, unknownCredential, e.issuer); got != http.StatusNotFound {
			t.Fatalf("request %d: status %d, want 404 (token accepted)", i, got)
		}
	}
	if n := e.reads.n.Load(); n != 1 {
		t.Fatalf("%d token reads for 5 requests within the TTL, want 1", n)
	}
	e.clock.Advance(time.Second)
	if got := e.call(t, http.MethodGet, unknownCredential, e.issuer); got != http.StatusNotFound {
		t.Fatalf("after the TTL: status %d", got)
	}
	if n := e.reads.n.Load(); n != 2 {
		t.Fatalf("%d token reads, want 2: an expired entry is read again", n)
	}
}

// TestTokenCacheOffWithSharedStore: nodes sharing a PostgreSQL store
// (store.url set) never cache tokens, so a token revoked on one node is
// refused by the others at once.
func TestTokenCacheOffWithSharedStore(t *testing.T) {
	env := NewTestEnv(t, func(c *config.Config) {
		c.HTTP.TokenCacheTTL = time.Minute
		c.Store.URL = "postgres://127.0.0.1:5432/test"
	})
	if env.Server.tokenCache.ttl != 0 {
		t.Fatalf("token cache TTL %s with a shared store, want 0 (off)", env.Server.tokenCache.ttl)
	}
	env = NewTestEnv(t, func(c *config.Config) { c.HTTP.TokenCacheTTL = time.Minute })
	if env.Server.tokenCache.ttl != time.Minute {
		t.Fatalf("token cache TTL %s with SQLite, want the configured 1m", env.Server.tokenCache.ttl)
	}
}

func TestTokenCacheOff(t *testing.T) {
	e := newTokenCacheEnv(t, 0)
	for i := 0; i < 3; i++ {
		if got := e.call(t, http.MethodGet, unknownCredential, e.issuer); got != http.StatusNotFound {
			t.Fatalf("status %d", got)
		}
	}
	if n := e.reads.n.Load(); n != 3 {
		t.Fatalf("token_cache_ttl 0: %d token reads for 3 requests, want 3", n)
	}
}

// TestTokenCacheRevokedThroughAPI: once DELETE /v1/admin/tokens/{id} has
// answered, the token is refused, cached or not.
func TestTokenCacheRevokedThroughAPI(t *testing.T) {
	e := newTokenCacheEnv(t, time.Minute)
	if got := e.call(t, http.MethodGet, unknownCredential, e.issuer); got != http.StatusNotFound {
		t.Fatalf("before revocation: status %d", got)
	}
	if got := e.call(t, http.MethodDelete, "/v1/admin/tokens/"+e.id, e.admin); got != http.StatusNoContent {
		t.Fatalf("revoke: status %d", got)
	}
	for i := 0; i < 2; i++ {
		if got := e.call(t, http.MethodGet, unknownCredential, e.issuer); got != http.StatusUnauthorized {
			t.Fatalf("request %d after revocation through the API: status %d, want 401", i, got)
		}
	}
	// The admin token was dropped from the cache too, and is read again.
	before := e.reads.n.Load()
	if got := e.call(t, http.MethodGet, "/v1/admin/tokens", e.admin); got != http.StatusOK {
		t.Fatalf("admin after the revocation: status %d", got)
	}
	if e.reads.n.Load() != before+1 {
		t.Fatal("a revocation through the API left other tokens cached")
	}
}

// TestTokenCacheRevokedOutsideAPI: a revocation made behind the server's
// back (straight into its store) applies once the cached entry expires,
// within token_cache_ttl, as documented.
func TestTokenCacheRevokedOutsideAPI(t *testing.T) {
	e := newTokenCacheEnv(t, time.Second)
	if got := e.call(t, http.MethodGet, unknownCredential, e.issuer); got != http.StatusNotFound {
		t.Fatalf("before revocation: status %d", got)
	}
	now := time.Now()
	if err := e.env.Store.RevokeToken(context.Background(), e.id, now, &store.AuditEntry{Time: now, Actor: "other-node", Action: "token.revoke", Target: e.id}); err != nil {
		t.Fatal(err)
	}
	if got := e.call(t, http.MethodGet, unknownCredential, e.issuer); got != http.StatusNotFound {
		t.Fatalf("within the TTL: status %d; the cached entry should still answer (the documented delay)", got)
	}
	e.clock.Advance(time.Second)
	if got := e.call(t, http.MethodGet, unknownCredential, e.issuer); got != http.StatusUnauthorized {
		t.Fatalf("after the TTL: status %d, want 401", got)
	}
	// A revoked token is never cached: every later request reads the store.
	before := e.reads.n.Load()
	for i := 0; i < 3; i++ {
		if got := e.call(t, http.MethodGet, unknownCredential, e.issuer); got != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", got)
		}
	}
	if n := e.reads.n.Load() - before; n != 3 {
		t.Fatalf("%d reads for 3 requests with a revoked token, want 3", n)
	}
}

// TestTokenCacheNeverCachesUnknown: a token the store does not know is
// looked up on every request, and a token created afterwards is accepted at
// once.
func TestTokenCacheNeverCachesUnknown(t *testing.T) {
	e := newTokenCacheEnv(t, time.Minute)
	bogus := tokens.Prefix + "not-a-real-token"
	for i := 0; i < 3; i++ {
		if got := e.call(t, http.MethodGet, unknownCredential, bogus); got != http.StatusUnauthorized {
			t.Fatalf("unknown token: status %d", got)
		}
	}
	if n := e.reads.n.Load(); n != 3 {
		t.Fatalf("%d reads for 3 requests with an unknown token, want 3", n)
	}
	if e.env.Server.tokenCache.len() != 0 {
		t.Fatal("an unknown token was cached")
	}
	fresh, _, err := tokens.Create(context.Background(), e.env.Store, tokens.RoleIssuer, "fresh", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := e.call(t, http.MethodGet, unknownCredential, fresh); got != http.StatusNotFound {
		t.Fatalf("a token created after a miss: status %d, want 404", got)
	}
}

// TestTokenCacheStoreErrorFailsClosed: when the store cannot be read, an
// uncached token is refused, and nothing is cached.
func TestTokenCacheStoreErrorFailsClosed(t *testing.T) {
	e := newTokenCacheEnv(t, time.Minute)
	if err := e.env.Store.Close(); err != nil {
		t.Fatal(err)
	}
	if got := e.call(t, http.MethodGet, unknownCredential, e.issuer); got < 500 {
		t.Fatalf("closed store: status %d, want a 5xx", got)
	}
	if e.env.Server.tokenCache.len() != 0 {
		t.Fatal("a token was cached from a failed read")
	}
}

func TestTokenCacheUnit(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1000, 0))
	c := newTokenCache(time.Second, clock.Now)
	h := tokens.Hash("a")
	tok := store.Token{ID: "tok_a", Role: tokens.RoleIssuer, Hash: h}

	if _, ok := c.get(h); ok {
		t.Fatal("empty cache answered")
	}
	c.put(h, tok, c.generation())
	if got, ok := c.get(h); !ok || got.ID != "tok_a" {
		t.Fatalf("get after put = %v, %v", got, ok)
	}

	// A lookup that began before an invalidation does not cache its result.
	gen := c.generation()
	c.invalidate()
	if _, ok := c.get(h); ok {
		t.Fatal("invalidate kept an entry")
	}
	c.put(h, tok, gen)
	if _, ok := c.get(h); ok {
		t.Fatal("a lookup started before the invalidation cached its token")
	}

	// Revoked tokens and hashes of the wrong size are not cached.
	revoked := tok
	at := clock.Now()
	revoked.RevokedAt = &at
	c.put(h, revoked, c.generation())
	if _, ok := c.get(h); ok {
		t.Fatal("a revoked token was cached")
	}
	c.put(h[:31], tok, c.generation())
	if c.len() != 0 {
		t.Fatal("a short hash was cached")
	}

	// Expiry at exactly the TTL.
	c.put(h, tok, c.generation())
	clock.Advance(time.Second - time.Nanosecond)
	if _, ok := c.get(h); !ok {
		t.Fatal("expired early")
	}
	clock.Advance(time.Nanosecond)
	if _, ok := c.get(h); ok {
		t.Fatal("answered at the TTL")
	}

	// The bound: past it nothing more is cached until entries expire.
	for i := 0; i < maxCachedTokens+10; i++ {
		c.put(tokens.Hash(string(rune(i))+"x"), tok, c.generation())
	}
	if n := c.len(); n != maxCachedTokens {
		t.Fatalf("%d entries, want the bound %d", n, maxCachedTokens)
	}
	clock.Advance(time.Second)
	c.put(h, tok, c.generation())
	if _, ok := c.get(h); !ok || c.len() != 1 {
		t.Fatalf("after expiry a full cache should make room: %d entries", c.len())
	}
}

// len counts the entries held, expired ones included.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
