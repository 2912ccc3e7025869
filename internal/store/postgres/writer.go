package postgres

import (
	"context"
	"errors"
	"fmt"

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
	err := unwritable(s.q.Submit(ctx, fn))
	if errors.Is(err, store.ErrUnwritable) {
		s.refused.Add(1)
	}
	return err
}

// commitBatch runs one group commit: the audit head locked first, then each
// write in its own savepoint.
func (s *Store) commitBatch(fns []func(*wtx) error, errs []error) error {
	ctx := context.Background()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: postgres: begin: %w", err)
	}
	w := &wtx{s: s, tx: tx}
	fail := func(err error) error {
		_ = tx.Rollback(ctx)
		return err
	}
	if err := tx.QueryRow(ctx, "SELECT seq, hash FROM audit_head FOR UPDATE").Scan(&w.headSeq, &w.headHash); err != nil {
		return fail(fmt.Errorf("store: postgres: lock audit head: %w", err))
	}
	startSeq := w.headSeq
	if len(fns) == 1 {
		// One write: its failure rolls the whole transaction back, so it
		// needs no savepoint (two round trips fewer under light load).
		if err := fns[0](w); err != nil {
			errs[0] = err
			_ = fail(err)
			return nil
		}
	} else if err := w.runEach(fns, errs); err != nil {
		return fail(err)
	}
	if w.headSeq != startSeq {
		if _, err := w.exec("UPDATE audit_head SET seq = $1, hash = $2", w.headSeq, w.headHash); err != nil {
			return fail(fmt.Errorf("store: postgres: move audit head: %w", err))
		}
	}
	if f := s.commitFault.Load(); f != nil {
		return fail(fmt.Errorf("store: postgres: commit: %w", *f))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: postgres: commit: %w", err)
	}
	return nil
}

// runEach runs every op in its own savepoint, recording its error in errs
// and rolling back only its own changes (and its audit entries) when it
// fails. A non-nil result means the transaction itself is lost.
func (w *wtx) runEach(fns []func(*wtx) error, errs []error) error {
	for i, fn := range fns {
		if _, err := w.exec("SAVEPOINT op"); err != nil {
			return fmt.Errorf("store: postgres: savepoint: %w", err)
		}
		seq, hash := w.headSeq, w.headHash
		if err := fn(w); err != nil {
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
