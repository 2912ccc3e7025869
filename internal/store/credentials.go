package store

import (
	"context"
	"database/sql"
	"strings"
	"time"
)

// InsertCredential records an issued credential, its idempotency key (when
// idem is not nil) and its audit entry in one transaction, and bumps the
// list's Used.
func (s *SQLite) InsertCredential(ctx context.Context, c Credential, idem *Idempotency, a *AuditEntry) error {
	if err := CheckCredential(c, idem); err != nil {
		return err
	}
	expires, err := nullNanos(&c.ExpiresAt, "expires_at")
	if err != nil {
		return err
	}
	changed, err := nullNanos(c.StatusChangedAt, "status_changed_at")
	if err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		issued, err := Nanos(c.IssuedAt, s.now, "issued_at")
		if err != nil {
			return err
		}
		// One statement bumps the list's Used (and its version for a
		// credential born not valid) and reads its size; an index outside
		// the list fails the op, which rolls the bump back.
		bumpVersion := 0
		if c.Status != StatusValid {
			bumpVersion = 1
		}
		var size int
		if err := w.queryRow("UPDATE status_lists SET used = used + 1, version = version + ? WHERE id = ? RETURNING size",
			bumpVersion, c.ListID).Scan(&size); err != nil {
			return mapErr(err, "insert credential %q: status list %q", c.ID, c.ListID)
		}
		if c.Idx >= size {
			return IndexOutside(c, size)
		}
		if _, err := w.exec(`INSERT INTO credentials (id, subject, principal_id, agent_class, vct, list_id, idx, status,
			issued_at, expires_at, jwt_hash, token_id, status_reason, status_incident, status_note, status_changed_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Subject, c.PrincipalID, c.AgentClass, c.VCT, c.ListID, c.Idx, c.Status,
			issued, expires, c.JWTHash, c.TokenID, c.StatusReason, c.StatusIncident, c.StatusNote, changed); err != nil {
			return mapErr(err, "insert credential %q", c.ID)
		}
		if idem != nil {
			created, err := Nanos(idem.CreatedAt, s.now, "idempotency created_at")
			if err != nil {
				return err
			}
			if _, err := w.exec("INSERT INTO idempotency (token_id, key, request_hash, credential_id, response, created_at) VALUES (?, ?, ?, ?, ?, ?)",
				idem.TokenID, idem.Key, idem.RequestHash, c.ID, idem.Response, created); err != nil {
				return mapErr(err, "insert credential %q: idempotency key", c.ID)
			}
		}
		return w.audit(a)
	})
}

const credCols = `id, subject, principal_id, agent_class, vct, list_id, idx, status, issued_at, expires_at,
	jwt_hash, token_id, status_reason, status_incident, status_note, status_changed_at`

func scanCred(sc interface{ Scan(...any) error }) (Credential, error) {
	var c Credential
	var issued int64
	var expires, changed sql.NullInt64
	if err := sc.Scan(&c.ID, &c.Subject, &c.PrincipalID, &c.AgentClass, &c.VCT, &c.ListID, &c.Idx, &c.Status,
		&issued, &expires, &c.JWTHash, &c.TokenID, &c.StatusReason, &c.StatusIncident, &c.StatusNote, &changed); err != nil {
		return Credential{}, err
	}
	c.IssuedAt = FromNanos(issued)
	if expires.Valid {
		c.ExpiresAt = FromNanos(expires.Int64)
	}
	c.StatusChangedAt = fromNull(changed)
	return c, nil
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func queryCreds(ctx context.Context, db querier, q string, args ...any) ([]Credential, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Credential
	for rows.Next() {
		c, err := scanCred(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Credential returns one credential record.
func (s *SQLite) Credential(ctx context.Context, id string) (Credential, error) {
	release, err := s.acquire()
	if err != nil {
		return Credential{}, err
	}
	defer release()
	c, err := scanCred(s.rdb.QueryRowContext(ctx, "SELECT "+credCols+" FROM credentials WHERE id = ?", id))
	if err != nil {
		return Credential{}, mapErr(err, "credential %q", id)
	}
	return c, nil
}

// credWhere builds the WHERE clause of a credential filter (without paging).
func credWhere(f CredentialFilter) ([]string, []any, error) {
	if err := CheckFilter(f); err != nil {
		return nil, nil, err
	}
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"subject", f.Subject}, {"principal_id", f.PrincipalID}, {"agent_class", f.AgentClass}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if !f.IssuedAfter.IsZero() {
		n, err := Nanos(f.IssuedAfter, nil, "issued_after")
		if err != nil {
			return nil, nil, err
		}
		where = append(where, "issued_at >= ?")
		args = append(args, n)
	}
	if !f.IssuedBefore.IsZero() {
		n, err := Nanos(f.IssuedBefore, nil, "issued_before")
		if err != nil {
			return nil, nil, err
		}
		where = append(where, "issued_at < ?")
		args = append(args, n)
	}
	if f.Status != nil {
		where = append(where, "status = ?")
		args = append(args, *f.Status)
	}
	return where, args, nil
}

// Credentials returns one page of the records matching f, ascending by id.
func (s *SQLite) Credentials(ctx context.Context, f CredentialFilter) ([]Credential, error) {
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	where, args, err := credWhere(f)
	if err != nil {
		return nil, err
	}
	where = append(where, "id > ?")
	args = append(args, f.AfterID, ClampLimit(f.Limit))
	out, err := queryCreds(ctx, s.rdb, "SELECT "+credCols+" FROM credentials WHERE "+strings.Join(where, " AND ")+" ORDER BY id LIMIT ?", args...)
	if err != nil {
		return nil, mapErr(err, "credentials")
	}
	return out, nil
}

// SetStatus changes one credential's status from from to ch.Value and bumps
// its list's version, atomically with the audit entry. The transition is
// checked here and again by a trigger in the database (migration 0002).
func (s *SQLite) SetStatus(ctx context.Context, credID string, from uint8, ch StatusChange, a *AuditEntry) (Credential, error) {
	if err := CheckTransition(from, ch); err != nil {
		return Credential{}, err
	}
	var out Credential
	err := s.write(ctx, func(w *wtx) error {
		at, err := Nanos(ch.At, s.now, "status change time")
		if err != nil {
			return err
		}
		c, err := scanCred(w.queryRow("SELECT "+credCols+" FROM credentials WHERE id = ?", credID))
		if err != nil {
			return mapErr(err, "set status of %q", credID)
		}
		if c.Status != from {
			return StaleStatus(credID, c.Status, from)
		}
		if err := w.setStatus(c.ID, c.ListID, ch, at); err != nil {
			return err
		}
		if err := w.audit(a); err != nil {
			return err
		}
		out = Changed(c, ch, FromNanos(at))
		return nil
	})
	if err != nil {
		return Credential{}, err
	}
	return out, nil
}

func (w *wtx) setStatus(id, listID string, ch StatusChange, at int64) error {
	if _, err := w.exec(`UPDATE credentials SET status = ?, status_reason = ?, status_incident = ?, status_note = ?,
		status_changed_at = ? WHERE id = ?`, ch.Value, ch.Reason, ch.Incident, ch.Note, at, id); err != nil {
		return mapErr(err, "set status of %q", id)
	}
	if _, err := w.exec("UPDATE status_lists SET version = version + 1 WHERE id = ?", listID); err != nil {
		return mapErr(err, "set status of %q: bump version", id)
	}
	return nil
}

// bulkWhere is the filter of BulkSetStatus: f plus the rule that skips
// credentials that would not change.
func bulkWhere(f CredentialFilter, ch StatusChange) (string, []any, error) {
	if err := CheckBulk(f, ch); err != nil {
		return "", nil, err
	}
	where, args, err := credWhere(f)
	if err != nil {
		return "", nil, err
	}
	where = append(where, "status <> ?")
	args = append(args, ch.Value)
	if ch.Value != StatusRevoked {
		where = append(where, "status <> ?")
		args = append(args, StatusRevoked)
	}
	return strings.Join(where, " AND "), args, nil
}

// BulkSetStatus applies ch to every matching credential in one transaction.
func (s *SQLite) BulkSetStatus(ctx context.Context, f CredentialFilter, ch StatusChange, dryRun bool, a func(c Credential) *AuditEntry) (int, error) {
	where, args, err := bulkWhere(f, ch)
	if err != nil {
		return 0, err
	}
	if dryRun {
		release, err := s.acquire()
		if err != nil {
			return 0, err
		}
		defer release()
		var n int
		if err := s.rdb.QueryRowContext(ctx, "SELECT COUNT(*) FROM credentials WHERE "+where, args...).Scan(&n); err != nil {
			return 0, mapErr(err, "bulk status dry run")
		}
		return n, nil
	}
	var count int
	err = s.write(ctx, func(w *wtx) error {
		count = 0
		at, err := Nanos(ch.At, s.now, "status change time")
		if err != nil {
			return err
		}
		creds, err := queryCreds(context.Background(), w.tx, "SELECT "+credCols+" FROM credentials WHERE "+where+" ORDER BY id", args...)
		if err != nil {
			return mapErr(err, "bulk status")
		}
		lists := map[string]bool{}
		for _, c := range creds {
			if _, err := w.exec(`UPDATE credentials SET status = ?, status_reason = ?, status_incident = ?, status_note = ?,
				status_changed_at = ? WHERE id = ?`, ch.Value, ch.Reason, ch.Incident, ch.Note, at, c.ID); err != nil {
				return mapErr(err, "bulk status: %q", c.ID)
			}
			lists[c.ListID] = true
			if a != nil {
				if err := w.audit(a(c)); err != nil {
					return err
				}
			}
		}
		for id := range lists {
			if _, err := w.exec("UPDATE status_lists SET version = version + 1 WHERE id = ?", id); err != nil {
				return mapErr(err, "bulk status: bump version of %q", id)
			}
		}
		count = len(creds)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return count, nil
}

// Idempotent returns the idempotency record of (tokenID, key).
func (s *SQLite) Idempotent(ctx context.Context, tokenID, key string) (Idempotency, error) {
	release, err := s.acquire()
	if err != nil {
		return Idempotency{}, err
	}
	defer release()
	var i Idempotency
	var created int64
	err = s.rdb.QueryRowContext(ctx, "SELECT token_id, key, request_hash, credential_id, response, created_at FROM idempotency WHERE token_id = ? AND key = ?",
		tokenID, key).Scan(&i.TokenID, &i.Key, &i.RequestHash, &i.CredentialID, &i.Response, &created)
	if err != nil {
		return Idempotency{}, mapErr(err, "idempotency key")
	}
	i.CreatedAt = FromNanos(created)
	return i, nil
}

// CredentialStats counts credentials by status and by day.
func (s *SQLite) CredentialStats(ctx context.Context, since time.Time) (CredentialStats, error) {
	var n int64 // a zero since counts from the start
	if !since.IsZero() {
		var err error
		if n, err = Nanos(since, nil, "since"); err != nil {
			return CredentialStats{}, err
		}
	}
	release, err := s.acquire()
	if err != nil {
		return CredentialStats{}, err
	}
	defer release()
	rows, err := s.rdb.QueryContext(ctx, StatsQuery(func(int) string { return "?" }), n, n)
	if err != nil {
		return CredentialStats{}, mapErr(err, "credential stats")
	}
	defer rows.Close()
	st := NewStats()
	for rows.Next() {
		var kind string
		var key, count int64
		if err := rows.Scan(&kind, &key, &count); err != nil {
			return CredentialStats{}, mapErr(err, "credential stats")
		}
		AddStat(&st, kind, key, count)
	}
	if err := rows.Err(); err != nil {
		return CredentialStats{}, mapErr(err, "credential stats")
	}
	return st, nil
}
