package did

import (
	"context"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/ttlcache"
	"golang.org/x/sync/singleflight"
)

// Resolver resolves a DID to its DID document. Implementations return
// *errcode.Error failures and must be safe for concurrent use; the returned
// document may be shared and must not be modified.
type Resolver interface {
	Resolve(ctx context.Context, did string) (*Document, error)
}

// ResolverFunc adapts a function to a Resolver.
type ResolverFunc func(ctx context.Context, did string) (*Document, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context, did string) (*Document, error) { return f(ctx, did) }

// NewCachingResolver wraps r with a cache: documents are kept for ttl
// (default 5 min), at most maxEntries of them (default 1024; the least
// recently used is evicted), with time read from now (default time.Now).
// Failures are not cached. Concurrent resolutions of one DID share a single
// call to r, which runs without the callers' cancellation (r must bound its
// own time, as the Fetcher does); each caller still returns when its own
// context is done.
func NewCachingResolver(r Resolver, ttl time.Duration, maxEntries int, now func() time.Time) Resolver {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	if now == nil {
		now = time.Now
	}
	return &cachingResolver{next: r, ttl: ttl, now: now, cache: ttlcache.New[*Document](maxEntries, now)}
}

type cachingResolver struct {
	next  Resolver
	ttl   time.Duration
	now   func() time.Time
	group singleflight.Group
	cache *ttlcache.Cache[*Document]
}

func (c *cachingResolver) Resolve(ctx context.Context, did string) (*Document, error) {
	if doc, ok := c.cache.Get(did); ok {
		return doc, nil
	}
	ch := c.group.DoChan(did, func() (any, error) {
		// A flight that ended between the Get above and DoChan has put
		// its document: take it rather than resolve again.
		if doc, ok := c.cache.Get(did); ok {
			return doc, nil
		}
		doc, err := c.next.Resolve(context.WithoutCancel(ctx), did)
		if err != nil {
			return nil, err
		}
		if doc == nil {
			return nil, errcode.New(errcode.DIDResolutionFailed, "resolver returned no document for %s", did)
		}
		c.cache.Put(did, doc, c.now().Add(c.ttl))
		return doc, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Document), nil
	case <-ctx.Done():
		return nil, errcode.Wrap(errcode.DIDResolutionFailed, ctx.Err(), "resolution of %s cancelled", did)
	}
}
