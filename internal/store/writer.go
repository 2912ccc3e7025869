package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
)

// The single writer path. Every state change is an op submitted to one
// goroutine that owns the only write connection. The goroutine takes all
// queued ops (at most maxBatch), runs each inside its own SAVEPOINT of one
// transaction, so that a failing op is rolled back alone, commits once
// (synchronous=FULL: one fsync of the WAL for the whole batch), and only
// then answers each caller. This is group commit: the cost of durability is
// shared by every write that arrived while the previous commit was syncing.

const (
	opQueued int32 = iota
	opTaken
	opAbandoned
)

type op struct {
	state atomic.Int32
	fn    func(*wtx) error
	done  chan error // buffered: the writer never blocks on a caller
}

// wtx is what an op sees: the batch transaction, inside the op's savepoint.
// Its statements never use a caller's context: cancelling one caller must
// not interrupt a transaction shared with others.
type wtx struct {
	s  *SQLite
	tx *sql.Tx
}

// stmt returns q as a statement of this transaction: one prepared on the
// write connection between batches when q has been seen before (SQLite then
// skips parsing it again), else nil, and q is noted for preparing.
func (w *wtx) stmt(q string) *sql.Stmt {
	if st, ok := w.s.stmts[q]; ok {
		return w.tx.StmtContext(context.Background(), st)
	}
	w.s.unprepared[q] = struct{}{}
	return nil
}

func (w *wtx) exec(q string, args ...any) (sql.Result, error) {
	if st := w.stmt(q); st != nil {
		return st.ExecContext(context.Background(), args...)
	}
	return w.tx.ExecContext(context.Background(), q, args...)
}

func (w *wtx) queryRow(q string, args ...any) *sql.Row {
	if st := w.stmt(q); st != nil {
		return st.QueryRowContext(context.Background(), args...)
	}
	return w.tx.QueryRowContext(context.Background(), q, args...)
}

// maxPrepared bounds the writer's statement cache.
const maxPrepared = 128

// prepareSeen prepares, on the write connection and outside any
// transaction, the statements the last batches used unprepared.
func (s *SQLite) prepareSeen() {
	for q := range s.unprepared {
		delete(s.unprepared, q)
		if len(s.stmts) >= maxPrepared {
			continue
		}
		if st, err := s.wdb.Prepare(q); err == nil {
			s.stmts[q] = st
		}
	}
}

// write submits fn to the writer and waits for its commit. If ctx ends while
// fn is still queued, fn is dropped and ctx.Err() returned; once the writer
// has taken fn, write waits for the outcome so that nil always means durable
// and an error always means not written.
func (s *SQLite) write(ctx context.Context, fn func(*wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{fn: fn, done: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.ops <- o:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()
	select {
	case err := <-o.done:
		return unwritable(err)
	case <-ctx.Done():
		if o.state.CompareAndSwap(opQueued, opAbandoned) {
			return ctx.Err()
		}
		return unwritable(<-o.done)
	}
}

// writer is the goroutine that owns the write connection. It exits when ops
// is closed and drained.
func (s *SQLite) writer() {
	defer close(s.done)
	batch := make([]*op, 0, s.opt.maxBatch)
	for {
		o, ok := <-s.ops
		if !ok {
			return
		}
		batch = append(batch[:0], o)
	fill:
		for len(batch) < s.opt.maxBatch {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		s.commitBatch(batch)
		clear(batch)
		s.prepareSeen()
	}
}

// commitBatch runs the ops of one group commit and answers them.
func (s *SQLite) commitBatch(batch []*op) {
	ops := batch[:0:0]
	for _, o := range batch {
		if o.state.CompareAndSwap(opQueued, opTaken) {
			ops = append(ops, o)
		}
	}
	if len(ops) == 0 {
		return
	}
	errs := make([]error, len(ops))
	answer := func() {
		for i, o := range ops {
			o.done <- errs[i]
		}
	}
	// abort fails every op not already failed by its own error.
	abort := func(tx *sql.Tx, err error) {
		if tx != nil {
			_ = tx.Rollback()
		}
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		answer()
	}
	ctx := context.Background()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		abort(nil, fmt.Errorf("store: begin: %w", err))
		return
	}
	w := &wtx{s: s, tx: tx}
	for i, o := range ops {
		if _, err := w.exec("SAVEPOINT op"); err != nil {
			abort(tx, fmt.Errorf("store: savepoint: %w", err))
			return
		}
		if err := o.fn(w); err != nil {
			errs[i] = err
			if _, rerr := w.exec("ROLLBACK TO op"); rerr != nil {
				// SQLite rolled the whole transaction back (I/O error,
				// disk full, interrupt): nothing in this batch is written.
				abort(tx, fmt.Errorf("store: batch rolled back after %w", errors.Join(err, rerr)))
				return
			}
		}
		if _, err := w.exec("RELEASE op"); err != nil {
			abort(tx, fmt.Errorf("store: release savepoint: %w", err))
			return
		}
	}
	if f := s.commitFault.Load(); f != nil {
		abort(tx, fmt.Errorf("store: commit: %w", *f))
		return
	}
	if err := tx.Commit(); err != nil {
		abort(nil, fmt.Errorf("store: commit: %w", err))
		return
	}
	s.commits.Add(1)
	for _, err := range errs {
		if err == nil {
			s.written.Add(1)
		}
	}
	answer()
}
