package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The single writer path. Every state change is a write submitted to the
// group-commit queue, whose one goroutine owns the only write connection:
// it takes all queued writes (at most maxBatch), runs each inside its own
// SAVEPOINT of one transaction, so that a failing write is rolled back
// alone, commits once (synchronous=FULL: one fsync of the WAL for the whole
// batch), and only then answers each caller.

// wtx is what an op sees: the batch transaction, inside the op's savepoint.
// Its statements never use a caller's context: cancelling one caller must
// not interrupt a transaction shared with others.
type wtx struct {
	s    *SQLite
	tx   *sql.Tx
	head auditHead
	// bound are the prepared statements already bound to tx, so that each
	// is bound once per batch and not once per use.
	bound map[string]*sql.Stmt
}

// auditHead is the last entry of the audit chain as the batch has left it.
// The batch's first append reads it from the database; later appends of
// the same batch take it from here. That is safe because the batch
// transaction holds the write lock from its BEGIN (_txlock=immediate): no
// other connection or process appends until it commits. A new batch reads
// the head again, so appends made by another process between batches (the
// CLI writes the same file) are chained onto, never over.
type auditHead struct {
	known bool
	seq   int64
	hash  []byte
}

// stmt returns q as a statement of this transaction: one prepared on the
// write connection between batches when q has been seen before (SQLite then
// skips parsing it again), else nil, and q is noted for preparing.
func (w *wtx) stmt(q string) *sql.Stmt {
	if st, ok := w.bound[q]; ok {
		return st
	}
	if st, ok := w.s.stmts[q]; ok {
		st = w.tx.StmtContext(context.Background(), st)
		if w.bound == nil {
			w.bound = make(map[string]*sql.Stmt, 8)
		}
		w.bound[q] = st
		return st
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

// write submits fn to the writer and waits for its commit (see
// groupcommit.Queue.Submit): nil always means durable and an error always
// means not written.
func (s *SQLite) write(ctx context.Context, fn func(*wtx) error) error {
	err := unwritable(s.q.Submit(ctx, fn))
	if errors.Is(err, ErrUnwritable) {
		s.refused.Add(1)
	}
	return err
}

// commitBatch runs the writes of one group commit, each inside its own
// SAVEPOINT of one transaction.
func (s *SQLite) commitBatch(fns []func(*wtx) error, errs []error) error {
	ctx := context.Background()
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	w := &wtx{s: s, tx: tx}
	for i, fn := range fns {
		head := w.head // an op rolled back to its savepoint leaves no audit entry behind
		if _, err := w.exec("SAVEPOINT op"); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("store: savepoint: %w", err)
		}
		if err := fn(w); err != nil {
			errs[i] = err
			w.head = head
			if _, rerr := w.exec("ROLLBACK TO op"); rerr != nil {
				// SQLite rolled the whole transaction back (I/O error,
				// disk full, interrupt): nothing in this batch is written.
				_ = tx.Rollback()
				return fmt.Errorf("store: batch rolled back after %w", errors.Join(err, rerr))
			}
		}
		if _, err := w.exec("RELEASE op"); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("store: release savepoint: %w", err)
		}
	}
	if f := s.commitFault.Load(); f != nil {
		_ = tx.Rollback()
		return fmt.Errorf("store: commit: %w", *f)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}
