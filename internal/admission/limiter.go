package admission

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Reasons a caller is not admitted.
var (
	// ErrQueueFull: every slot is taken and the queue is at its bound.
	ErrQueueFull = errors.New("admission: queue full")
	// ErrQueueTimeout: the caller waited the whole queue timeout (or, while
	// the limiter is overloaded, the overload wait).
	ErrQueueTimeout = errors.New("admission: waited too long in the queue")
)

// Limits are one Limiter's bounds.
type Limits struct {
	MaxConcurrent int           // callers admitted at once; at least 1
	MaxQueue      int           // callers waiting at once; 0 for none
	QueueTimeout  time.Duration // longest wait in the queue; positive

	// OverloadAfter is how long the queue must have stayed long for the
	// limiter to count as overloaded, and how long it must then stay short
	// for the overload to end; 0 never counts as overloaded (first come
	// first served, QueueTimeout for everyone). A queue is long when it
	// holds more waiters than slots and more work than the slots get
	// through in OverloadWait (waiters × the mean time a slot is held >
	// slots × OverloadWait): its newest waiter would wait longer than
	// that, first come first served. A queue that stands that long is not
	// absorbing a burst, it only adds its length to the latency of every
	// admitted caller; while overloaded the newest waiter is admitted
	// first, and a waiter passed over for four turns of a slot (the mean
	// hold time over the slots, within OverloadWait/10 and OverloadWait)
	// is refused rather than admitted late. Under a load the
	// slots keep up with, the queue stays short however many callers take
	// turns in it (a queue no longer than the slots is one round of work:
	// slow requests, not overload); under a load they do not, it stays
	// long, or the waits cut keep it short by refusing callers, so a queue
	// that empties for a moment does not end the overload: only a queue
	// that stays short, with nobody refused, for OverloadAfter does (first
	// come first served again at once, its next callers would wait the
	// long QueueTimeout until the overload was seen anew).
	OverloadAfter time.Duration
	// OverloadWait is the queueing delay the limiter aims at: a queue of
	// more work than that is long, and while overloaded nobody waits
	// longer (most far less, see above); positive when OverloadAfter is set
	// (and used only up to QueueTimeout).
	OverloadWait time.Duration
}

// Limiter admits at most MaxConcurrent callers at once and queues at most
// MaxQueue more. Normally the queue is first come first served; once it has
// stayed long (Limits.OverloadAfter) for OverloadAfter, it is served newest
// first and its waits are cut, until it has stayed short, with nobody
// refused, for OverloadAfter. It is safe for concurrent use.
type Limiter struct {
	lim Limits
	now func() time.Time

	mu           sync.Mutex
	active       int
	head, tail   *waiter       // oldest, newest
	queued       int           // waiters in the list
	meanHold     time.Duration // moving mean of how long a slot is held
	crowdedSince time.Time     // when the queue last grew past the slots
	lastRefusal  time.Time     // when a waiter was last refused while overloaded
	longSince    time.Time     // when the queue last became long (zero: it is short)
	shortSince   time.Time     // when the queue last became short (zero: it is long)
	overload     bool          // overloaded; cleared once the queue has stayed short for OverloadAfter

	activeN, waitingN atomic.Int64 // copies of active and queued for readers
}

// waiter is one queued caller. Its fields other than ready are guarded by
// the limiter's mutex.
type waiter struct {
	ready      chan struct{} // closed when granted a slot or dropped
	at         time.Time     // when it joined the queue
	granted    bool          // it holds a slot (set with ready closed)
	grantedAt  time.Time     // when it was granted one
	dropped    bool          // removed while overloaded, having waited OverloadWait
	prev, next *waiter
}

// Option changes a Limiter.
type Option func(*Limiter)

// WithClock makes the limiter read the time from now (tests); the waits
// themselves still run on real timers.
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.now = now } }

// New returns a Limiter with lim, or an error naming the bound that is out
// of range.
func New(lim Limits, opts ...Option) (*Limiter, error) {
	switch {
	case lim.MaxConcurrent < 1:
		return nil, fmt.Errorf("admission: max concurrent %d, want at least 1", lim.MaxConcurrent)
	case lim.MaxQueue < 0:
		return nil, fmt.Errorf("admission: max queue %d, want at least 0", lim.MaxQueue)
	case lim.QueueTimeout <= 0:
		return nil, fmt.Errorf("admission: queue timeout %s, want a positive duration", lim.QueueTimeout)
	case lim.OverloadAfter < 0:
		return nil, fmt.Errorf("admission: overload after %s, want 0 (never) or a positive duration", lim.OverloadAfter)
	case lim.OverloadAfter > 0 && lim.OverloadWait <= 0:
		return nil, fmt.Errorf("admission: overload wait %s, want a positive duration", lim.OverloadWait)
	}
	l := &Limiter{lim: lim, now: time.Now}
	for _, o := range opts {
		o(l)
	}
	return l, nil
}

