package verifier

import (
	"sync/atomic"
	"time"

	"github.com/agentcert/agentcert/internal/ttlcache"
	"github.com/agentcert/agentcert/sdjwt"
)

// hopSchemaCache remembers delegate payloads that validated against the
// delegation JSON Schema, so that a delegate presenting the same chain
// again (with a fresh KB-JWT) skips the costliest step of a hop that is not
// a signature. It is keyed by sdjwt.VerifiedKey of the exact disclosure
// that carried the payload (salt and JSON as sent): the schema's verdict is
// a function of those bytes alone, since a hop whose payload hides
// anything is refused before the lookup. A payload is remembered only once
// its hop has passed every check, and only the schema step is skipped on a
// hit: the hop's signature, typ, link, times, clear claims, DID key match,
// lifetime and narrowing against its parent, and the final KB-JWT, run on
// every presentation. Bounded (LRU) and timed like the verified-credential
// cache, and off with it (WithoutCredentialCache).
type hopSchemaCache struct {
	c            *ttlcache.Cache[struct{}]
	ttl          time.Duration
	now          func() time.Time
	hits, misses atomic.Int64
}

func newHopSchemaCache(entries int, ttl time.Duration, now func() time.Time) *hopSchemaCache {
	return &hopSchemaCache{c: ttlcache.New[struct{}](entries, now), ttl: ttl, now: now}
}

// key is the cache key of a hop's delegate payload; "" when the payload
// did not come in a disclosure (it is then validated every time).
func (c *hopSchemaCache) key(h *sdjwt.Hop) string {
	if c == nil || h.DelegateDisclosure == nil {
		return ""
	}
	return sdjwt.VerifiedKey(h.DelegateDisclosure.Raw)
}

// validated reports whether the payload under key has validated before.
func (c *hopSchemaCache) validated(key string) bool {
	if c == nil || key == "" {
		return false
	}
	_, ok := c.c.Get(key)
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return ok
}

func (c *hopSchemaCache) put(key string) {
	if c != nil && key != "" {
		c.c.Put(key, struct{}{}, c.now().Add(c.ttl))
	}
}

// HopSchemaCacheStats reports the lookups in the cache of delegate payloads
// already validated against the delegation schema (all zero when the cache
// is off, see WithoutCredentialCache).
func (v *Verifier) HopSchemaCacheStats() CacheStats {
	if v.hopSchemas == nil {
		return CacheStats{}
	}
	return CacheStats{Hits: v.hopSchemas.hits.Load(), Misses: v.hopSchemas.misses.Load()}
}
