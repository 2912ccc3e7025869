// Package redisnonce keeps the verifier's spent single-use nonces in Redis,
// so that every verifier replica pointing at one Redis refuses a nonce
// spent on any of them. It implements the verifier's SpentStore with one
// atomic SET key NX PX ttl per nonce: the first replica to spend a nonce
// creates the key, every later attempt finds it, and Redis forgets the key
// when the nonce would have expired anyway.
//
// A Redis that cannot be reached is an error from Spend, never a fresh
// nonce: the verifier then refuses the presentation
// (nonce_store_unavailable). It fails closed.
package redisnonce

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults, in one place.
const (
	// DefaultPrefix starts every key the store writes.
	DefaultPrefix = "agentcert:nonce:"
	// DefaultTimeout bounds one Spend, so that a Redis that does not
	// answer fails the check quickly instead of holding the request.
	DefaultTimeout = 2 * time.Second
	// MinTTL is the shortest time a spent nonce is kept, for nonces that
	// expire in less (or have expired: the verifier refuses those anyway).
	MinTTL = time.Second
	// MaxIDBytes bounds the nonce id written as a key.
	MaxIDBytes = 512
)

// Option configures New.
type Option func(*Store)

// WithPrefix sets the key prefix (default DefaultPrefix); replicas that
// must share spent nonces use the same prefix.
func WithPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// WithTimeout sets the bound on one Spend (default DefaultTimeout).
func WithTimeout(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// Store is a spent-nonce set in Redis. It is safe for concurrent use.
type Store struct {
	c       *redis.Client
	prefix  string
	timeout time.Duration
}

// IsURL reports whether s names a Redis server (redis:// or rediss://).
func IsURL(s string) bool {
	return strings.HasPrefix(s, "redis://") || strings.HasPrefix(s, "rediss://")
}

// New returns a store on the Redis server at rawURL
// (redis://[user:password@]host:port/db, rediss:// for TLS). It does not
// connect: a Redis that is down at start makes Spend fail until it is up.
func New(rawURL string, opts ...Option) (*Store, error) {
	s := &Store{prefix: DefaultPrefix, timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(s)
	}
	c, err := NewClient(rawURL, s.timeout)
	if err != nil {
		return nil, err
	}
	s.c = c
	return s, nil
}

// NewClient is the Redis client of the stores that share the verifier's
// Redis (spent nonces here, OpenID4VP requests in internal/redisvp): dials
// bounded by timeout, one retry, so that a Redis that does not answer
// fails a call quickly instead of holding the request. It does not
// connect.
func NewClient(rawURL string, timeout time.Duration) (*redis.Client, error) {
	if !IsURL(rawURL) {
		return nil, fmt.Errorf("redisnonce: %q is not a redis:// URL", redact(rawURL))
	}
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisnonce: bad URL %q: %v", redact(rawURL), errors.Unwrap(err))
	}
	if o.DialTimeout == 0 || o.DialTimeout > timeout {
		o.DialTimeout = timeout
	}
	o.MaxRetries = 1
	return redis.NewClient(o), nil
}

// redact drops the password of a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Spend records id as spent until expires. fresh is true for the first
// spend of id on any replica sharing this Redis and prefix, false for every
// later one; err is set when Redis could not be asked, and fresh is then
// false.
func (s *Store) Spend(ctx context.Context, id string, expires time.Time) (fresh bool, err error) {
	if id == "" || len(id) > MaxIDBytes {
		return false, fmt.Errorf("redisnonce: nonce id of %d bytes (1 to %d)", len(id), MaxIDBytes)
	}
	ttl := time.Until(expires)
	if ttl < MinTTL {
		ttl = MinTTL
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// The expiry is relative (PX), so the Redis server's clock does not
	// need to agree with this host's.
	ok, err := s.c.SetNX(ctx, s.prefix+id, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("redisnonce: spend: %w", err)
	}
	return ok, nil
}

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisnonce: ping: %w", err)
	}
	return nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.c.Close() }