// Limits returns the limiter's bounds.
func (l *Limiter) Limits() Limits { return l.lim }

// Ticket is an admitted caller's slot.
type Ticket struct {
	l      *Limiter
	at     time.Time // when the slot was taken
	done   atomic.Bool
	Queued bool // the caller waited in the queue before it was admitted
}

// Release gives the slot back (to a waiter, if there is one); calls after
// the first do nothing.
func (t *Ticket) Release() {
	if t.done.Swap(true) {
		return
	}
	t.l.release(t.at)
}

// Acquire admits the caller, possibly after a wait in the queue, or tells
// why not: ErrQueueFull, ErrQueueTimeout, or ctx's error when ctx ended
// while the caller waited. An admitted caller must Release its ticket.
func (l *Limiter) Acquire(ctx context.Context) (*Ticket, error) {
	l.mu.Lock()
	now := l.now()
	overloaded := l.overloaded(now)
	if overloaded {
		l.dropStale(now)
	}
	if l.active < l.lim.MaxConcurrent && l.queued == 0 {
		l.active++
		l.activeN.Store(int64(l.active))
		l.mu.Unlock()
		return &Ticket{l: l, at: now}, nil
	}
	if l.queued >= l.lim.MaxQueue {
		if l.overload {
			l.lastRefusal = now
		}
		l.mu.Unlock()
		return nil, ErrQueueFull
	}
	w := &waiter{ready: make(chan struct{}), at: now}
	l.push(w, now)
	wait := l.lim.QueueTimeout
	if cut := l.cut(); overloaded && cut < wait {
		wait = cut
	}
	l.mu.Unlock()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	var why error
	select {
	case <-w.ready:
	case <-timer.C:
		why = ErrQueueTimeout
	case <-ctx.Done():
		why = fmt.Errorf("admission: left the queue: %w", ctx.Err())
	}

	l.mu.Lock()
	if now := l.now(); !w.granted && !w.dropped && l.overloaded(now) {
		// Nobody waits longer than OverloadWait while overloaded: a
		// waiter timing out refuses, with itself, those that joined
		// before the overload was seen (with the longer timeout).
		l.dropStale(now)
	}
	granted, dropped := w.granted, w.dropped
	if !granted && !dropped {
		now := l.now()
		if why == ErrQueueTimeout && l.overload {
			l.lastRefusal = now
		}
		l.remove(w, now)
	}
	l.mu.Unlock()
	switch {
	case granted && ctx.Err() != nil:
		// Its client went away as the slot came: pass the slot on.
		l.release(time.Time{})
		return nil, fmt.Errorf("admission: left the queue: %w", ctx.Err())
	case granted:
		return &Ticket{l: l, at: w.grantedAt, Queued: true}, nil
	case dropped:
		return nil, ErrQueueTimeout
	}
	return nil, why
}

// holdWeight is the weight of each new hold time in the moving mean.
const holdWeight = 8

// release hands the slot taken at (zero: a slot never used) to a waiter
// (the oldest, or the newest while overloaded) or frees it.
func (l *Limiter) release(at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if !at.IsZero() {
		hold := max(now.Sub(at), 0)
		if l.meanHold == 0 {
			l.meanHold = hold
		} else {
			l.meanHold += (hold - l.meanHold) / holdWeight
		}
	}
	var w *waiter
	if l.overloaded(now) {
		l.dropStale(now)
		w = l.tail
	} else {
		w = l.head
	}
	if w == nil {
		l.active--
		l.activeN.Store(int64(l.active))
		return
	}
	l.remove(w, now)
	w.granted, w.grantedAt = true, now
	close(w.ready)
}

