package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/agentcert/agentcert/internal/store"
)

// CreateStatusList inserts a status list with Used 0 and Version 1.
func (s *Store) CreateStatusList(ctx context.Context, l store.StatusList, a *store.AuditEntry) error {
	if err := store.CheckStatusList(l); err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		created, err := store.Nanos(l.CreatedAt, s.now, "created_at")
		if err != nil {
			return err
		}
		if _, err := w.exec("INSERT INTO status_lists (id, size, bits, used, version, created_at) VALUES ($1, $2, $3, 0, 1, $4)",
			l.ID, l.Size, l.Bits, created); err != nil {
			return mapErr(err, "create status list %q", l.ID)
		}
		return w.audit(a)
	})
}

const listCols = "id, size, bits, used, version, created_at"

func scanList(sc interface{ Scan(...any) error }) (store.StatusList, error) {
	var l store.StatusList
	var created int64
	if err := sc.Scan(&l.ID, &l.Size, &l.Bits, &l.Used, &l.Version, &created); err != nil {
		return store.StatusList{}, err
	}
	l.CreatedAt = store.FromNanos(created)
	return l, nil
}

// StatusLists returns every list, oldest first.
func (s *Store) StatusLists(ctx context.Context) ([]store.StatusList, error) {
	return readAll(s, ctx, "status lists", "SELECT "+listCols+" FROM status_lists ORDER BY created_at, ord", scanList)
}

// StatusList returns one list. Its Version is read afresh on every call, so
// a change committed by any node is seen by the next call on every other.
func (s *Store) StatusList(ctx context.Context, id string) (store.StatusList, error) {
	return readOne(s, ctx, "status list "+id, "SELECT "+listCols+" FROM status_lists WHERE id = $1", scanList, id)
}

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
