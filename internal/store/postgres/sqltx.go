package postgres

import (
	"context"

	"github.com/agentcert/agentcert/internal/store"
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

func (d pgDB) MapErr(err error, format string, args ...any) error {
	return mapErr(err, format, args...)
}
