package verifier

import (
	"container/heap"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// SpentStore records single-use nonces. Spend reports fresh=false when id was spent before.
type SpentStore interface {
	Spend(ctx context.Context, id string, expires time.Time) (fresh bool, err error)
}

// EpochStore is implemented by spent-nonce stores that forget what they
// hold when the process ends (the in-memory default). Epoch identifies one
// lifetime of the store; Nonces writes it into every nonce it mints, under
// the MAC, and refuses nonces minted under another epoch. So a restart,
// which forgets the spent nonces, also invalidates every nonce minted
// before it, and no spent nonce can verify again. A store that outlives the
// process and is shared by the replicas (Redis) does not implement it: its
// nonces carry epoch 0 and verify on every replica that holds the secrets.
type EpochStore interface {
	SpentStore
	Epoch() uint64
}

// Nonces issues and checks nonces. A nonce carries its expiry, the epoch of
// the spent-nonce store, and a MAC (HMAC-SHA-256) under a server secret;
// the first secret signs, every secret verifies, which allows rotation.
//
// A nonce is single-use: Use records it in the SpentStore until it
// expires and refuses it again (nonce_replayed). With the default
// in-memory store that memory is this process's: its nonces verify only
// here, and none survives a restart (nonce_expired). Replicas behind a
// load balancer share one store that outlives them (WithSpentStore).
// A store that cannot be consulted fails closed (nonce_store_unavailable).
type Nonces struct {
	secrets [][]byte
	ttl     time.Duration
	now     func() time.Time
	store   SpentStore
	epoch   uint64
	durable bool // WithDurableSpending
}

// nonceBody is the size of a nonce's body: random, expiry (unix seconds),
// epoch.
const nonceBody = nonceRandom + 8 + 8

// NonceOption configures NewNonces.
type NonceOption func(*Nonces)

// WithSpentStore replaces the default in-memory spent-nonce set, e.g. by one
// in Redis that every replica shares. Unless the store implements
// EpochStore, it must remember spent nonces across restarts: nonces then
// carry no process epoch.
func WithSpentStore(s SpentStore) NonceOption {
	return func(n *Nonces) { n.store = s }
}

// WithDurableSpending is for callers that record spent nonces themselves
// (Open, then their own storage) in storage that outlives the process and
// is shared by every node, such as an issuer's database: nonces then carry
// no process epoch, so they survive a restart and verify on every node, and
// that storage, not this process, keeps them single-use.
func WithDurableSpending() NonceOption {
	return func(n *Nonces) { n.durable = true }
}

// NewNonces returns a nonce service. With no secrets it makes a random one
// (nonces then only verify in this process).
func NewNonces(secrets [][]byte, ttl time.Duration, now func() time.Time, opts ...NonceOption) (*Nonces, error) {
	if ttl <= 0 {
		return nil, errors.New("verifier: nonce ttl must be positive")
	}
	if len(secrets) == 0 {
		s := make([]byte, nonceSecretSize)
		if _, err := rand.Read(s); err != nil {
			return nil, err
		}
		secrets = [][]byte{s}
	}
	for _, s := range secrets {
		if len(s) < minNonceSecret {
			return nil, fmt.Errorf("verifier: nonce secrets must be at least %d bytes", minNonceSecret)
		}
	}
	if now == nil {
		now = time.Now
	}
	n := &Nonces{secrets: secrets, ttl: ttl, now: now}
	for _, o := range opts {
		o(n)
	}
	if n.store == nil {
		n.store = NewMemorySpentStore(DefaultMaxNonces, now)
	}
	if e, ok := n.store.(EpochStore); ok && !n.durable {
		n.epoch = e.Epoch()
	}
	return n, nil
}

// Issue returns a fresh nonce and its expiry.
func (n *Nonces) Issue() (string, time.Time, error) {
	exp := n.now().Add(n.ttl).Truncate(time.Second)
	body := make([]byte, nonceBody)
	if _, err := rand.Read(body[:nonceRandom]); err != nil {
		return "", time.Time{}, err
	}
	binary.BigEndian.PutUint64(body[nonceRandom:], uint64(exp.Unix()))
	binary.BigEndian.PutUint64(body[nonceRandom+8:], n.epoch)
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(mac(n.secrets[0], body)), exp, nil
}

func mac(secret, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(body)
	return h.Sum(nil)
}

// Check verifies that nonce is one of ours, unexpired and not seen before,
// and marks it used.
func (n *Nonces) Check(ctx context.Context, nonce string) error {
	if err := n.Validate(nonce); err != nil {
		return err
	}
	return n.Use(ctx, nonce)
}

// Validate checks that nonce is one of ours, of this epoch and unexpired,
// without spending it.
func (n *Nonces) Validate(nonce string) error {
	_, _, err := n.parse(nonce)
	return err
}

// Use spends a valid nonce: it fails with nonce_replayed when the nonce was
// used before, with nonce_invalid or nonce_expired when it does not
// validate, and with nonce_store_unavailable when the store fails (a store
// error that carries its own code, such as rate_limited from a full
// in-memory set, keeps it).
func (n *Nonces) Use(ctx context.Context, nonce string) error {
	exp, id, err := n.parse(nonce)
	if err != nil {
		return err
	}
	fresh, err := n.store.Spend(ctx, id, exp)
	if err != nil {
		var ce *errcode.Error
		if errors.As(err, &ce) {
			return err
		}
		return errcode.Wrap(errcode.NonceStoreUnavailable, err, "the spent-nonce store is unavailable; the nonce cannot be accepted")
	}
	if !fresh {
		return errcode.New(errcode.NonceReplayed, "the nonce was already used")
	}
	return nil
}

// mine reports whether nonce carries a MAC under one of this service's
// secrets, whatever its expiry or epoch.
func (n *Nonces) mine(nonce string) bool {
	_, ok := n.body(nonce)
	return ok
}

// body decodes nonce and checks its MAC.
func (n *Nonces) body(nonce string) ([]byte, bool) {
	b64body, b64mac, ok := strings.Cut(nonce, ".")
	if !ok || len(b64body) != base64.RawURLEncoding.EncodedLen(nonceBody) || len(b64mac) != base64.RawURLEncoding.EncodedLen(nonceMAC) {
		return nil, false
	}
	body, err1 := base64.RawURLEncoding.DecodeString(b64body)
	sum, err2 := base64.RawURLEncoding.DecodeString(b64mac)
	if err1 != nil || err2 != nil || len(body) != nonceBody || len(sum) != nonceMAC {
		return nil, false
	}
	for _, s := range n.secrets {
		if hmac.Equal(mac(s, body), sum) {
			return body, true
		}
	}
	return nil, false
}

// parse checks the MAC, epoch and expiry and returns the expiry and the
// spent-set id: the decoded body (base64url), so that another encoding of
// the same bytes is the same nonce.
func (n *Nonces) parse(nonce string) (time.Time, string, error) {
	body, ok := n.body(nonce)
	if !ok {
		return time.Time{}, "", errcode.New(errcode.NonceInvalid, "the nonce was not issued by this verifier")
	}
	if binary.BigEndian.Uint64(body[nonceRandom+8:]) != n.epoch {
		return time.Time{}, "", errcode.New(errcode.NonceExpired, "the nonce was issued before this verifier restarted (or by a replica that does not share its spent-nonce store); get a new one")
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(body[nonceRandom:])), 0)
	if !n.now().Before(exp) {
		return time.Time{}, "", errcode.New(errcode.NonceExpired, "the nonce expired at %s", exp.UTC().Format(time.RFC3339))
	}
	return exp, base64.RawURLEncoding.EncodeToString(body), nil
}

