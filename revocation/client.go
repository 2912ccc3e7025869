package revocation

import (
	"bytes"
	"context"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/ttlcache"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"golang.org/x/sync/singleflight"
)

// FetchFunc fetches url with the given Accept header and returns at most
// maxBytes bytes of body. The wiring passes the did package's guarded
// fetcher, which refuses disallowed addresses and bounds time and size; the
// Client passes its errors through (wrapped in status_unavailable). A
// FetchFunc must bound its own duration: a fetch shared by concurrent
// callers is not cancelled when one of them gives up.
type FetchFunc func(ctx context.Context, url, accept string, maxBytes int64) ([]byte, error)

// Reference is the status_list claim of a referenced token
// (draft-ietf-oauth-status-list section 6.1).
type Reference struct {
	URI string `json:"uri"`
	Idx int    `json:"idx"`
}

// Status is the status of one referenced token, with its freshness.
type Status struct {
	Value     uint8     // 0 valid, 1 revoked, 2 suspended, other = application specific
	AsOf      time.Time // the status list token's iat
	FetchedAt time.Time // when this client fetched the token
	// UsableUntil is when the status stops being usable: the token's exp,
	// or FetchedAt plus its ttl, whichever comes first; zero when the token
	// has neither. A caller that keeps the answer (a session) keeps it no
	// longer, as this client keeps the token no longer.
	UsableUntil time.Time
}

// ClientOptions configure a Client.
type ClientOptions struct {
	Fetch      FetchFunc                // required
	Key        KeyFunc                  // required; resolves the list signer's key for the credential's issuer
	MaxAge     time.Duration            // max_status_age; 0 (or negative) = always fetch; the caller applies the policy default (DefaultMaxStatusAge)
	MaxEntries int                      // cache bound; DefaultMaxEntries when 0
	MaxBytes   int                      // token size cap and decompressed list cap; DefaultMaxBytes when 0
	Now        func() time.Time         // clock; time.Now when nil
	Leeway     time.Duration            // clock skew accepted on the token's exp and iat
	Algorithms []jwa.SignatureAlgorithm // allow-list for list tokens; ES256 and EdDSA when empty
}

// Client fetches, verifies and caches Status List Tokens for verifiers.
// It is safe for concurrent use.
//
// Caching rule: a list fetched at time F is reused while
//
//	now < min(F + MaxAge, F + ttl, exp)
//
// where the ttl term applies only when the token has a ttl and the exp term
// only when it has an exp. So MaxAge 0 always fetches, and a cached list
// never outlives the token's own exp. A stale entry is re-fetched; if that
// fails the answer is status_unavailable, never the stale value.
// Concurrent lookups of one list share one fetch; the cache holds at most
// MaxEntries lists and evicts the least recently used. Entries are keyed by
// (issuer, uri), so a list verified for one issuer never answers for another.
type Client struct {
	o     ClientOptions
	group singleflight.Group

	cache *ttlcache.Cache[*cacheEntry]
}

type cacheEntry struct {
	key       string
	tok       *Token
	fetchedAt time.Time
	expires   time.Time
}

// NewClient returns a Client. Fetch and Key are required; Status fails with
// internal_error without them.
func NewClient(o ClientOptions) *Client {
	o.MaxEntries = bound(o.MaxEntries, DefaultMaxEntries)
	o.MaxBytes = bound(o.MaxBytes, DefaultMaxBytes)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxAge < 0 {
		o.MaxAge = 0
	}
	return &Client{o: o, cache: ttlcache.New[*cacheEntry](o.MaxEntries, o.Now)}
}

