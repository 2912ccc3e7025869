// Package redisvp keeps OpenID4VP presentation requests (oid4vp.Store) in
// Redis, so that every verifier replica pointing at one Redis serves a
// request another made: a wallet may fetch the request object from one
// replica and post its response to a second, and the counterparty fetch
// the result from a third.
//
// Each request is one hash, kept until ResultRetention past the request's
// expiry (the record, its expiry, whether it was answered, its result), one
// key from the counterparty's id to the wallet's reference, and one member
// of a sorted set that bounds the requests held. Every change is one Lua
// script, so two replicas never both claim a request, nor both take a
// result. A Redis that cannot be reached is an error (the request is not
// made, or the response is refused); nothing is assumed.
//
// The record holds the request's ephemeral decryption key (direct_post.jwt)
// until the response is checked: give Redis the protection the verifier's
// own memory has (no persistence is needed, access control, TLS between
// hosts).
package redisvp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/noncestore/redisnonce"
	"github.com/agentcert/agentcert/oid4vp"
	"github.com/agentcert/agentcert/oid4vp/dcql"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/redis/go-redis/v9"
)

// Defaults, in one place.
const (
	// DefaultPrefix starts every key the store writes; replicas that share
	// requests use the same prefix.
	DefaultPrefix = "agentcert:vp:"
	// DefaultTimeout bounds one call to Redis.
	DefaultTimeout = 2 * time.Second
)

// Store is an oid4vp.Store in Redis, safe for concurrent use.
type Store struct {
	c       redis.UniversalClient
	prefix  string
	timeout time.Duration
	now     func() time.Time
}

// Option configures New.
type Option func(*Store)

// WithPrefix sets the key prefix (default DefaultPrefix).
func WithPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// WithClock sets the clock that decides which requests count against the
// bound (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a store on the Redis server at rawURL (redis:// or rediss://).
// It does not connect: a Redis that is down makes calls fail until it is up.
func New(rawURL string, opts ...Option) (*Store, error) {
	s := &Store{prefix: DefaultPrefix, timeout: DefaultTimeout, now: time.Now}
	for _, opt := range opts {
		opt(s)
	}
	c, err := redisnonce.NewClient(rawURL, s.timeout)
	if err != nil {
		return nil, fmt.Errorf("redisvp: %w", err)
	}
	s.c = c
	return s, nil
}

// Close closes the connections.
func (s *Store) Close() error { return s.c.Close() }

var _ oid4vp.Store = (*Store)(nil)

func (s *Store) reqKey(ref string) string { return s.prefix + "r:" + ref }
func (s *Store) idKey(id string) string   { return s.prefix + "i:" + id }
func (s *Store) pendingKey() string       { return s.prefix + "pending" }

// wire is a Record as stored: the key as a JWK, the rest as it is.
type wire struct {
	ID, Ref          string
	ClientID         string
	Nonce, State     string
	Mode             string
	Query            *dcql.Query     `json:",omitempty"`
	TransactionData  []string        `json:",omitempty"`
	Action           string          `json:",omitempty"`
	ActionCredential string          `json:",omitempty"`
	Attributes       map[string]any  `json:",omitempty"`
	RequestObject    string          `json:",omitempty"`
	EncryptionKey    json.RawMessage `json:",omitempty"`
	CreatedAt        time.Time
	ExpiresAt        time.Time
}

func encode(r *oid4vp.Record) ([]byte, error) {
	w := wire{ID: r.ID, Ref: r.Ref, ClientID: r.ClientID, Nonce: r.Nonce, State: r.State, Mode: r.Mode, Query: r.Query,
		TransactionData: r.TransactionData, Action: r.Action, ActionCredential: r.ActionCredential, Attributes: r.Attributes,
		RequestObject: r.RequestObject, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}
	if r.EncryptionKey != nil {
		k, err := json.Marshal(r.EncryptionKey)
		if err != nil {
			return nil, fmt.Errorf("redisvp: encryption key: %w", err)
		}
		w.EncryptionKey = k
	}
	return json.Marshal(w)
}