// MemorySpentStore is the default SpentStore: a bounded in-memory set of
// spent nonces, kept in buckets by expiry second, soonest first. Each Spend
// removes at most sweepPerSpend expired entries (and, when the set is full,
// as many more as it takes to make room), so its work is bounded whatever
// the size of the set: each entry is removed once, O(1) amortized; only
// creating a bucket costs O(log buckets), and there are at most as many
// buckets as seconds in a nonce lifetime. When the set holds max live
// entries, Spend fails closed with rate_limited. It forgets everything
// when the process ends, so it implements EpochStore with a random epoch.
// Safe for concurrent use.
type MemorySpentStore struct {
	max   int
	now   func() time.Time
	epoch uint64
	since time.Time // when it began to record

	mu      sync.Mutex
	ids     map[string]struct{}
	buckets map[int64][]string // expiry second (rounded up) -> ids not yet removed
	order   secondHeap         // bucket seconds, soonest first
}

// sweepPerSpend bounds the expired entries one Spend removes while the set
// has room.
const sweepPerSpend = 16

// NewMemorySpentStore returns an empty in-memory set of at most max live
// nonces (DefaultMaxNonces when max <= 0).
func NewMemorySpentStore(max int, now func() time.Time) *MemorySpentStore {
	if max <= 0 {
		max = DefaultMaxNonces
	}
	if now == nil {
		now = time.Now
	}
	var e [8]byte
	for binary.BigEndian.Uint64(e[:]) == 0 {
		if _, err := rand.Read(e[:]); err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
	}
	return &MemorySpentStore{max: max, now: now, epoch: binary.BigEndian.Uint64(e[:]), since: now(), ids: map[string]struct{}{}, buckets: map[int64][]string{}}
}

