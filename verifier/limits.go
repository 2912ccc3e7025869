package verifier

import (
	"time"
)

// Limits and defaults of this package, in one place.
const (
	// DefaultMaxKBAge is how old a KB-JWT may be when Policy.MaxKBAge is 0.
	DefaultMaxKBAge = 5 * time.Minute

	// DefaultLeeway is the clock skew DefaultPolicy accepts.
	DefaultLeeway = 30 * time.Second

	// DefaultMaxStatusAge is how stale a cached status list DefaultPolicy
	// accepts.
	DefaultMaxStatusAge = 5 * time.Minute

	// DefaultCacheTTL is how long parsed issuer keys and https issuer
	// metadata are cached when Options.CacheTTL is 0.
	DefaultCacheTTL = 5 * time.Minute

	// DefaultCacheEntries bounds each cache when Options.CacheEntries is 0.
	DefaultCacheEntries = 1024

	// DefaultMaxDelegationDepth is how many delegation hops a chain may
	// have when Policy.MaxDelegationDepth is 0.
	DefaultMaxDelegationDepth = 3

	// DefaultMaxDelegationLifetime is the longest a delegation hop may be
	// valid (exp - iat) when Policy.MaxDelegationLifetime is 0.
	DefaultMaxDelegationLifetime = time.Hour

	// DefaultMaxNonces bounds the default in-memory spent-nonce set
	// (MemorySpentStore).
	DefaultMaxNonces = 1 << 20

	// nonceRandom and nonceMAC are the sizes of a nonce's random part and
	// of its MAC; nonceSecretSize is the size of the secret NewNonces makes
	// when it is given none, minNonceSecret the shortest it accepts.
	nonceRandom     = 16
	nonceMAC        = 32
	nonceSecretSize = 32
	minNonceSecret  = 16
)
