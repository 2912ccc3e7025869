package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/agentcert/agentcert/internal/store"
)

// InsertCredential records an issued credential, its idempotency key (when
// idem is not nil) and its audit entry in one transaction, and bumps the
// list's Used. UNIQUE (list_id, idx) refuses an index another node gave.
func (s *Store) InsertCredential(ctx context.Context, c store.Credential, idem *store.Idempotency, a *store.AuditEntry) error {
	if err := store.CheckCredential(c, idem); err != nil {
		return err
	}
	expires, _ := nullNanos(&c.ExpiresAt, "expires_at")
	changed, _ := nullNanos(c.StatusChangedAt, "status_changed_at")
	return s.write(ctx, func(w *wtx) error {
		issued, err := store.Nanos(c.IssuedAt, s.now, "issued_at")
		if err != nil {
			return err
		}
		bumpVersion := 0
		if c.Status != store.StatusValid {
			bumpVersion = 1
		}
		var size int
		if err := w.queryRow("UPDATE status_lists SET used = used + 1, version = version + $2 WHERE id = $1 RETURNING size",
			c.ListID, bumpVersion).Scan(&size); err != nil {
			return mapErr(err, "insert credential %q: status list %q", c.ID, c.ListID)
		}
		if c.Idx >= size {
			return store.IndexOutside(c, size)
		}
		if _, err := w.exec(`INSERT INTO credentials (id, subject, principal_id, agent_class, vct, list_id, idx, status,
			issued_at, expires_at, jwt_hash, token_id, status_reason, status_incident, status_note, status_changed_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			c.ID, c.Subject, c.PrincipalID, c.AgentClass, c.VCT, c.ListID, c.Idx, int16(c.Status),
			issued, expires, c.JWTHash, c.TokenID, c.StatusReason, c.StatusIncident, c.StatusNote, changed); err != nil {
			return mapErr(err, "insert credential %q", c.ID)
		}
		if idem != nil {
			created, err := store.Nanos(idem.CreatedAt, s.now, "idempotency created_at")
			if err != nil {
				return err
			}
			if _, err := w.exec("INSERT INTO idempotency (token_id, key, request_hash, credential_id, response, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
				idem.TokenID, idem.Key, idem.RequestHash, c.ID, idem.Response, created); err != nil {
				return mapErr(err, "insert credential %q: idempotency key", c.ID)
			}
		}
		return w.audit(a)
	})
}

const credCols = `id, subject, principal_id, agent_class, vct, list_id, idx, status, issued_at, expires_at,
	jwt_hash, token_id, status_reason, status_incident, status_note, status_changed_at`

func scanCred(sc interface{ Scan(...any) error }) (store.Credential, error) {
	var c store.Credential
	var issued int64
	var status int16
	var expires, changed *int64
	if err := sc.Scan(&c.ID, &c.Subject, &c.PrincipalID, &c.AgentClass, &c.VCT, &c.ListID, &c.Idx, &status,
		&issued, &expires, &c.JWTHash, &c.TokenID, &c.StatusReason, &c.StatusIncident, &c.StatusNote, &changed); err != nil {
		return store.Credential{}, err
	}
	c.Status = uint8(status)
	c.IssuedAt = store.FromNanos(issued)
	if expires != nil {
		c.ExpiresAt = store.FromNanos(*expires)
	}
	c.StatusChangedAt = fromNull(changed)
	return c, nil
}

// Credential returns one credential record.
func (s *Store) Credential(ctx context.Context, id string) (store.Credential, error) {
	return readOne(s, ctx, "credential "+id, "SELECT "+credCols+" FROM credentials WHERE id = $1", scanCred, id)
}

// credWhere is the WHERE clause of a credential filter, without paging.
func credWhere(f store.CredentialFilter) (where, error) {
	var w where
	if err := store.CheckFilter(f); err != nil {
		return w, err
	}
	for _, c := range []struct{ col, v string }{{"subject", f.Subject}, {"principal_id", f.PrincipalID}, {"agent_class", f.AgentClass}} {
		if c.v != "" {
			w.add(c.col+" = ?", c.v)
		}
	}
	if !f.IssuedAfter.IsZero() {
		w.add("issued_at >= ?", f.IssuedAfter.UnixNano())
	}
	if !f.IssuedBefore.IsZero() {
		w.add("issued_at < ?", f.IssuedBefore.UnixNano())
	}
	if f.Status != nil {
		w.add("status = ?", int16(*f.Status))
	}
	return w, nil
}

// Credentials returns one page of the records matching f, ascending by id.
func (s *Store) Credentials(ctx context.Context, f store.CredentialFilter) ([]store.Credential, error) {
	w, err := credWhere(f)
	if err != nil {
		return nil, err
	}
	w.add("id > ?", f.AfterID)
	q := "SELECT " + credCols + " FROM credentials WHERE " + w.String() + " ORDER BY id LIMIT " + w.next(store.ClampLimit(f.Limit))
	return readAll(s, ctx, "credentials", q, scanCred, w.args...)
}

// SetStatus changes one credential's status from from to ch.Value. The
// UPDATE matches only a row still at from, so that of two nodes changing
// the same credential one wins and the other gets ErrConflict; the trigger
// of migration 0001 refuses leaving revocation whatever the statement.
func (s *Store) SetStatus(ctx context.Context, credID string, from uint8, ch store.StatusChange, a *store.AuditEntry) (store.Credential, error) {
	if err := store.CheckTransition(from, ch); err != nil {
		return store.Credential{}, err
	}
	var out store.Credential
	err := s.write(ctx, func(w *wtx) error {
		at, err := store.Nanos(ch.At, s.now, "status change time")
		if err != nil {
			return err
		}
		c, err := scanCred(w.queryRow(`UPDATE credentials SET status = $1, status_reason = $2, status_incident = $3, status_note = $4,
			status_changed_at = $5 WHERE id = $6 AND status = $7 RETURNING `+credCols,
			int16(ch.Value), ch.Reason, ch.Incident, ch.Note, at, credID, int16(from)))
		if err != nil {
			if err := mapErr(err, "set status of %q", credID); !isNotFound(err) {
				return err
			}
			// Either there is no such credential or it is not at from.
			var cur int16
			if err := w.queryRow("SELECT status FROM credentials WHERE id = $1", credID).Scan(&cur); err != nil {
				return mapErr(err, "set status of %q", credID)
			}
			return store.StaleStatus(credID, uint8(cur), from)
		}
		if _, err := w.exec("UPDATE status_lists SET version = version + 1 WHERE id = $1", c.ListID); err != nil {
			return mapErr(err, "set status of %q: bump version", credID)
		}
		if err := w.audit(a); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return store.Credential{}, err
	}
	return out, nil
}

// BulkSetStatus applies ch to every matching credential in one transaction.
func (s *Store) BulkSetStatus(ctx context.Context, f store.CredentialFilter, ch store.StatusChange, dryRun bool, a func(c store.Credential) *store.AuditEntry) (int, error) {
	if err := store.CheckBulk(f, ch); err != nil {
		return 0, err
	}
	w, err := credWhere(f)
	if err != nil {
		return 0, err
	}
	w.add("status <> ?", int16(ch.Value))
	if ch.Value != store.StatusRevoked {
		w.add("status <> ?", int16(store.StatusRevoked))
	}
	if dryRun {
		return readOne(s, ctx, "bulk status dry run", "SELECT COUNT(*) FROM credentials WHERE "+w.String(),
			func(sc interface{ Scan(...any) error }) (int, error) {
				var n int
				err := sc.Scan(&n)
				return n, err
			}, w.args...)
	}
	var count int
	err = s.write(ctx, func(tx *wtx) error {
		count = 0
		at, err := store.Nanos(ch.At, s.now, "status change time")
		if err != nil {
			return err
		}
		rows, err := tx.query("SELECT "+credCols+" FROM credentials WHERE "+w.String()+" ORDER BY id FOR UPDATE", w.args...)
		if err != nil {
			return mapErr(err, "bulk status")
		}
		creds, err := collect(rows, scanCred)
		if err != nil {
			return mapErr(err, "bulk status")
		}
		lists := map[string]bool{}
		for _, c := range creds {
			if _, err := tx.exec(`UPDATE credentials SET status = $1, status_reason = $2, status_incident = $3, status_note = $4,
				status_changed_at = $5 WHERE id = $6`, int16(ch.Value), ch.Reason, ch.Incident, ch.Note, at, c.ID); err != nil {
				return mapErr(err, "bulk status: %q", c.ID)
			}
			lists[c.ListID] = true
			if a != nil {
				if err := tx.audit(a(c)); err != nil {
					return err
				}
			}
		}
		for id := range lists {
			if _, err := tx.exec("UPDATE status_lists SET version = version + 1 WHERE id = $1", id); err != nil {
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
func (s *Store) Idempotent(ctx context.Context, tokenID, key string) (store.Idempotency, error) {
	return readOne(s, ctx, "idempotency key", "SELECT token_id, key, request_hash, credential_id, response, created_at FROM idempotency WHERE token_id = $1 AND key = $2",
		func(sc interface{ Scan(...any) error }) (store.Idempotency, error) {
			var i store.Idempotency
			var created int64
			err := sc.Scan(&i.TokenID, &i.Key, &i.RequestHash, &i.CredentialID, &i.Response, &created)
			i.CreatedAt = store.FromNanos(created)
			return i, err
		}, tokenID, key)
}

// CredentialStats counts credentials by status and by day.
func (s *Store) CredentialStats(ctx context.Context, since time.Time) (store.CredentialStats, error) {
	var n int64 // a zero since counts from the start
	if !since.IsZero() {
		var err error
		if n, err = store.Nanos(since, nil, "since"); err != nil {
			return store.CredentialStats{}, err
		}
	}
	type row struct {
		kind       string
		key, count int64
	}
	rows, err := readAll(s, ctx, "credential stats", store.StatsQuery(func(i int) string { return "$" + strconv.Itoa(i) }), func(sc interface{ Scan(...any) error }) (row, error) {
		var r row
		err := sc.Scan(&r.kind, &r.key, &r.count)
		return r, err
	}, n, n)
	if err != nil {
		return store.CredentialStats{}, err
	}
	st := store.NewStats()
	for _, r := range rows {
		store.AddStat(&st, r.kind, r.key, r.count)
	}
	return st, nil
}
