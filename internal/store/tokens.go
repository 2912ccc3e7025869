package store

import (
	"context"
	"fmt"
	"time"
)

// API tokens, in the methods both SQL stores share (SQLBase).

// CreateToken inserts a token.
func (s SQLBase) CreateToken(ctx context.Context, t Token, a *AuditEntry) error {
	if err := CheckToken(t); err != nil {
		return err
	}
	revoked, err := NullNanos(t.RevokedAt, "revoked_at")
	if err != nil {
		return err
	}
	return s.Run(ctx, func(tx SQLTx) error {
		created, err := Nanos(t.CreatedAt, s.Now, "created_at")
		if err != nil {
			return err
		}
		if _, err := tx.Exec("INSERT INTO tokens (id, name, role, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)",
			t.ID, t.Name, t.Role, t.Hash, created, revoked); err != nil {
			return tx.MapErr(err, "create token %q", t.ID)
		}
		return audit(tx, a)
	})
}

const tokenCols = "id, name, role, hash, created_at, revoked_at"

func scanToken(sc Scanner) (Token, error) {
	var t Token
	var created int64
	var revoked *int64
	if err := sc.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created, &revoked); err != nil {
		return Token{}, err
	}
	t.CreatedAt = FromNanos(created)
	t.RevokedAt = FromNull(revoked)
	return t, nil
}

// TokenByHash returns the token with that hash, whether revoked or not.
func (s SQLBase) TokenByHash(ctx context.Context, hash []byte) (Token, error) {
	return ReadOne(s.DB, ctx, "token by hash", "SELECT "+tokenCols+" FROM tokens WHERE hash = ?", scanToken, hash)
}

// TokenByID returns the token with that id, whether revoked or not.
func (s SQLBase) TokenByID(ctx context.Context, id string) (Token, error) {
	if !Storable(id) {
		return Token{}, fmt.Errorf("token by id: %w", ErrNotFound)
	}
	return ReadOne(s.DB, ctx, "token by id", "SELECT "+tokenCols+" FROM tokens WHERE id = ?", scanToken, id)
}

// Tokens returns every token, oldest first.
func (s SQLBase) Tokens(ctx context.Context) ([]Token, error) {
	return ReadAll(s.DB, ctx, "tokens", "SELECT "+tokenCols+" FROM tokens ORDER BY created_at, "+s.Ord, scanToken)
}

// RevokeToken marks a token revoked.
func (s SQLBase) RevokeToken(ctx context.Context, id string, at time.Time, a *AuditEntry) error {
	if !Storable(id) {
		return fmt.Errorf("store: revoke token %q: %w", id, ErrNotFound)
	}
	return s.Run(ctx, func(tx SQLTx) error {
		var revoked *int64
		if err := tx.QueryRow("SELECT revoked_at FROM tokens WHERE id = ?"+tx.Lock(), id).Scan(&revoked); err != nil {
			return tx.MapErr(err, "revoke token %q", id)
		}
		if revoked != nil {
			return fmt.Errorf("store: revoke token %q: already revoked: %w", id, ErrConflict)
		}
		n, err := Nanos(at, s.Now, "revoked_at")
		if err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE tokens SET revoked_at = ? WHERE id = ?", n, id); err != nil {
			return tx.MapErr(err, "revoke token %q", id)
		}
		return audit(tx, a)
	})
}