// RemembersSince is when the set began to record (approval.Forgetful): an
// approval issued before then is refused, since it may have been spent in
// the process before this one.
func (m *MemorySpentStore) RemembersSince() time.Time { return m.since }

// Epoch identifies this store's lifetime (random, never 0).
func (m *MemorySpentStore) Epoch() uint64 { return m.epoch }

// Len is the number of nonces held (expired ones included until removed).
func (m *MemorySpentStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.ids)
}

// Spend records id until expires.
func (m *MemorySpentStore) Spend(_ context.Context, id string, expires time.Time) (bool, error) {
	now := m.now()
	if !now.Before(expires) {
		return true, nil // nothing to remember: the nonce no longer validates anyway
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	sec := now.Unix()
	m.sweep(sec, sweepPerSpend)
	if _, dup := m.ids[id]; dup {
		return false, nil
	}
	for len(m.ids) >= m.max {
		if m.sweep(sec, 1) == 0 {
			return false, errcode.New(errcode.RateLimited, "too many outstanding nonces; retry later")
		}
	}
	exp := expires.Unix()
	if expires.After(time.Unix(exp, 0)) {
		exp++ // round up: an entry is never removed before it expires
	}
	b, ok := m.buckets[exp]
	if !ok {
		heap.Push(&m.order, exp)
	}
	m.buckets[exp] = append(b, id)
	m.ids[id] = struct{}{}
	return true, nil
}

// sweep removes up to limit entries whose bucket second is at or before
// now, soonest first, and returns how many it removed.
func (m *MemorySpentStore) sweep(now int64, limit int) int {
	n := 0
	for n < limit && len(m.order) > 0 && m.order[0] <= now {
		sec := m.order[0]
		b := m.buckets[sec]
		k := min(limit-n, len(b))
		for _, id := range b[:k] {
			delete(m.ids, id)
		}
		n += k
		if k == len(b) {
			heap.Pop(&m.order)
			delete(m.buckets, sec)
		} else {
			m.buckets[sec] = b[k:]
		}
	}
	return n
}

// secondHeap is a min-heap of unix seconds (container/heap).
type secondHeap []int64

func (h secondHeap) Len() int           { return len(h) }
func (h secondHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h secondHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *secondHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *secondHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Open checks that nonce is one of ours and unexpired, without spending it,
// and returns its expiry and identity (the bytes the MAC covers: another
// encoding of them is the same nonce), for callers that record spent nonces
// in shared storage.
func (n *Nonces) Open(nonce string) (time.Time, []byte, error) {
	exp, key, err := n.parse(nonce)
	if err != nil {
		return time.Time{}, nil, err
	}
	return exp, []byte(key), nil
}
