package store

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// The logic the SQL stores (this package's SQLite and package postgres)
// share. Each statement is written once, with ? placeholders (a store that
// numbers its placeholders passes them through Numbered); what differs by
// dialect is behind SQLTx and SQLDB: how a statement runs, how a driver's
// errors map to ErrNotFound and ErrConflict, and whether a write must lock
// the rows it reads (several PostgreSQL nodes share one database; a SQLite
// store has one writer).

// Scanner is one row to read: *sql.Row, *sql.Rows, pgx.Row or pgx.Rows.
type Scanner = interface{ Scan(dest ...any) error }

// Rows are the rows of a query (pgx.Rows, or *sql.Rows behind an adapter
// whose Close drops the error, which Err reports).
type Rows interface {
	Scanner
	Next() bool
	Err() error
	Close()
}

// Collect scans every row of rows with scan, then closes rows.
func Collect[T any](rows Rows, scan func(Scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Querier runs the queries of one read snapshot or one write.
type Querier interface {
	QueryRow(q string, args ...any) Scanner
	Query(q string, args ...any) (Rows, error)
}

// SQLDB is the read side of a SQL store.
type SQLDB interface {
	// Acquire registers a read in flight (Close waits for it) or fails
	// with ErrClosed.
	Acquire() (release func(), err error)
	QueryRow(ctx context.Context, q string, args ...any) Scanner
	Query(ctx context.Context, q string, args ...any) (Rows, error)
	// Snapshot runs fn in a read-only transaction, so that its queries see
	// one state of the database; what names it in errors.
	Snapshot(ctx context.Context, what string, fn func(Querier) error) error
	// MapErr wraps err with context, as ErrNotFound or ErrConflict where
	// the driver's error is one.
	MapErr(err error, format string, args ...any) error
}

// ReadOne runs a query expected to return one row, scanned by scan; what
// names it in errors.
func ReadOne[T any](db SQLDB, ctx context.Context, what, q string, scan func(Scanner) (T, error), args ...any) (T, error) {
	var zero T
	release, err := db.Acquire()
	if err != nil {
		return zero, err
	}
	defer release()
	v, err := scan(db.QueryRow(ctx, q, args...))
	if err != nil {
		return zero, db.MapErr(err, "%s", what)
	}
	return v, nil
}

// ReadAll runs a query and scans every row.
func ReadAll[T any](db SQLDB, ctx context.Context, what, q string, scan func(Scanner) (T, error), args ...any) ([]T, error) {
	release, err := db.Acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, db.MapErr(err, "%s", what)
	}
	out, err := Collect(rows, scan)
	if err != nil {
		return nil, db.MapErr(err, "%s", what)
	}
	return out, nil
}

// SQLTx is one write of a SQL store, inside the store's write transaction.
type SQLTx interface {
	// Exec runs a statement and returns how many rows it changed.
	Exec(q string, args ...any) (int64, error)
	Querier
	// AppendAudit chains a to the audit log and returns the stored entry.
	AppendAudit(a AuditEntry) (AuditEntry, error)
	// MapErr is SQLDB.MapErr.
	MapErr(err error, format string, args ...any) error
	// Lock is what ends a SELECT whose rows the write goes on to change:
	// " FOR UPDATE" where other writers share the database, else "".
	Lock() string
}

// audit appends a to the audit log of tx when it is not nil.
func audit(tx SQLTx, a *AuditEntry) error {
	if a == nil {
		return nil
	}
	_, err := tx.AppendAudit(*a)
	return err
}

// Numbered returns q with its ? placeholders numbered $1, $2, ... (q must
// hold no other ?).
func Numbered(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// SQLBase implements the methods both SQL stores implement the same way.
// A store embeds it: DB is its read side, Run submits an op to its writer
// and waits for the commit, Now is its clock and Ord the column that orders
// rows by insertion. AuditHead, when not empty, selects the (seq, hash) of
// the audit chain's head row, which VerifyAudit checks against the last
// entry. Checks of the arguments run before an op is submitted.
type SQLBase struct {
	DB        SQLDB
	Run       func(ctx context.Context, op func(SQLTx) error) error
	Now       func() time.Time
	Ord       string
	AuditHead string
}

// NullNanos converts an optional time: zero or nil is NULL (a nil
// *int64, which every driver writes as NULL).
func NullNanos(t *time.Time, what string) (*int64, error) {
	if t == nil || t.IsZero() {
		return nil, nil
	}
	n, err := Nanos(*t, nil, what)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// FromNull converts an optional time read as a nullable integer.
func FromNull(n *int64) *time.Time {
	if n == nil {
		return nil
	}
	t := FromNanos(*n)
	return &t
}

// nullBytes is b, or NULL when b is nil (the SQLite driver writes a nil
// []byte as an empty blob).
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
