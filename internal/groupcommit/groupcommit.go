// Package groupcommit is the single-writer queue of the stores: every write
// is submitted to one goroutine, which takes all writes queued at that
// moment (at most a batch), hands them to a commit function that runs them
// in one transaction, and only then answers each caller. The cost of a
// durable commit is shared by every write that arrived while the previous
// one was syncing. Before committing a batch that is not full, the writer
// yields the processor once and then takes what was queued meanwhile: on a
// busy machine the goroutines about to submit run first and their writes
// join the batch (at 32 concurrent issuances about 16 writes per commit
// instead of 4, each commit's cost shared four times as widely); on an idle
// one the yield returns at once and adds no latency.
//
// A write whose caller gives up while it is still queued is dropped; once
// the writer has taken it, the caller waits for the outcome, so that nil
// always means committed and an error always means not written.
package groupcommit

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
)

// CommitFunc runs the writes of one batch, in order, inside one
// transaction of its own. It records in errs[i] the error of a write that
// failed alone (its changes rolled back, the others kept) and returns a
// non-nil error when the batch as a whole was not committed; every write
// not already failed then gets that error.
type CommitFunc[W any] func(writes []func(W) error, errs []error) error

// Config sets up a Queue. Zero MaxBatch or Queue take 1; a nil Closed takes
// ErrClosed.
type Config[W any] struct {
	MaxBatch int           // writes per transaction at the most
	Queue    int           // writes waiting at the most before Submit blocks
	Commit   CommitFunc[W] // runs one batch
	// AfterBatch, when set, runs on the writer goroutine after each batch
	// has been answered (for housekeeping of the write connection).
	AfterBatch func()
	// Closed is what Submit and Acquire return once Close was called.
	Closed error
}

// ErrClosed is the default error after Close.
var ErrClosed = errors.New("groupcommit: closed")

const (
	queued int32 = iota
	taken
	abandoned
)

type write[W any] struct {
	state atomic.Int32
	fn    func(W) error
	done  chan error // buffered: the writer never blocks on a caller
}

// Queue is a running single writer. Its zero value is not usable; use New.
type Queue[W any] struct {
	cfg              Config[W]
	mu               sync.RWMutex // guards closed and sends on ops; held shared by reads in flight
	closed           bool
	ops              chan *write[W]
	done             chan struct{}
	commits, written atomic.Int64
}

// New starts the writer goroutine; Close stops it.
func New[W any](cfg Config[W]) *Queue[W] {
	cfg.MaxBatch = max(cfg.MaxBatch, 1)
	cfg.Queue = max(cfg.Queue, 1)
	if cfg.Closed == nil {
		cfg.Closed = ErrClosed
	}
	q := &Queue[W]{cfg: cfg, ops: make(chan *write[W], cfg.Queue), done: make(chan struct{})}
	go q.run()
	return q
}

// Submit queues fn and waits for its batch to commit. If ctx ends while fn
// is still queued, fn is dropped and ctx.Err() returned.
func (q *Queue[W]) Submit(ctx context.Context, fn func(W) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &write[W]{fn: fn, done: make(chan error, 1)}
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		return q.cfg.Closed
	}
	select {
	case q.ops <- w:
	case <-ctx.Done():
		q.mu.RUnlock()
		return ctx.Err()
	}
	q.mu.RUnlock()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		if w.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err()
		}
		return <-w.done
	}
}

// Acquire registers a read in flight, which Close waits for, or fails with
// the Closed error.
func (q *Queue[W]) Acquire() (release func(), err error) {
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		return nil, q.cfg.Closed
	}
	return q.mu.RUnlock, nil
}

// Close stops accepting writes and waits until every write already
// submitted has been committed and answered and every read in flight has
// been released. It reports whether this call closed the queue (false for
// every call after the first).
func (q *Queue[W]) Close() bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.closed = true
	close(q.ops)
	q.mu.Unlock()
	<-q.done
	return true
}

// Stats counts the committed transactions and the writes they held.
func (q *Queue[W]) Stats() (commits, writes int64) {
	return q.commits.Load(), q.written.Load()
}

// take adds to batch the writes queued now, without waiting, until it
// holds MaxBatch. A closed queue adds nothing; run sees the close next.
func (q *Queue[W]) take(batch []*write[W]) []*write[W] {
	for len(batch) < q.cfg.MaxBatch {
		select {
		case w, ok := <-q.ops:
			if !ok {
				return batch
			}
			batch = append(batch, w)
		default:
			return batch
		}
	}
	return batch
}

func (q *Queue[W]) run() {
	defer close(q.done)
	batch := make([]*write[W], 0, q.cfg.MaxBatch)
	for {
		w, ok := <-q.ops
		if !ok {
			return
		}
		batch = q.take(append(batch[:0], w))
		if len(batch) < q.cfg.MaxBatch {
			runtime.Gosched()
			batch = q.take(batch)
		}
		q.commit(batch)
		clear(batch)
		if q.cfg.AfterBatch != nil {
			q.cfg.AfterBatch()
		}
	}
}

// commit runs the writes of batch that are still wanted and answers them.
func (q *Queue[W]) commit(batch []*write[W]) {
	ws := batch[:0:0]
	for _, w := range batch {
		if w.state.CompareAndSwap(queued, taken) {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return
	}
	fns := make([]func(W) error, len(ws))
	for i, w := range ws {
		fns[i] = w.fn
	}
	errs := make([]error, len(ws))
	if err := q.cfg.Commit(fns, errs); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	} else {
		n := int64(0)
		for _, e := range errs {
			if e == nil {
				n++
			}
		}
		if n > 0 {
			q.commits.Add(1)
			q.written.Add(n)
		}
	}
	for i, w := range ws {
		w.done <- errs[i]
	}
}
