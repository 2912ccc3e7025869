package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Credential records, in the methods both SQL stores share (SQLBase).

// CredentialCols are the columns ScanCredential reads.
const CredentialCols = `id, subject, principal_id, agent_class, vct, list_id, idx, status, issued_at, expires_at,
	jwt_hash, token_id, status_reason, status_incident, status_note, status_changed_at`

// ScanCredential reads a credential record (CredentialCols).
func ScanCredential(sc Scanner) (Credential, error) {
	var c Credential
	var issued int64
	var expires, changed *int64
	if err := sc.Scan(&c.ID, &c.Subject, &c.PrincipalID, &c.AgentClass, &c.VCT, &c.ListID, &c.Idx, &c.Status,
		&issued, &expires, &c.JWTHash, &c.TokenID, &c.StatusReason, &c.StatusIncident, &c.StatusNote, &changed); err != nil {
		return Credential{}, err
	}
	c.IssuedAt = FromNanos(issued)
	if expires != nil {
		c.ExpiresAt = FromNanos(*expires)
	}
	c.StatusChangedAt = FromNull(changed)
	return c, nil
}

// Credential returns one credential record.
func (s SQLBase) Credential(ctx context.Context, id string) (Credential, error) {
	if !Storable(id) {
		return Credential{}, fmt.Errorf("credential %q: %w", id, ErrNotFound)
	}
	return ReadOne(s.DB, ctx, fmt.Sprintf("credential %q", id), "SELECT "+CredentialCols+" FROM credentials WHERE id = ?", ScanCredential, id)
}

// Credentials returns one page of the records matching f, ascending by id.
func (s SQLBase) Credentials(ctx context.Context, f CredentialFilter) ([]Credential, error) {
	where, args, err := CredentialWhere(f)
	if err != nil {
		return nil, err
	}
	where = append(where, "id > ?")
	args = append(args, f.AfterID, ClampLimit(f.Limit))
	return ReadAll(s.DB, ctx, "credentials", "SELECT "+CredentialCols+" FROM credentials WHERE "+strings.Join(where, " AND ")+" ORDER BY id LIMIT ?", ScanCredential, args...)
}

// Idempotent returns the idempotency record of (tokenID, key); invalid_input
// when either is not storable text.
func (s SQLBase) Idempotent(ctx context.Context, tokenID, key string) (Idempotency, error) {
	// A client's key that is not storable text is its mistake, refused
	// alike by both stores before anything is issued under it.
	if err := noNUL("idempotency key", "token id", tokenID, "key", key); err != nil {
		return Idempotency{}, err
	}
	return ReadOne(s.DB, ctx, "idempotency key", "SELECT token_id, key, request_hash, credential_id, response, created_at FROM idempotency WHERE token_id = ? AND key = ?",
		func(sc Scanner) (Idempotency, error) {
			var i Idempotency
			var created int64
			err := sc.Scan(&i.TokenID, &i.Key, &i.RequestHash, &i.CredentialID, &i.Response, &created)
			i.CreatedAt = FromNanos(created)
			return i, err
		}, tokenID, key)
}