// decode reads a stored record; numbers in the attributes stay exact
// (json.Number), as the service decodes them.
func decode(b []byte) (*oid4vp.Record, error) {
	var w wire
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("redisvp: stored request: %w", err)
	}
	r := &oid4vp.Record{ID: w.ID, Ref: w.Ref, ClientID: w.ClientID, Nonce: w.Nonce, State: w.State, Mode: w.Mode, Query: w.Query,
		TransactionData: w.TransactionData, Action: w.Action, ActionCredential: w.ActionCredential, Attributes: w.Attributes,
		RequestObject: w.RequestObject, CreatedAt: w.CreatedAt, ExpiresAt: w.ExpiresAt}
	if len(w.EncryptionKey) > 0 {
		k, err := jwk.ParseKey(w.EncryptionKey)
		if err != nil {
			return nil, fmt.Errorf("redisvp: stored encryption key: %w", err)
		}
		r.EncryptionKey = k
	}
	return r, nil
}

func decodeResult(b string) (*oid4vp.Result, error) {
	var res oid4vp.Result
	dec := json.NewDecoder(bytes.NewReader([]byte(b)))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("redisvp: stored result: %w", err)
	}
	return &res, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func (s *Store) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// unavailable wraps a Redis failure: the store, not the request, failed
// (503 nonce_store_unavailable, the code of the verifier's shared Redis).
func unavailable(op string, err error) error {
	return errcode.Wrap(errcode.NonceStoreUnavailable, err, "redisvp: %s: Redis", op)
}

// createScript: KEYS req, id, pending; ARGV record, expiry ms, keep-until
// ms, now ms, max, ref. Drops from the bound the requests whose count has
// ended, then refuses when full or on a duplicate, else writes all three.
var createScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[4])
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[5]) then return 'full' end
if redis.call('EXISTS', KEYS[1]) == 1 then return 'dupref' end
if redis.call('SET', KEYS[2], ARGV[6], 'NX', 'PXAT', ARGV[3]) == false then return 'dupid' end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'exp', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[6])
return 'ok'
`)

// Create adds r; at max requests held (unanswered ones count until they
// expire, answered ones until ResultRetention past their expiry) it fails
// with rate_limited.
func (s *Store) Create(ctx context.Context, r *oid4vp.Record, max int) error {
	rec, err := encode(r)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	keep := r.ExpiresAt.Add(oid4vp.ResultRetention)
	out, err := createScript.Run(ctx, s.c, []string{s.reqKey(r.Ref), s.idKey(r.ID), s.pendingKey()},
		rec, ms(r.ExpiresAt), ms(keep), ms(s.now()), max, r.Ref).Text()
	if err != nil {
		return unavailable("create", err)
	}
	switch out {
	case "ok":
		return nil
	case "full":
		return errcode.New(errcode.RateLimited, "too many pending presentation requests")
	case "dupref":
		return errcode.New(errcode.Conflict, "duplicate request reference")
	case "dupid":
		return errcode.New(errcode.Conflict, "duplicate request id")
	}
	return unavailable("create", fmt.Errorf("unexpected answer %q", out))
}

func notFound() error { return errcode.New(errcode.NotFound, "no such presentation request") }

// read turns the fields rec, answered, result of a request hash into a
// record.
func read(vals []any) (*oid4vp.Record, error) {
	recS, ok := vals[0].(string)
	if !ok {
		return nil, notFound()
	}
	r, err := decode([]byte(recS))
	if err != nil {
		return nil, err
	}
	r.Answered = vals[1] != nil
	if resS, ok := vals[2].(string); ok {
		if r.Result, err = decodeResult(resS); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// ByRef returns the request with that reference (not_found).
func (s *Store) ByRef(ctx context.Context, ref string) (*oid4vp.Record, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	vals, err := s.c.HMGet(ctx, s.reqKey(ref), "rec", "answered", "result").Result()
	if err != nil {
		return nil, unavailable("read", err)
	}
	return read(vals)
}

// claimScript: KEYS req, pending; ARGV keep-until ms, ref.
var claimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
if redis.call('HSETNX', KEYS[1], 'answered', '1') == 0 then return 'answered' end
redis.call('ZADD', KEYS[2], 'XX', ARGV[1], ARGV[2])
return 'ok'
`)

