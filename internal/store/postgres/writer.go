package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentcert/agentcert/internal/store"
)

// The write path, as in the SQLite store: one goroutine takes every queued
// write (at most maxBatch), runs each in its own savepoint of one
// transaction, commits once and then answers each caller. The transaction
// starts by locking the audit chain's head row, which every node's writer
// does, so that batches of different nodes follow one another and the
// chain stays linear.

const (
	opQueued int32 = iota
	opTaken
	opAbandoned
)

type op struct {
	state atomic.Int32
	fn    func(*wtx) error
	done  chan error
}

// wtx is what an op sees: the batch transaction inside the op's savepoint,
// and the chain head as of the op's start. Statements never use a caller's
// context.
type wtx struct {
	s        *Store
	tx       pgx.Tx
	headSeq  int64
	headHash []byte
}

func (w *wtx) exec(q string, args ...any) (pgconn.CommandTag, error) {
	return w.tx.Exec(context.Background(), q, args...)
}

func (w *wtx) queryRow(q string, args ...any) pgx.Row {
	return w.tx.QueryRow(context.Background(), q, args...)
}

func (w *wtx) query(q string, args ...any) (pgx.Rows, error) {
	return w.tx.Query(context.Background(), q, args...)
}

// write submits fn and waits for its commit; see the store.Store contract.
func (s *Store) write(ctx context.Context, fn func(*wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{fn: fn, done: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return store.ErrClosed
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

func (s *Store) writer() {
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
	}
}

func (s *Store) commitBatch(batch []*op) {
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
	ctx := context.Background()
	abort := func(tx pgx.Tx, err error) {
		if tx != nil {
			_ = tx.Rollback(ctx)
		}
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		answer()
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		abort(nil, fmt.Errorf("store: postgres: begin: %w", err))
		return
	}
	w := &wtx{s: s, tx: tx}
	if err := tx.QueryRow(ctx, "SELECT seq, hash FROM audit_head FOR UPDATE").Scan(&w.headSeq, &w.headHash); err != nil {
		abort(tx, fmt.Errorf("store: postgres: lock audit head: %w", err))
		return
	}
	startSeq := w.headSeq
	if len(ops) == 1 {
		// One write: its failure rolls the whole transaction back, so it
		// needs no savepoint (two round trips fewer under light load).
		if err := ops[0].fn(w); err != nil {
			_ = tx.Rollback(ctx)
			errs[0] = err
			answer()
			return
		}
	} else if err := w.runEach(ops, errs); err != nil {
		abort(tx, err)
		return
	}
	if w.headSeq != startSeq {
		if _, err := w.exec("UPDATE audit_head SET seq = $1, hash = $2", w.headSeq, w.headHash); err != nil {
			abort(tx, fmt.Errorf("store: postgres: move audit head: %w", err))
			return
		}
	}
	if f := s.commitFault.Load(); f != nil {
		abort(tx, fmt.Errorf("store: postgres: commit: %w", *f))
		return
	}
	if err := tx.Commit(ctx); err != nil {
		abort(nil, fmt.Errorf("store: postgres: commit: %w", err))
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

// runEach runs every op in its own savepoint, recording its error in errs
// and rolling back only its own changes (and its audit entries) when it
// fails. A non-nil result means the transaction itself is lost.
func (w *wtx) runEach(ops []*op, errs []error) error {
	for i, o := range ops {
		if _, err := w.exec("SAVEPOINT op"); err != nil {
			return fmt.Errorf("store: postgres: savepoint: %w", err)
		}
		seq, hash := w.headSeq, w.headHash
		if err := o.fn(w); err != nil {
			errs[i] = err
			w.headSeq, w.headHash = seq, hash
			if _, rerr := w.exec("ROLLBACK TO SAVEPOINT op"); rerr != nil {
				return fmt.Errorf("store: postgres: batch rolled back after %w", errors.Join(err, rerr))
			}
		}
		if _, err := w.exec("RELEASE SAVEPOINT op"); err != nil {
			return fmt.Errorf("store: postgres: release savepoint: %w", err)
		}
	}
	return nil
}
