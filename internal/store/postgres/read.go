package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// readOne runs a query expected to return one row, scanned by scan.
func readOne[T any](s *Store, ctx context.Context, what, q string, scan func(interface{ Scan(...any) error }) (T, error), args ...any) (T, error) {
	var zero T
	release, err := s.acquire()
	if err != nil {
		return zero, err
	}
	defer release()
	v, err := scan(s.pool.QueryRow(ctx, q, args...))
	if err != nil {
		return zero, mapErr(err, "%s", what)
	}
	return v, nil
}

// readAll runs a query and scans every row.
func readAll[T any](s *Store, ctx context.Context, what, q string, scan func(interface{ Scan(...any) error }) (T, error), args ...any) ([]T, error) {
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, mapErr(err, "%s", what)
	}
	out, err := collect(rows, scan)
	if err != nil {
		return nil, mapErr(err, "%s", what)
	}
	return out, nil
}

func collect[T any](rows pgx.Rows, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
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
