package store

import (
	"context"
	"fmt"
)

// ListCols are the columns ScanList reads.
const ListCols = "id, size, bits, used, version, created_at"

// ScanList reads a status list (ListCols).
func ScanList(sc Scanner) (StatusList, error) {
	var l StatusList
	var created int64
	if err := sc.Scan(&l.ID, &l.Size, &l.Bits, &l.Used, &l.Version, &created); err != nil {
		return StatusList{}, err
	}
	l.CreatedAt = FromNanos(created)
	return l, nil
}

// CreateStatusList inserts a status list with Used 0 and Version 1.
func (s SQLBase) CreateStatusList(ctx context.Context, l StatusList, a *AuditEntry) error {
	if err := CheckStatusList(l); err != nil {
		return err
	}
	return s.Run(ctx, func(tx SQLTx) error {
		created, err := Nanos(l.CreatedAt, s.Now, "created_at")
		if err != nil {
			return err
		}
		if _, err := tx.Exec("INSERT INTO status_lists (id, size, bits, used, version, created_at) VALUES (?, ?, ?, 0, 1, ?)",
			l.ID, l.Size, l.Bits, created); err != nil {
			return tx.MapErr(err, "create status list %q", l.ID)
		}
		return audit(tx, a)
	})
}

// StatusLists returns every list, oldest first.
func (s SQLBase) StatusLists(ctx context.Context) ([]StatusList, error) {
	return ReadAll(s.DB, ctx, "status lists", "SELECT "+ListCols+" FROM status_lists ORDER BY created_at, "+s.Ord, ScanList)
}

// StatusList returns one list. Its Version is read afresh on every call, so
// a change committed by any writer is seen by the next call.
func (s SQLBase) StatusList(ctx context.Context, id string) (StatusList, error) {
	if !Storable(id) {
		return StatusList{}, fmt.Errorf("status list %q: %w", id, ErrNotFound)
	}
	return ReadOne(s.DB, ctx, fmt.Sprintf("status list %q", id), "SELECT "+ListCols+" FROM status_lists WHERE id = ?", ScanList, id)
}

// ListEntries returns the list's version and its non-zero statuses, read
// from one snapshot so that the two agree.
func (s SQLBase) ListEntries(ctx context.Context, listID string) (int64, map[int]uint8, error) {
	if !Storable(listID) {
		return 0, nil, fmt.Errorf("list entries %q: %w", listID, ErrNotFound)
	}
	var version int64
	entries := map[int]uint8{}
	err := s.DB.Snapshot(ctx, fmt.Sprintf("list entries %q", listID), func(q Querier) error {
		if err := q.QueryRow("SELECT version FROM status_lists WHERE id = ?", listID).Scan(&version); err != nil {
			return err
		}
		rows, err := q.Query("SELECT idx, status FROM credentials WHERE list_id = ? AND status <> 0", listID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var idx int
			var st uint8
			if err := rows.Scan(&idx, &st); err != nil {
				return err
			}
			entries[idx] = st
		}
		return rows.Err()
	})
	if err != nil {
		return 0, nil, err
	}
	return version, entries, nil
}

// UsedIndexes returns every assigned index of the list, ascending.
func (s SQLBase) UsedIndexes(ctx context.Context, listID string) ([]int, error) {
	if !Storable(listID) {
		return nil, fmt.Errorf("used indexes %q: %w", listID, ErrNotFound)
	}
	var out []int
	err := s.DB.Snapshot(ctx, fmt.Sprintf("used indexes %q", listID), func(q Querier) error {
		var one int
		if err := q.QueryRow("SELECT 1 FROM status_lists WHERE id = ?", listID).Scan(&one); err != nil {
			return err
		}
		rows, err := q.Query("SELECT idx FROM credentials WHERE list_id = ? ORDER BY idx", listID)
		if err != nil {
			return err
		}
		var err2 error
		out, err2 = Collect(rows, func(sc Scanner) (int, error) {
			var idx int
			err := sc.Scan(&idx)
			return idx, err
		})
		return err2
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []int{}
	}
	return out, nil
}
