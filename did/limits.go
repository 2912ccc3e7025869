package did

import "time"

// Limits and defaults of this package, in one place.
const (
	// MaxDIDLength bounds the length of a DID or DID URL accepted by Parse and
	// ParseURL (a did:jwk with an RSA key stays well below it).
	MaxDIDLength = 8 << 10

	// DefaultMaxDocumentBytes caps a fetched did:web document (and is the
	// fetcher's default body cap).
	DefaultMaxDocumentBytes = 256 << 10

	// DefaultFetchTimeout bounds one whole fetch: DNS, connect, TLS, redirects
	// and reading the body.
	DefaultFetchTimeout = 5 * time.Second

	// DefaultMaxRedirects is the number of redirects a fetch follows.
	DefaultMaxRedirects = 3

	// DefaultCacheTTL and DefaultCacheEntries apply when NewCachingResolver is
	// given a non-positive ttl or maxEntries.
	DefaultCacheTTL     = 5 * time.Minute
	DefaultCacheEntries = 1024

	// maxResponseHeaderBytes bounds the response headers of a fetch.
	maxResponseHeaderBytes = 64 << 10
)
