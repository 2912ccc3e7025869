package store

import (
	"context"
	"database/sql"
)

// The SQLite store as the shared SQL logic (sqlshared.go) sees it.

// runShared runs op as one write.
func (s *SQLite) runShared(ctx context.Context, op func(SQLTx) error) error {
	return s.write(ctx, func(w *wtx) error { return op(w) })
}

// Exec runs a statement of the write and returns how many rows it changed.
func (w *wtx) Exec(q string, args ...any) (int64, error) {
	res, err := w.exec(q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (w *wtx) QueryRow(q string, args ...any) Scanner { return w.queryRow(q, args...) }

func (w *wtx) Query(q string, args ...any) (Rows, error) {
	rows, err := w.tx.QueryContext(context.Background(), q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (w *wtx) AppendAudit(a AuditEntry) (AuditEntry, error) { return w.appendAudit(a) }

func (w *wtx) MapErr(err error, format string, args ...any) error {
	return mapErr(err, format, args...)
}

// Lock is empty: the SQLite store has one writer, so what a write reads
// cannot change under it.
func (w *wtx) Lock() string { return "" }

// sqliteDB is the read pool.
type sqliteDB struct{ s *SQLite }

func (d sqliteDB) Acquire() (func(), error) { return d.s.acquire() }

func (d sqliteDB) QueryRow(ctx context.Context, q string, args ...any) Scanner {
	return d.s.rdb.QueryRowContext(ctx, q, args...)
}

func (d sqliteDB) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	rows, err := d.s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

// Snapshot runs fn in a read transaction, which in WAL mode sees one state
// of the database.
func (d sqliteDB) Snapshot(ctx context.Context, what string, fn func(Querier) error) error {
	release, err := d.s.acquire()
	if err != nil {
		return err
	}
	defer release()
	tx, err := d.s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(err, "%s", what)
	}
	defer tx.Rollback()
	if err := fn(sqlQuerier{ctx, tx}); err != nil {
		return mapErr(err, "%s", what)
	}
	return nil
}

// sqlQuerier runs the queries of a snapshot.
type sqlQuerier struct {
	ctx context.Context
	tx  *sql.Tx
}

func (q sqlQuerier) QueryRow(query string, args ...any) Scanner {
	return q.tx.QueryRowContext(q.ctx, query, args...)
}

func (q sqlQuerier) Query(query string, args ...any) (Rows, error) {
	rows, err := q.tx.QueryContext(q.ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (d sqliteDB) MapErr(err error, format string, args ...any) error {
	return mapErr(err, format, args...)
}

// sqlRows are *sql.Rows as Rows: a failure to close is also reported by Err.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }
