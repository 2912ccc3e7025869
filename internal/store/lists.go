package store

import (
	"context"
)

// CreateStatusList inserts a status list with Used 0 and Version 1.
func (s *SQLite) CreateStatusList(ctx context.Context, l StatusList, a *AuditEntry) error {
	if err := CheckStatusList(l); err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		created, err := Nanos(l.CreatedAt, s.now, "created_at")
		if err != nil {
			return err
		}
		if _, err := w.exec("INSERT INTO status_lists (id, size, bits, used, version, created_at) VALUES (?, ?, ?, 0, 1, ?)",
			l.ID, l.Size, l.Bits, created); err != nil {
			return mapErr(err, "create status list %q", l.ID)
		}
		return w.audit(a)
	})
}

const listCols = "id, size, bits, used, version, created_at"

func scanList(sc interface{ Scan(...any) error }) (StatusList, error) {
	var l StatusList
	var created int64
	if err := sc.Scan(&l.ID, &l.Size, &l.Bits, &l.Used, &l.Version, &created); err != nil {
		return StatusList{}, err
	}
	l.CreatedAt = FromNanos(created)
	return l, nil
}

// StatusLists returns every list, oldest first.
func (s *SQLite) StatusLists(ctx context.Context) ([]StatusList, error) {
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+listCols+" FROM status_lists ORDER BY created_at, rowid")
	if err != nil {
		return nil, mapErr(err, "status lists")
	}
	defer rows.Close()
	var out []StatusList
	for rows.Next() {
		l, err := scanList(rows)
		if err != nil {
			return nil, mapErr(err, "status lists")
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err, "status lists")
	}
	return out, nil
}

// StatusList returns one list.
func (s *SQLite) StatusList(ctx context.Context, id string) (StatusList, error) {
	release, err := s.acquire()
	if err != nil {
		return StatusList{}, err
	}
	defer release()
	l, err := scanList(s.rdb.QueryRowContext(ctx, "SELECT "+listCols+" FROM status_lists WHERE id = ?", id))
	if err != nil {
		return StatusList{}, mapErr(err, "status list %q", id)
	}
	return l, nil
}

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
