package server

import (
	"sync"
	"time"

	"github.com/agentcert/agentcert/internal/store"
)

// maxCachedTokens bounds the token cache. Only tokens found valid are
// cached, so a client sending made-up tokens cannot fill it; past the bound
// a token is simply looked up each time.
const maxCachedTokens = 4096

// tokenCache remembers for ttl the bearer tokens the store found valid,
// keyed by their hash, so that a request does not read the token table
// each time. It fails closed: an unknown, revoked or unreadable token is
// never cached and is looked up on every request.
//
// A revocation through the API calls invalidate once the store has
// committed it and before the API answers, so the revoked token is refused
// from then on. A lookup that began before the invalidation cannot put the
// token back: put only stores when no invalidation happened since the
// generation the caller read before its lookup. The cache is on only with
// a SQLite store, whose tokens nobody else writes while the server runs
// (the data directory lock keeps the offline CLI out); a revocation made
// behind its back anyway would apply once the entry expires, within ttl.
type tokenCache struct {
	ttl time.Duration // 0: nothing is cached
	now func() time.Time

	mu      sync.Mutex
	gen     uint64
	entries map[[32]byte]cachedToken
}

type cachedToken struct {
	tok     store.Token
	expires time.Time
}

func newTokenCache(ttl time.Duration, now func() time.Time) *tokenCache {
	return &tokenCache{ttl: ttl, now: now, entries: map[[32]byte]cachedToken{}}
}

// get returns the token cached under hash, if it has not expired.
func (c *tokenCache) get(hash []byte) (store.Token, bool) {
	if c.ttl <= 0 || len(hash) != 32 {
		return store.Token{}, false
	}
	k := [32]byte(hash)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return store.Token{}, false
	}
	if !now.Before(e.expires) {
		delete(c.entries, k)
		return store.Token{}, false
	}
	return e.tok, true
}

// generation is read before a store lookup and given to put after it.
func (c *tokenCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches tok, a valid token the store returned for hash, unless an
// invalidation happened since gen was read.
func (c *tokenCache) put(hash []byte, tok store.Token, gen uint64) {
	if c.ttl <= 0 || len(hash) != 32 || tok.RevokedAt != nil {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.entries) >= maxCachedTokens {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCachedTokens {
			return
		}
	}
	c.entries[[32]byte(hash)] = cachedToken{tok: tok, expires: now.Add(c.ttl)}
}

// invalidate forgets every cached token; lookups already under way do not
// cache what they find.
func (c *tokenCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
}
