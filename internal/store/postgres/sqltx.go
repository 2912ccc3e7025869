package postgres

import (
	"context"

	"github.com/agentcert/agentcert/internal/store"
	"github.com/jackc/pgx/v5"
)

// The PostgreSQL store as the shared SQL logic (store.SQLBase) sees it: its
// statements come with ? placeholders, numbered here.

// runShared runs op as one write.
func (s *Store) runShared(ctx context.Context, op func(store.SQLTx) error) error {
	return s.write(ctx, func(w *wtx) error { return op(w) })
}

// Exec runs a statement of the write and returns how many rows it changed.
func (w *wtx) Exec(q string, args ...any) (int64, error) {
	tag, err := w.exec(store.Numbered(q), args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (w *wtx) QueryRow(q string, args ...any) store.Scanner {
	return w.queryRow(store.Numbered(q), args...)
}

func (w *wtx) Query(q string, args ...any) (store.Rows, error) {
	return w.query(store.Numbered(q), args...)
}

func (w *wtx) AppendAudit(a store.AuditEntry) (store.AuditEntry, error) {
	return w.appendAudit(a)
}

func (w *wtx) MapErr(err error, format string, args ...any) error {
	return mapErr(err, format, args...)
}

// Lock locks the rows a write reads: other nodes write beside this one.
func (w *wtx) Lock() string { return " FOR UPDATE" }

// pgDB is the pool the reads use.
type pgDB struct{ s *Store }

func (d pgDB) Acquire() (func(), error) { return d.s.acquire() }

func (d pgDB) QueryRow(ctx context.Context, q string, args ...any) store.Scanner {
	return d.s.pool.QueryRow(ctx, store.Numbered(q), args...)
}

func (d pgDB) Query(ctx context.Context, q string, args ...any) (store.Rows, error) {
	return d.s.pool.Query(ctx, store.Numbered(q), args...)
}

// Snapshot runs fn in a read-only REPEATABLE READ transaction, so that its
// queries see one state of the database.
func (d pgDB) Snapshot(ctx context.Context, what string, fn func(store.Querier) error) error {
	release, err := d.s.acquire()
	if err != nil {
		return err
	}
	defer release()
	tx, err := d.s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return mapErr(err, "%s", what)
	}
	defer tx.Rollback(context.Background())
	if err := fn(pgQuerier{ctx, tx}); err != nil {
		return mapErr(err, "%s", what)
	}
	return nil
}

// pgQuerier runs the queries of a snapshot.
type pgQuerier struct {
	ctx context.Context
	tx  pgx.Tx
}

func (q pgQuerier) QueryRow(sql string, args ...any) store.Scanner {
	return q.tx.QueryRow(q.ctx, store.Numbered(sql), args...)
}

func (q pgQuerier) Query(sql string, args ...any) (store.Rows, error) {
	return q.tx.Query(q.ctx, store.Numbered(sql), args...)
}

func (d pgDB) MapErr(err error, format string, args ...any) error {
	return mapErr(err, format, args...)
}
