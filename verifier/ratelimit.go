package verifier

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/agentcert/agentcert/internal/admission"
	"golang.org/x/time/rate"
)

// Rate is a token bucket: Per requests per Per-period, with bursts of up
// to Burst. The zero Rate is unlimited; a Rate that sets some of its
// fields but not both Requests and Per is refused by NewRateLimiter, since
// it would limit nothing.
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
const DefaultMaxBuckets = admission.DefaultMaxKeys

// RateLimiter holds the token buckets of every (class, principal) and
// (class, agent subject). Build it with NewRateLimiter and set it as
// MiddlewareOptions.Limits; it is safe for concurrent use.
type RateLimiter struct {
	classes []RateClass

	mu      sync.Mutex // makes taking a principal's and an agent's token one step
	buckets *admission.Buckets
}

// NewRateLimiter returns the limiter for classes, holding at most
// maxBuckets buckets (0 = DefaultMaxBuckets). A class without a name or
// actions, a negative rate, a rate that is set but lacks Requests or Per,
// or an action that is not a pattern is an error.
func NewRateLimiter(classes []RateClass, maxBuckets int) (*RateLimiter, error) {
	for i, c := range classes {
		if c.Name == "" || len(c.Actions) == 0 {
			return nil, fmt.Errorf("verifier: rate class %d needs a name and actions", i)
		}
		for _, r := range []Rate{c.PerPrincipal, c.PerAgent} {
			if r.Requests < 0 || r.Per < 0 || r.Burst < 0 {
				return nil, fmt.Errorf("verifier: rate class %s has a negative rate", c.Name)
			}
			if r != (Rate{}) && !r.limited() {
				// Unlimited were it accepted: fail at construction instead.
				return nil, fmt.Errorf("verifier: rate class %s has a rate without both Requests and Per", c.Name)
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
	return &RateLimiter{classes: classes, buckets: admission.NewBuckets(maxBuckets)}, nil
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

// perPrincipal reports whether the action's class limits each principal.
func (l *RateLimiter) perPrincipal(action string) bool {
	if l == nil || action == "" {
		return false
	}
	c := l.class(action)
	return c != nil && c.PerPrincipal.limited()
}

// perAgent reports whether the action's class limits each agent subject.
func (l *RateLimiter) perAgent(action string) bool {
	if l == nil || action == "" {
		return false
	}
	c := l.class(action)
	return c != nil && c.PerAgent.limited()
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
		res := l.buckets.Reserve(c.Name+"\x00"+b.kind+"\x00"+b.id, b.r.limit(), b.r.burst(), now)
		if d := admission.Wait(res, now); d > 0 {
			wait = max(wait, d)
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