// Claim marks the request answered; of two claims, on any replicas, one
// fails with presentation_request_answered.
func (s *Store) Claim(ctx context.Context, ref string) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	exp, err := s.c.HGet(ctx, s.reqKey(ref), "exp").Int64()
	if errors.Is(err, redis.Nil) {
		return notFound()
	}
	if err != nil {
		return unavailable("claim", err)
	}
	keep := time.UnixMilli(exp).Add(oid4vp.ResultRetention)
	out, err := claimScript.Run(ctx, s.c, []string{s.reqKey(ref), s.pendingKey()}, ms(keep), ref).Text()
	if err != nil {
		return unavailable("claim", err)
	}
	switch out {
	case "ok":
		return nil
	case "missing":
		return notFound()
	case "answered":
		return errcode.New(errcode.RequestAnswered, "the presentation request was already answered")
	}
	return unavailable("claim", fmt.Errorf("unexpected answer %q", out))
}

// finishScript: KEYS req; ARGV result, record without its key.
var finishScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
redis.call('HSET', KEYS[1], 'result', ARGV[1], 'rec', ARGV[2])
return 'ok'
`)

// Finish stores the result of a claimed request and drops its decryption
// key, no longer needed.
func (s *Store) Finish(ctx context.Context, ref string, res *oid4vp.Result) error {
	r, err := s.ByRef(ctx, ref)
	if err != nil {
		return err
	}
	r.EncryptionKey = nil
	rec, err := encode(r)
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("redisvp: result: %w", err)
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	out, err := finishScript.Run(ctx, s.c, []string{s.reqKey(ref)}, b, rec).Text()
	if err != nil {
		return unavailable("finish", err)
	}
	if out == "missing" {
		return notFound()
	}
	return nil
}

// takeScript: KEYS id, pending; ARGV prefix of request keys, now ms.
// Returns {rec, answered, result} and, when the request has a result or is
// unanswered and expired, removes it, so that one taker gets a result.
var takeScript = redis.NewScript(`
local ref = redis.call('GET', KEYS[1])
if not ref then return false end
local key = ARGV[1] .. ref
local v = redis.call('HMGET', key, 'rec', 'answered', 'result', 'exp')
if not v[1] then
  redis.call('DEL', KEYS[1])
  return false
end
if v[3] or (not v[2] and tonumber(ARGV[2]) >= tonumber(v[4])) then
  redis.call('DEL', key, KEYS[1])
  redis.call('ZREM', KEYS[2], ref)
end
return {v[1], v[2], v[3]}
`)

// Take returns the request with that id (not_found); one with a result, or
// unanswered and expired at now, is removed as it is returned, so a result
// is fetched once, on whichever replica asks first.
func (s *Store) Take(ctx context.Context, id string, now time.Time) (*oid4vp.Record, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	out, err := takeScript.Run(ctx, s.c, []string{s.idKey(id), s.pendingKey()}, s.prefix+"r:", strconv.FormatInt(ms(now), 10)).Slice()
	if errors.Is(err, redis.Nil) {
		return nil, errcode.New(errcode.NotFound, "no such presentation request, or its result was already fetched")
	}
	if err != nil {
		return nil, unavailable("take", err)
	}
	for len(out) < 3 {
		out = append(out, nil)
	}
	return read(out)
}
