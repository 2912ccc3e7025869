package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/agentcert/agentcert/internal/store"
)

// CreateToken inserts a token.
func (s *Store) CreateToken(ctx context.Context, t store.Token, a *store.AuditEntry) error {
	if err := store.CheckToken(t); err != nil {
		return err
	}
	revoked, err := store.NullNanos(t.RevokedAt, "revoked_at")
	if err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		created, err := store.Nanos(t.CreatedAt, s.now, "created_at")
		if err != nil {
			return err
		}
		if _, err := w.exec("INSERT INTO tokens (id, name, role, hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)",
			t.ID, t.Name, t.Role, t.Hash, created, revoked); err != nil {
			return mapErr(err, "create token %q", t.ID)
		}
		return w.audit(a)
	})
}

const tokenCols = "id, name, role, hash, created_at, revoked_at"

func scanToken(sc interface{ Scan(...any) error }) (store.Token, error) {
	var t store.Token
	var created int64
	var revoked *int64
	if err := sc.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created, &revoked); err != nil {
		return store.Token{}, err
	}
	t.CreatedAt = store.FromNanos(created)
	t.RevokedAt = store.FromNull(revoked)
	return t, nil
}

// TokenByHash returns the token with that hash, revoked or not.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	return store.ReadOne(s.DB, ctx, "token by hash", "SELECT "+tokenCols+" FROM tokens WHERE hash = $1", scanToken, hash)
}

// Tokens returns every token, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]store.Token, error) {
	return store.ReadAll(s.DB, ctx, "tokens", "SELECT "+tokenCols+" FROM tokens ORDER BY created_at, ord", scanToken)
}

// RevokeToken marks a token revoked.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time, a *store.AuditEntry) error {
	return s.write(ctx, func(w *wtx) error {
		var revoked *int64
		if err := w.queryRow("SELECT revoked_at FROM tokens WHERE id = $1 FOR UPDATE", id).Scan(&revoked); err != nil {
			return mapErr(err, "revoke token %q", id)
		}
		if revoked != nil {
			return fmt.Errorf("store: revoke token %q: already revoked: %w", id, store.ErrConflict)
		}
		n, err := store.Nanos(at, s.now, "revoked_at")
		if err != nil {
			return err
		}
		if _, err := w.exec("UPDATE tokens SET revoked_at = $1 WHERE id = $2", n, id); err != nil {
			return mapErr(err, "revoke token %q", id)
		}
		return w.audit(a)
	})
}
