package admission

import (
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds the buckets a Buckets holds when given 0.
const DefaultMaxKeys = 100000

// Buckets is a bounded set of token buckets by key. It holds at most
// maxKeys buckets; when full it forgets buckets that have refilled (which
// loses nothing), and a new key that still finds no room gets an empty
// bucket, so that very many keys at once fail closed. It is safe for
// concurrent use.
type Buckets struct {
	max int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// NewBuckets returns an empty set holding at most maxKeys buckets (0 for
// DefaultMaxKeys).
func NewBuckets(maxKeys int) *Buckets {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Buckets{max: maxKeys, buckets: map[string]*rate.Limiter{}}
}

// Reserve reserves one token of key's bucket at now; the bucket is made
// with limit and burst when key is first seen. The caller cancels the
// reservation (CancelAt) if it does not act on it.
func (b *Buckets) Reserve(key string, limit rate.Limit, burst int, now time.Time) *rate.Reservation {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bucket(key, limit, burst, now).ReserveN(now, 1)
}

// Len is how many buckets are held.
func (b *Buckets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.buckets)
}

func (b *Buckets) bucket(key string, limit rate.Limit, burst int, now time.Time) *rate.Limiter {
	if l, ok := b.buckets[key]; ok {
		return l
	}
	if len(b.buckets) >= b.max {
		for k, l := range b.buckets {
			if l.TokensAt(now) >= float64(l.Burst()) {
				delete(b.buckets, k)
			}
		}
	}
	l := rate.NewLimiter(limit, burst)
	if len(b.buckets) < b.max {
		b.buckets[key] = l
	} else {
		l.AllowN(now, burst)
	}
	return l
}

// Wait is how long a reservation made at now would make its caller wait
// (math.MaxInt64 when it can never be met); a positive wait is cancelled,
// so that a refused request costs its key no token.
func Wait(r *rate.Reservation, now time.Time) time.Duration {
	if !r.OK() {
		return time.Duration(math.MaxInt64)
	}
	d := r.DelayFrom(now)
	if d > 0 {
		r.CancelAt(now)
	}
	return d
}

// TokenRate is a token bucket per key, all with one rate: each key may make
// PerSecond requests a second on average, in bursts of up to Burst.
type TokenRate struct {
	limit   rate.Limit
	burst   int
	buckets *Buckets
}

// NewTokenRate returns the per-key limiter: perSecond positive, burst at
// least 1, maxKeys 0 for DefaultMaxKeys.
func NewTokenRate(perSecond float64, burst, maxKeys int) (*TokenRate, error) {
	if !(perSecond > 0) || math.IsInf(perSecond, 0) {
		return nil, fmt.Errorf("admission: token rate %v, want a positive number", perSecond)
	}
	if burst < 1 {
		return nil, fmt.Errorf("admission: token burst %d, want at least 1", burst)
	}
	return &TokenRate{limit: rate.Limit(perSecond), burst: burst, buckets: NewBuckets(maxKeys)}, nil
}

// Allow takes one token from key's bucket at now. When the bucket is empty
// it takes nothing and returns false with how long until a token is there.
func (t *TokenRate) Allow(key string, now time.Time) (bool, time.Duration) {
	if d := Wait(t.buckets.Reserve(key, t.limit, t.burst, now), now); d > 0 {
		return false, d
	}
	return true, 0
}

// Keys is how many buckets are held.
func (t *TokenRate) Keys() int { return t.buckets.Len() }