// long reports whether the queue is long (see Limits.OverloadAfter): more
// waiters than slots, and more work than the slots get through in
// OverloadWait by the mean hold time; or, first come first served, an
// oldest waiter who has already waited OverloadWait (the direct reading,
// also before any slot was given back). While overloaded the waits are
// cut, so only the work counts, and before any slot was given back (no
// hold time known) the queue is long. Called with l.mu held.
//
// It returns since when the queue has been long: by the direct reading,
// since the oldest waiter's wait passed OverloadWait with the queue
// already past the slots; by the work, now.
func (l *Limiter) long(now time.Time) (bool, time.Time) {
	if l.queued <= l.lim.MaxConcurrent {
		return false, time.Time{}
	}
	work := time.Duration(l.queued) * l.meanHold
	if work > time.Duration(l.lim.MaxConcurrent)*l.lim.OverloadWait {
		return true, now
	}
	if l.overload && l.meanHold == 0 {
		// Overloaded before any slot was given back: no hold time is
		// known, so the work reads as none, but nothing says the queue
		// drains either. It stays long until a slot comes back.
		return true, now
	}

	if !l.overload && l.head != nil && now.Sub(l.head.at) >= l.lim.OverloadWait {
		since := l.head.at.Add(l.lim.OverloadWait)
		if l.crowdedSince.After(since) {
			since = l.crowdedSince
		}
		return true, since
	}
	return false, time.Time{}
}

// observe notes whether the queue is long or short now, and when it
// became so. Called with l.mu held, after every change to the queue.
func (l *Limiter) observe(now time.Time) {
	if l.lim.OverloadAfter == 0 {
		return
	}
	if long, since := l.long(now); long {
		if l.longSince.IsZero() || since.Before(l.longSince) {
			l.longSince = since
		}
		l.shortSince = time.Time{}
	} else {
		if l.shortSince.IsZero() {
			l.shortSince = now
		}
		l.longSince = time.Time{}
	}
}

// overloaded: the queue has stayed long for OverloadAfter, or was so and
// has not since stayed short, with no waiter refused, for OverloadAfter.
// Called with l.mu held.
func (l *Limiter) overloaded(now time.Time) bool {
	l.observe(now)
	switch {
	case l.lim.OverloadAfter == 0:
	case l.overload && !l.shortSince.IsZero() && now.Sub(l.shortSince) >= l.lim.OverloadAfter && now.Sub(l.lastRefusal) >= l.lim.OverloadAfter:
		// Short, and nobody refused, for OverloadAfter: the load has gone
		// (refusing the waiters passed over for too long keeps the queue
		// short, not the load), first come first served again.
		l.overload = false
		l.observe(now)
	case !l.overload && !l.longSince.IsZero() && now.Sub(l.longSince) >= l.lim.OverloadAfter:
		l.overload = true
		l.observe(now)
	}
	return l.overload
}

// dropStale refuses the waiters, oldest first, that have waited
// OverloadWait or longer (they joined before the overload was seen, with
// the longer timeout). Called with l.mu held.
func (l *Limiter) dropStale(now time.Time) {
	cut := l.cut()
	for w := l.head; w != nil && now.Sub(w.at) >= cut; w = l.head {
		l.lastRefusal = now
		l.remove(w, now)
		w.dropped = true
		close(w.ready)
	}
}

// cut is the longest wait while overloaded: four times the interval at
// which a slot comes free (the mean hold time over the slots), so that a
// waiter passed over for the newer ones a few times is refused rather than
// admitted late, within OverloadWait/10 and OverloadWait. Called with l.mu
// held.
func (l *Limiter) cut() time.Duration {
	c := 4 * l.meanHold / time.Duration(l.lim.MaxConcurrent)
	return min(max(c, l.lim.OverloadWait/10), l.lim.OverloadWait)
}

// push appends w as the newest waiter. Called with l.mu held.
func (l *Limiter) push(w *waiter, now time.Time) {
	w.prev = l.tail
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
	l.queued++
	if l.queued == l.lim.MaxConcurrent+1 {
		l.crowdedSince = now
	}
	l.waitingN.Store(int64(l.queued))
	l.observe(now)
}

// remove unlinks w, which is in the queue. Called with l.mu held.
func (l *Limiter) remove(w *waiter, now time.Time) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next = nil, nil
	l.queued--
	l.waitingN.Store(int64(l.queued))
	l.observe(now)
}

// Active is how many callers hold a slot now.
func (l *Limiter) Active() int { return int(l.activeN.Load()) }

// Waiting is how many callers are in the queue now.
func (l *Limiter) Waiting() int { return int(l.waitingN.Load()) }

// Overloaded tells whether the queue has stayed long for OverloadAfter and
// has not stayed short for OverloadAfter since (so it is served newest
// first, with the short wait).
func (l *Limiter) Overloaded() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.overloaded(l.now())
}
