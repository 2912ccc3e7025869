package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// CreateToken inserts a token.
func (s *SQLite) CreateToken(ctx context.Context, t Token, a *AuditEntry) error {
	if err := CheckToken(t); err != nil {
		return err
	}
	revoked, err := nullNanos(t.RevokedAt, "revoked_at")
	if err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		created, err := Nanos(t.CreatedAt, s.now, "created_at")
		if err != nil {
			return err
		}
		if _, err := w.exec("INSERT INTO tokens (id, name, role, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)",
			t.ID, t.Name, t.Role, t.Hash, created, revoked); err != nil {
			return mapErr(err, "create token %q", t.ID)
		}
		return w.audit(a)
	})
}

const tokenCols = "id, name, role, hash, created_at, revoked_at"

func scanToken(sc interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var created int64
	var revoked sql.NullInt64
	if err := sc.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created, &revoked); err != nil {
		return Token{}, err
	}
	t.CreatedAt = FromNanos(created)
	t.RevokedAt = fromNull(revoked)
	return t, nil
}

// TokenByHash returns the token with that hash, whether revoked or not.
func (s *SQLite) TokenByHash(ctx context.Context, hash []byte) (Token, error) {
	release, err := s.acquire()
	if err != nil {
		return Token{}, err
	}
	defer release()
	t, err := scanToken(s.rdb.QueryRowContext(ctx, "SELECT "+tokenCols+" FROM tokens WHERE hash = ?", hash))
	if err != nil {
		return Token{}, mapErr(err, "token by hash")
	}
	return t, nil
}

// Tokens returns every token, oldest first.
func (s *SQLite) Tokens(ctx context.Context) ([]Token, error) {
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+tokenCols+" FROM tokens ORDER BY created_at, rowid")
	if err != nil {
		return nil, mapErr(err, "tokens")
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, mapErr(err, "tokens")
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err, "tokens")
	}
	return out, nil
}

// RevokeToken marks a token revoked.
func (s *SQLite) RevokeToken(ctx context.Context, id string, at time.Time, a *AuditEntry) error {
	return s.write(ctx, func(w *wtx) error {
		var revoked sql.NullInt64
		if err := w.queryRow("SELECT revoked_at FROM tokens WHERE id = ?", id).Scan(&revoked); err != nil {
			return mapErr(err, "revoke token %q", id)
		}
		if revoked.Valid {
			return fmt.Errorf("store: revoke token %q: already revoked: %w", id, ErrConflict)
		}
		n, err := Nanos(at, s.now, "revoked_at")
		if err != nil {
			return err
		}
		if _, err := w.exec("UPDATE tokens SET revoked_at = ? WHERE id = ?", n, id); err != nil {
			return mapErr(err, "revoke token %q", id)
		}
		return w.audit(a)
	})
}
