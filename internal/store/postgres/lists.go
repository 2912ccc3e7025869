package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// snapshot runs fn in a read-only REPEATABLE READ transaction, so that its
// queries see one state of the database.
func (s *Store) snapshot(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	release, err := s.acquire()
	if err != nil {
		return err
	}
	defer release()
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return mapErr(err, "%s", what)
	}
	defer tx.Rollback(context.Background())
	if err := fn(tx); err != nil {
		return mapErr(err, "%s", what)
	}
	return nil
}

// ListEntries returns the list's version and its non-zero statuses from one
// snapshot.
func (s *Store) ListEntries(ctx context.Context, listID string) (int64, map[int]uint8, error) {
	var version int64
	entries := map[int]uint8{}
	err := s.snapshot(ctx, "list entries "+listID, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT version FROM status_lists WHERE id = $1", listID).Scan(&version); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT idx, status FROM credentials WHERE list_id = $1 AND status <> 0", listID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var idx int
			var st int16
			if err := rows.Scan(&idx, &st); err != nil {
				return err
			}
			entries[idx] = uint8(st)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, nil, err
	}
	return version, entries, nil
}

// UsedIndexes returns every assigned index of the list, ascending.
func (s *Store) UsedIndexes(ctx context.Context, listID string) ([]int, error) {
	out := []int{}
	err := s.snapshot(ctx, "used indexes "+listID, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, "SELECT 1 FROM status_lists WHERE id = $1", listID).Scan(&one); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT idx FROM credentials WHERE list_id = $1 ORDER BY idx", listID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var idx int
			if err := rows.Scan(&idx); err != nil {
				return err
			}
			out = append(out, idx)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