// Status returns the status of ref for a credential issued by issuer.
//
// Errors: invalid_input for an empty issuer; status_invalid for an empty
// uri, a negative idx or an idx outside the list; status_unavailable, wrapping the cause (fetch_failed,
// fetch_refused, bad_signature, expired, ...), for any failure to fetch or
// validate the list. The caller maps values 1 and 2 to revoked/suspended.
func (c *Client) Status(ctx context.Context, ref Reference, issuer string) (Status, error) {
	if ref.URI == "" {
		return Status{}, errcode.New(errcode.StatusInvalid, "status reference has no uri")
	}
	if ref.Idx < 0 {
		return Status{}, errcode.New(errcode.StatusInvalid, "status reference idx %d is negative", ref.Idx)
	}
	if issuer == "" {
		// Without it, VerifyToken would trust the token's own iss.
		return Status{}, errcode.New(errcode.InvalidInput, "the credential issuer is required to check its status")
	}
	if c.o.Fetch == nil || c.o.Key == nil {
		return Status{}, errcode.New(errcode.Internal, "revocation client without Fetch or Key")
	}
	key := issuer + "\x00" + ref.URI
	e := c.cached(key)
	if e == nil {
		var err error
		if e, err = c.load(ctx, key, ref.URI, issuer); err != nil {
			return Status{}, err
		}
	}
	v, err := e.tok.List.Get(ref.Idx)
	if err != nil {
		return Status{}, err
	}
	return Status{Value: v, AsOf: e.tok.IssuedAt, FetchedAt: e.fetchedAt, UsableUntil: e.tok.UsableUntil(e.fetchedAt)}, nil
}

// cached returns the fresh entry for key, or nil.
func (c *Client) cached(key string) *cacheEntry {
	e, _ := c.cache.Get(key)
	return e
}

// load fetches and verifies the list once for all concurrent callers of key.
func (c *Client) load(ctx context.Context, key, uri, issuer string) (*cacheEntry, error) {
	ch := c.group.DoChan(key, func() (any, error) {
		// A caller that missed the cache just before another one stored a
		// fresh entry must not fetch again.
		if e := c.cached(key); e != nil {
			return e, nil
		}
		return c.fetch(context.WithoutCancel(ctx), key, uri, issuer)
	})
	select {
	case <-ctx.Done():
		return nil, errcode.Wrap(errcode.StatusUnavailable, ctx.Err(), "status list %s not fetched in time", uri)
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*cacheEntry), nil
	}
}

func (c *Client) fetch(ctx context.Context, key, uri, issuer string) (*cacheEntry, error) {
	body, err := c.o.Fetch(ctx, uri, MediaTypeStatusListJWT, int64(c.o.MaxBytes))
	if err != nil {
		return nil, errcode.Wrap(errcode.StatusUnavailable, err, "status list %s could not be fetched", uri)
	}
	if len(body) > c.o.MaxBytes {
		return nil, errcode.Wrap(errcode.StatusUnavailable,
			errcode.New(errcode.TooLarge, "status list token of %d bytes exceeds %d", len(body), c.o.MaxBytes),
			"status list %s could not be fetched", uri)
	}
	tok, err := verifyToken(ctx, bytes.TrimSpace(body), VerifyTokenOptions{
		Key:             c.o.Key,
		ExpectedIssuer:  issuer,
		ExpectedSubject: uri,
		Now:             c.o.Now,
		Leeway:          c.o.Leeway,
		MaxBytes:        c.o.MaxBytes,
		Algorithms:      c.o.Algorithms,
	})
	if err != nil {
		return nil, errcode.Wrap(errcode.StatusUnavailable, err, "status list %s could not be validated", uri)
	}
	now := c.o.Now()
	e := &cacheEntry{key: key, tok: tok, fetchedAt: now, expires: now.Add(c.o.MaxAge)}
	if tok.TTL > 0 && now.Add(tok.TTL).Before(e.expires) {
		e.expires = now.Add(tok.TTL)
	}
	if !tok.Expires.IsZero() && tok.Expires.Before(e.expires) {
		e.expires = tok.Expires
	}
	if c.o.MaxAge > 0 {
		c.cache.Put(key, e, e.expires)
	}
	return e, nil
}
