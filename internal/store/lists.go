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
	return ReadOne(s.DB, ctx, fmt.Sprintf("status list %q", id), "SELECT "+ListCols+" FROM status_lists WHERE id = ?", ScanList, id)
}

// The reads of one snapshot are the SQLite store's own.

// ListEntries returns the list's version and its non-zero statuses, read in
// one transaction so that the two agree.
func (s *SQLite) ListEntries(ctx context.Context, listID string) (int64, map[int]uint8, error) {
	release, err := s.acquire()
	if err != nil {
		return 0, nil, err
	}
	defer release()
	tx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, nil, mapErr(err, "list entries %q", listID)
	}
	defer tx.Rollback()
	var version int64
	if err := tx.QueryRowContext(ctx, "SELECT version FROM status_lists WHERE id = ?", listID).Scan(&version); err != nil {
		return 0, nil, mapErr(err, "list entries %q", listID)
	}
	rows, err := tx.QueryContext(ctx, "SELECT idx, status FROM credentials WHERE list_id = ? AND status <> 0", listID)
	if err != nil {
		return 0, nil, mapErr(err, "list entries %q", listID)
	}
	defer rows.Close()
	entries := map[int]uint8{}
	for rows.Next() {
		var idx int
		var st uint8
		if err := rows.Scan(&idx, &st); err != nil {
			return 0, nil, mapErr(err, "list entries %q", listID)
		}
		entries[idx] = st
	}
	if err := rows.Err(); err != nil {
		return 0, nil, mapErr(err, "list entries %q", listID)
	}
	return version, entries, nil
}

// UsedIndexes returns every assigned index of the list, ascending.
func (s *SQLite) UsedIndexes(ctx context.Context, listID string) ([]int, error) {
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	tx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, mapErr(err, "used indexes %q", listID)
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRowContext(ctx, "SELECT 1 FROM status_lists WHERE id = ?", listID).Scan(&one); err != nil {
		return nil, mapErr(err, "used indexes %q", listID)
	}
	rows, err := tx.QueryContext(ctx, "SELECT idx FROM credentials WHERE list_id = ? ORDER BY idx", listID)
	if err != nil {
		return nil, mapErr(err, "used indexes %q", listID)
	}
	defer rows.Close()
	out := []int{}
	for rows.Next() {
		var idx int
		if err := rows.Scan(&idx); err != nil {
			return nil, mapErr(err, "used indexes %q", listID)
		}
		out = append(out, idx)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err, "used indexes %q", listID)
	}
	return out, nil
}
