package verifier

import (
	"sync/atomic"
	"time"

	"github.com/agentcert/agentcert/internal/keyutil"
	"github.com/agentcert/agentcert/internal/ttlcache"
	"github.com/agentcert/agentcert/sdjwt"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// credentialCache is the verifier's sdjwt.VerifiedCache: bounded (LRU) and
// timed like the issuer-key cache (WithCache). A hit counts only while the
// issuer key lookup (the DID document, the https issuer's key set, or the
// local issuer's keys) still returns the key the entry was verified with.
type credentialCache struct {
	c            *ttlcache.Cache[sdjwt.VerifiedIssuerJWT]
	ttl          time.Duration
	now          func() time.Time
	hits, misses atomic.Int64
}

func newCredentialCache(entries int, ttl time.Duration, now func() time.Time) *credentialCache {
	return &credentialCache{c: ttlcache.New[sdjwt.VerifiedIssuerJWT](entries, now), ttl: ttl, now: now}
}

func (c *credentialCache) Get(key string, issuerKey jwk.Key) (sdjwt.VerifiedIssuerJWT, bool) {
	v, ok := c.c.Get(key)
	if ok = ok && (v.IssuerKey == issuerKey || keyutil.SameKey(v.IssuerKey, issuerKey)); ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return v, ok
}

func (c *credentialCache) Put(key string, v sdjwt.VerifiedIssuerJWT) {
	c.c.Put(key, v, c.now().Add(c.ttl))
}

// CacheStats counts lookups in the verified-credential cache: a hit is a
// presentation whose issuer signature had been checked before.
type CacheStats struct {
	Hits, Misses int64
}

// CredentialCacheStats reports the verified-credential cache's lookups
// (all zero when the cache is off, see WithoutCredentialCache).
func (v *Verifier) CredentialCacheStats() CacheStats {
	if v.verified == nil {
		return CacheStats{}
	}
	return CacheStats{Hits: v.verified.hits.Load(), Misses: v.verified.misses.Load()}
}
