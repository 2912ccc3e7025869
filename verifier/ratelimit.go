package verifier

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket: Per requests per Per-period, with bursts of up
// to Burst. The zero Rate is unlimited.
type Rate struct {
	Requests int           // tokens added per Per
	Per      time.Duration // e.g. time.Minute
	Burst    int           // bucket size; 0 means Requests
}

func (r Rate) limited() bool { return r.Requests > 0 && r.Per > 0 }

func (r Rate) limit() rate.Limit { return rate.Limit(float64(r.Requests) / r.Per.Seconds()) }

func (r Rate) burst() int {
	if r.Burst > 0 {
		return r.Burst
	}
	return r.Requests
}

// RateClass is the per-agent terms for one class of permissions: the
// actions it covers (resource:verb patterns as in permissions, "*" for a
// whole resource's verbs or for every action) and the token buckets each
// principal and each agent subject gets for them. The first class whose
// pattern matches a request's action applies; a request that matches no
// class is not limited.
type RateClass struct {
	Name         string
	Actions      []string
	PerPrincipal Rate
	PerAgent     Rate
}

// DefaultMaxBuckets bounds the token buckets a limiter holds.
const DefaultMaxBuckets = 100000

// RateLimiter holds the token buckets of every (class, principal) and
// (class, agent subject). Build it with NewRateLimiter and set it as
// MiddlewareOptions.Limits; it is safe for concurrent use.
type RateLimiter struct {
	classes []RateClass
	max     int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// NewRateLimiter returns the limiter for classes, holding at most
// maxBuckets buckets (0 = DefaultMaxBuckets). A class without a name or
// actions, a negative rate or an action that is not a pattern is an error.
func NewRateLimiter(classes []RateClass, maxBuckets int) (*RateLimiter, error) {
	max := maxBuckets
	for i, c := range classes {
		if c.Name == "" || len(c.Actions) == 0 {
			return nil, fmt.Errorf("verifier: rate class %d needs a name and actions", i)
		}
		for _, r := range []Rate{c.PerPrincipal, c.PerAgent} {
			if r.Requests < 0 || r.Per < 0 || r.Burst < 0 {
				return nil, fmt.Errorf("verifier: rate class %s has a negative rate", c.Name)
			}
		}
		for _, a := range c.Actions {
			if a == "*" {
				continue
			}
			if _, _, ok := parseAction(a); !ok {
				return nil, fmt.Errorf("verifier: rate class %s: %q is not a resource:verb pattern", c.Name, a)
			}
		}
	}
	if max <= 0 {
		max = DefaultMaxBuckets
	}
	return &RateLimiter{classes: classes, max: max, buckets: map[string]*rate.Limiter{}}, nil
}

func (l *RateLimiter) class(action string) *RateClass {
	res, verb, ok := parseAction(action)
	for i := range l.classes {
		for _, p := range l.classes[i].Actions {
			if p == "*" {
				return &l.classes[i]
			}
			pr, pv, _ := parseAction(p)
			if ok && actionMatches(pr, pv, res, verb) {
				return &l.classes[i]
			}
		}
	}
	return nil
}

// errLimited is returned with the wait before a retry can succeed.
var errLimited = errors.New("rate limited")

// allow takes one token from the principal's and the agent's bucket of
// the action's class, or neither; it returns how long to wait when one
// is empty.
func (l *RateLimiter) allow(action, principal, agent string, now time.Time) (time.Duration, error) {
	if l == nil || action == "" {
		return 0, nil
	}
	c := l.class(action)
	if c == nil {
		return 0, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var held []*rate.Reservation
	var wait time.Duration
	for _, b := range []struct {
		kind, id string
		r        Rate
	}{{"principal", principal, c.PerPrincipal}, {"agent", agent, c.PerAgent}} {
		if !b.r.limited() {
			continue
		}
		lim := l.bucket(c.Name+"\x00"+b.kind+"\x00"+b.id, b.r, now)
		res := lim.ReserveN(now, 1)
		if !res.OK() {
			wait = time.Duration(math.MaxInt64)
			continue
		}
		if d := res.DelayFrom(now); d > 0 {
			res.CancelAt(now)
			if d > wait {
				wait = d
			}
			continue
		}
		held = append(held, res)
	}
	if wait > 0 {
		for _, r := range held {
			r.CancelAt(now)
		}
		return wait, errLimited
	}
	return 0, nil
}

func (l *RateLimiter) bucket(key string, r Rate, now time.Time) *rate.Limiter {
	if b, ok := l.buckets[key]; ok {
		return b
	}
	if len(l.buckets) >= l.max {
		// Drop buckets that have refilled: forgetting them loses nothing.
		for k, b := range l.buckets {
			if b.TokensAt(now) >= float64(b.Burst()) {
				delete(l.buckets, k)
			}
		}
	}
	b := rate.NewLimiter(r.limit(), r.burst())
	if len(l.buckets) < l.max {
		l.buckets[key] = b
	} else {
		// Still full: the caller gets an empty bucket, so the least
		// trusted case (many identities at once) fails closed.
		b.AllowN(now, r.burst())
	}
	return b
}