// InsertCredential records an issued credential, its idempotency key (when
// idem is not nil) and its audit entry in one write, and bumps the list's
// Used. UNIQUE (list_id, idx) refuses an index already given.
func (s SQLBase) InsertCredential(ctx context.Context, c Credential, idem *Idempotency, a *AuditEntry) error {
	if err := CheckCredential(c, idem); err != nil {
		return err
	}
	expires, err := NullNanos(&c.ExpiresAt, "expires_at")
	if err != nil {
		return err
	}
	changed, err := NullNanos(c.StatusChangedAt, "status_changed_at")
	if err != nil {
		return err
	}
	return s.Run(ctx, func(tx SQLTx) error {
		issued, err := Nanos(c.IssuedAt, s.Now, "issued_at")
		if err != nil {
			return err
		}
		bumpVersion := 0
		if c.Status != StatusValid {
			bumpVersion = 1
		}
		// One plain UPDATE (no result rows to read) bumps the list when the
		// index lies inside it; only when it matches no row does a second
		// statement tell a missing list from an index outside it.
		n, err := tx.Exec("UPDATE status_lists SET used = used + 1, version = version + ? WHERE id = ? AND size > ?",
			bumpVersion, c.ListID, c.Idx)
		if err != nil {
			return tx.MapErr(err, "insert credential %q: status list %q", c.ID, c.ListID)
		}
		if n == 0 {
			var size int
			if err := tx.QueryRow("SELECT size FROM status_lists WHERE id = ?", c.ListID).Scan(&size); err != nil {
				return tx.MapErr(err, "insert credential %q: status list %q", c.ID, c.ListID)
			}
			return IndexOutside(c, size)
		}
		if _, err := tx.Exec(`INSERT INTO credentials (id, subject, principal_id, agent_class, vct, list_id, idx, status,
			issued_at, expires_at, jwt_hash, token_id, status_reason, status_incident, status_note, status_changed_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.Subject, c.PrincipalID, c.AgentClass, c.VCT, c.ListID, c.Idx, c.Status,
			issued, expires, c.JWTHash, c.TokenID, c.StatusReason, c.StatusIncident, c.StatusNote, changed); err != nil {
			return tx.MapErr(err, "insert credential %q", c.ID)
		}
		if idem != nil {
			created, err := Nanos(idem.CreatedAt, s.Now, "idempotency created_at")
			if err != nil {
				return err
			}
			if _, err := tx.Exec("INSERT INTO idempotency (token_id, key, request_hash, credential_id, response, created_at) VALUES (?, ?, ?, ?, ?, ?)",
				idem.TokenID, idem.Key, idem.RequestHash, c.ID, idem.Response, created); err != nil {
				return tx.MapErr(err, "insert credential %q: idempotency key", c.ID)
			}
		}
		return audit(tx, a)
	})
}

// setStatusSQL changes one credential's status (arguments: the change,
// its time, then the credential's id).
const setStatusSQL = `UPDATE credentials SET status = ?, status_reason = ?, status_incident = ?, status_note = ?,
	status_changed_at = ? WHERE id = ?`

// SetStatus changes one credential's status from from to ch.Value and
// bumps its list's version, atomically with the audit entry. The UPDATE
// matches only a row still at from, so that of two writers changing the
// same credential one wins and the other gets ErrConflict; a trigger in
// the database refuses leaving revocation whatever the statement. With
// ch.Resolves the incident is resolved in the same transaction, after the
// status UPDATE; an incident no longer open (ErrIncidentResolved) rolls the
// whole change back.
func (s SQLBase) SetStatus(ctx context.Context, credID string, from uint8, ch StatusChange, a *AuditEntry) (Credential, error) {
	if err := CheckTransition(from, ch); err != nil {
		return Credential{}, err
	}
	if !Storable(credID) {
		return Credential{}, fmt.Errorf("set status of %q: %w", credID, ErrNotFound)
	}
	if ch.Resolves != nil {
		if err := CheckResolution(ch.Resolves.Resolution); err != nil {
			return Credential{}, err
		}
	}
	var out Credential
	err := s.Run(ctx, func(tx SQLTx) error {
		at, err := Nanos(ch.At, s.Now, "status change time")
		if err != nil {
			return err
		}
		c, err := ScanCredential(tx.QueryRow(setStatusSQL+" AND status = ? RETURNING "+CredentialCols,
			ch.Value, ch.Reason, ch.Incident, ch.Note, at, credID, from))
		if err != nil {
			if err := tx.MapErr(err, "set status of %q", credID); !errors.Is(err, ErrNotFound) {
				return err
			}
			// Either there is no such credential or it is not at from.
			var cur uint8
			if err := tx.QueryRow("SELECT status FROM credentials WHERE id = ?", credID).Scan(&cur); err != nil {
				return tx.MapErr(err, "set status of %q", credID)
			}
			return StaleStatus(credID, cur, from)
		}
		if _, err := tx.Exec("UPDATE status_lists SET version = version + 1 WHERE id = ?", c.ListID); err != nil {
			return tx.MapErr(err, "set status of %q: bump version", credID)
		}
		if err := audit(tx, a); err != nil {
			return err
		}
		if r := ch.Resolves; r != nil {
			if _, err := s.resolveIncident(tx, r.ID, r.Resolution, r.Audit); err != nil {
				return err
			}
		}
		out = c
		return nil
	})
	if err != nil {
		return Credential{}, err
	}
	return out, nil
}

// CredentialWhere is the WHERE clause of a credential filter without
// paging, with ? placeholders: the conditions, to be joined with AND, and
// their arguments.
func CredentialWhere(f CredentialFilter) ([]string, []any, error) {
	if err := CheckFilter(f); err != nil {
		return nil, nil, err
	}
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	for _, c := range []struct{ col, v string }{{"subject", f.Subject}, {"principal_id", f.PrincipalID}, {"agent_class", f.AgentClass}} {
		if c.v != "" {
			add(c.col+" = ?", c.v)
		}
	}
	// CheckFilter made sure the times can be stored.
	if !f.IssuedAfter.IsZero() {
		add("issued_at >= ?", f.IssuedAfter.UnixNano())
	}
	if !f.IssuedBefore.IsZero() {
		add("issued_at < ?", f.IssuedBefore.UnixNano())
	}
	if f.Status != nil {
		add("status = ?", *f.Status)
	}
	return where, args, nil
}

// CredentialAt returns the credential at a status list index.
func (s SQLBase) CredentialAt(ctx context.Context, listID string, idx int) (Credential, error) {
	if idx < 0 || idx >= MaxListSize || !Storable(listID) {
		// No list holds it (and PostgreSQL could not take it).
		return Credential{}, fmt.Errorf("credential at %q/%d: %w", listID, idx, ErrNotFound)
	}
	return ReadOne(s.DB, ctx, fmt.Sprintf("credential at %s/%d", listID, idx),
		"SELECT "+CredentialCols+" FROM credentials WHERE list_id = ? AND idx = ?", ScanCredential, listID, idx)
}

// CredentialStats counts credentials by status and by day.
func (s SQLBase) CredentialStats(ctx context.Context, since time.Time) (CredentialStats, error) {
	var n int64 // a zero since counts from the start
	if !since.IsZero() {
		var err error
		if n, err = Nanos(since, nil, "since"); err != nil {
			return CredentialStats{}, err
		}
	}
	type row struct {
		kind       string
		key, count int64
	}
	rows, err := ReadAll(s.DB, ctx, "credential stats", statsQuery, func(sc Scanner) (row, error) {
		var r row
		err := sc.Scan(&r.kind, &r.key, &r.count)
		return r, err
	}, n, n)
	if err != nil {
		return CredentialStats{}, err
	}
	st := NewStats()
	for _, r := range rows {
		AddStat(&st, r.kind, r.key, r.count)
	}
	return st, nil
}

// bulkWhere is the filter of BulkSetStatus: f plus the rule that skips
// credentials that would not change.
func bulkWhere(f CredentialFilter, ch StatusChange) (string, []any, error) {
	if err := CheckBulk(f, ch); err != nil {
		return "", nil, err
	}
	where, args, err := CredentialWhere(f)
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

// BulkSetStatus applies ch to every matching credential in one write.
func (s SQLBase) BulkSetStatus(ctx context.Context, f CredentialFilter, ch StatusChange, dryRun bool, a func(c Credential) *AuditEntry) (int, error) {
	where, args, err := bulkWhere(f, ch)
	if err != nil {
		return 0, err
	}
	if dryRun {
		return ReadOne(s.DB, ctx, "bulk status dry run", "SELECT COUNT(*) FROM credentials WHERE "+where, func(sc Scanner) (int, error) {
			var n int
			err := sc.Scan(&n)
			return n, err
		}, args...)
	}
	var count int
	err = s.Run(ctx, func(tx SQLTx) error {
		count = 0
		at, err := Nanos(ch.At, s.Now, "status change time")
		if err != nil {
			return err
		}
		rows, err := tx.Query("SELECT "+CredentialCols+" FROM credentials WHERE "+where+" ORDER BY id"+tx.Lock(), args...)
		if err != nil {
			return tx.MapErr(err, "bulk status")
		}
		creds, err := Collect(rows, ScanCredential)
		if err != nil {
			return tx.MapErr(err, "bulk status")
		}
		if ch.Expect > 0 && len(creds) != ch.Expect {
			return fmt.Errorf("bulk status: %d credentials match, %d expected: %w", len(creds), ch.Expect, ErrBulkChanged)
		}
		lists := map[string]bool{}
		for _, c := range creds {
			if _, err := tx.Exec(setStatusSQL, ch.Value, ch.Reason, ch.Incident, ch.Note, at, c.ID); err != nil {
				return tx.MapErr(err, "bulk status: %q", c.ID)
			}
			lists[c.ListID] = true
			if a != nil {
				if err := audit(tx, a(c)); err != nil {
					return err
				}
			}
		}
		for id := range lists {
			if _, err := tx.Exec("UPDATE status_lists SET version = version + 1 WHERE id = ?", id); err != nil {
				return tx.MapErr(err, "bulk status: bump version of %q", id)
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
