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

	// OverloadAfter is how long the queue must have stayed non-empty, with
	// more waiters than MaxConcurrent, for the limiter to count as
	// overloaded, and how long it must then stay empty for the overload to
	// end; 0 never counts as overloaded (first come first served,
	// QueueTimeout for everyone). While overloaded the newest waiter is
	// admitted first, and nobody waits longer than OverloadWait: a queue
	// that never drains is not absorbing a burst, it only adds its length
	// to the latency of every admitted caller. (A queue no longer than the
	// slots is one round of work: slow requests, not overload.) A queue
	// that empties for a moment under a load that goes on is still
	// overloaded: were it first come first served again, the next callers
	// would wait the long QueueTimeout until the overload was seen anew.
	OverloadAfter time.Duration
	// OverloadWait is the longest wait while overloaded; positive when
	// OverloadAfter is set (and used only up to QueueTimeout).
	OverloadWait time.Duration
}

// Limiter admits at most MaxConcurrent callers at once and queues at most
// MaxQueue more. Normally the queue is first come first served; once it has
// not been empty for OverloadAfter (and holds more waiters than slots), it
// is served newest first and its waits are cut to OverloadWait, until it
// has stayed empty for OverloadAfter. It is safe for concurrent use.
type Limiter struct {
	lim Limits
	now func() time.Time

	mu            sync.Mutex
	active        int
	head, tail    *waiter   // oldest, newest
	queued        int       // waiters in the list
	nonEmptySince time.Time // when the queue last went from empty to not
	emptySince    time.Time // when the queue last drained
	overload      bool      // overloaded; cleared once the queue has stayed empty for OverloadAfter

	activeN, waitingN atomic.Int64 // copies of active and queued for readers
}

// waiter is one queued caller. Its fields other than ready are guarded by
// the limiter's mutex.
type waiter struct {
	ready      chan struct{} // closed when granted a slot or dropped
	at         time.Time     // when it joined the queue
	granted    bool          // it holds a slot (set with ready closed)
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
	done   atomic.Bool
	Queued bool // the caller waited in the queue before it was admitted
}

// Release gives the slot back (to a waiter, if there is one); calls after
// the first do nothing.
func (t *Ticket) Release() {
	if t.done.Swap(true) {
		return
	}
	t.l.release()
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
		return &Ticket{l: l}, nil
	}
	if l.queued >= l.lim.MaxQueue {
		l.mu.Unlock()
		return nil, ErrQueueFull
	}
	w := &waiter{ready: make(chan struct{}), at: now}
	l.push(w, now)
	wait := l.lim.QueueTimeout
	if overloaded && l.lim.OverloadWait < wait {
		wait = l.lim.OverloadWait
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
		l.remove(w)
	}
	l.mu.Unlock()
	switch {
	case granted && ctx.Err() != nil:
		// Its client went away as the slot came: pass the slot on.
		l.release()
		return nil, fmt.Errorf("admission: left the queue: %w", ctx.Err())
	case granted:
		return &Ticket{l: l, Queued: true}, nil
	case dropped:
		return nil, ErrQueueTimeout
	}
	return nil, why
}

// release hands the slot to a waiter (the oldest, or the newest while
// overloaded) or frees it.
func (l *Limiter) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
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
	l.remove(w)
	w.granted = true
	close(w.ready)
}

// overloaded: the queue has stayed non-empty for OverloadAfter and is
// longer than the slots, or was so and has not stayed empty for
// OverloadAfter since. Called with l.mu held.
func (l *Limiter) overloaded(now time.Time) bool {
	switch {
	case l.lim.OverloadAfter == 0:
	case l.overload && l.queued == 0 && now.Sub(l.emptySince) >= l.lim.OverloadAfter:
		l.overload = false // the load has gone: first come first served again
	case !l.overload && l.queued > l.lim.MaxConcurrent && now.Sub(l.nonEmptySince) >= l.lim.OverloadAfter:
		l.overload = true
	}
	return l.overload
}

// dropStale refuses the waiters, oldest first, that have waited
// OverloadWait or longer (they joined before the overload was seen, with
// the longer timeout). Called with l.mu held.
func (l *Limiter) dropStale(now time.Time) {
	for w := l.head; w != nil && now.Sub(w.at) >= l.lim.OverloadWait; w = l.head {
		l.remove(w)
		w.dropped = true
		close(w.ready)
	}
}

// push appends w as the newest waiter. Called with l.mu held.
func (l *Limiter) push(w *waiter, now time.Time) {
	if l.queued == 0 {
		l.nonEmptySince = now
	}
	w.prev = l.tail
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
	l.queued++
	l.waitingN.Store(int64(l.queued))
}

// remove unlinks w, which is in the queue. Called with l.mu held.
func (l *Limiter) remove(w *waiter) {
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
	if l.queued == 0 {
		l.emptySince = l.now()
	}
	l.waitingN.Store(int64(l.queued))
}

// Active is how many callers hold a slot now.
func (l *Limiter) Active() int { return int(l.activeN.Load()) }

// Waiting is how many callers are in the queue now.
func (l *Limiter) Waiting() int { return int(l.waitingN.Load()) }

// Overloaded tells whether the queue has stayed non-empty for
// OverloadAfter with more waiters than slots, and has not stayed empty for
// OverloadAfter since (so it is served newest first, with the short wait).
func (l *Limiter) Overloaded() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.overloaded(l.now())
}
