package admission

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// Reasons a caller is not admitted.
var (
	// ErrQueueFull: every slot is taken and the queue is at its bound.
	ErrQueueFull = errors.New("admission: queue full")
	// ErrQueueTimeout: the caller waited the whole queue timeout.
	ErrQueueTimeout = errors.New("admission: waited too long in the queue")
)

// Limits are one Limiter's bounds.
type Limits struct {
	MaxConcurrent int           // callers admitted at once; at least 1
	MaxQueue      int           // callers waiting at once; 0 for none
	QueueTimeout  time.Duration // longest wait in the queue; positive
}

// Limiter admits at most MaxConcurrent callers at once and queues at most
// MaxQueue more, first come first served. It is safe for concurrent use.
type Limiter struct {
	lim     Limits
	sem     *semaphore.Weighted
	active  atomic.Int64
	waiting atomic.Int64
}

// New returns a Limiter with lim, or an error naming the bound that is out
// of range.
func New(lim Limits) (*Limiter, error) {
	switch {
	case lim.MaxConcurrent < 1:
		return nil, fmt.Errorf("admission: max concurrent %d, want at least 1", lim.MaxConcurrent)
	case lim.MaxQueue < 0:
		return nil, fmt.Errorf("admission: max queue %d, want at least 0", lim.MaxQueue)
	case lim.QueueTimeout <= 0:
		return nil, fmt.Errorf("admission: queue timeout %s, want a positive duration", lim.QueueTimeout)
	}
	return &Limiter{lim: lim, sem: semaphore.NewWeighted(int64(lim.MaxConcurrent))}, nil
}

// Limits returns the limiter's bounds.
func (l *Limiter) Limits() Limits { return l.lim }

// Ticket is an admitted caller's slot.
type Ticket struct {
	l      *Limiter
	done   atomic.Bool
	Queued bool // the caller waited in the queue before it was admitted
}

// Release gives the slot back; calls after the first do nothing.
func (t *Ticket) Release() {
	if t.done.Swap(true) {
		return
	}
	t.l.active.Add(-1)
	t.l.sem.Release(1)
}

// Acquire admits the caller, possibly after a wait in the queue, or tells
// why not: ErrQueueFull, ErrQueueTimeout, or ctx's error when ctx ended
// while the caller waited. An admitted caller must Release its ticket.
func (l *Limiter) Acquire(ctx context.Context) (*Ticket, error) {
	if l.sem.TryAcquire(1) {
		l.active.Add(1)
		return &Ticket{l: l}, nil
	}
	if l.waiting.Add(1) > int64(l.lim.MaxQueue) {
		l.waiting.Add(-1)
		return nil, ErrQueueFull
	}
	defer l.waiting.Add(-1)
	wctx, cancel := context.WithTimeout(ctx, l.lim.QueueTimeout)
	defer cancel()
	if err := l.sem.Acquire(wctx, 1); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("admission: left the queue: %w", ctx.Err())
		}
		return nil, ErrQueueTimeout
	}
	l.active.Add(1)
	return &Ticket{l: l, Queued: true}, nil
}

// Active is how many callers hold a slot now.
func (l *Limiter) Active() int { return int(l.active.Load()) }

// Waiting is how many callers are in the queue now.
func (l *Limiter) Waiting() int { return int(l.waiting.Load()) }
