package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/agentcert/agentcert/internal/store"
)

// PutKey inserts a key; an active one deactivates every other in the same
// transaction.
func (s *Store) PutKey(ctx context.Context, k store.Key, a *store.AuditEntry) error {
	if err := store.CheckKey(k); err != nil {
		return err
	}
	retired, err := nullNanos(k.RetiredAt, "retired_at")
	if err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		created, err := store.Nanos(k.CreatedAt, s.now, "created_at")
		if err != nil {
			return err
		}
		if k.Active {
			if _, err := w.exec("UPDATE keys SET active = false WHERE active"); err != nil {
				return mapErr(err, "put key %q", k.KID)
			}
		}
		if _, err := w.exec(`INSERT INTO keys (kid, alg, public_jwk, private_enc, created_at, active, retired_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, k.KID, k.Alg, k.PublicJWK, k.PrivateEnc, created, k.Active, retired); err != nil {
			return mapErr(err, "put key %q", k.KID)
		}
		return w.audit(a)
	})
}

const keyCols = "kid, alg, public_jwk, private_enc, created_at, active, retired_at"

func scanKey(sc interface{ Scan(...any) error }) (store.Key, error) {
	var k store.Key
	var created int64
	var retired *int64
	if err := sc.Scan(&k.KID, &k.Alg, &k.PublicJWK, &k.PrivateEnc, &created, &k.Active, &retired); err != nil {
		return store.Key{}, err
	}
	k.CreatedAt = store.FromNanos(created)
	k.RetiredAt = fromNull(retired)
	return k, nil
}

// Keys returns every key, oldest first.
func (s *Store) Keys(ctx context.Context) ([]store.Key, error) {
	return readAll(s, ctx, "keys", "SELECT "+keyCols+" FROM keys ORDER BY created_at, ord", scanKey)
}

// ActiveKey returns the active key.
func (s *Store) ActiveKey(ctx context.Context) (store.Key, error) {
	return readOne(s, ctx, "active key", "SELECT "+keyCols+" FROM keys WHERE active", scanKey)
}

// keyState reads (and locks) a key's state inside a write.
func (w *wtx) keyState(kid, what string) (active, retired bool, err error) {
	var r *int64
	err = w.queryRow("SELECT active, retired_at FROM keys WHERE kid = $1 FOR UPDATE", kid).Scan(&active, &r)
	if err != nil {
		return false, false, mapErr(err, "%s %q", what, kid)
	}
	return active, r != nil, nil
}

// ActivateKey makes kid the only active key.
func (s *Store) ActivateKey(ctx context.Context, kid string, a *store.AuditEntry) error {
	return s.write(ctx, func(w *wtx) error {
		_, retired, err := w.keyState(kid, "activate key")
		if err != nil {
			return err
		}
		if retired {
			return fmt.Errorf("store: activate key %q: key is retired: %w", kid, store.ErrConflict)
		}
		if _, err := w.exec("UPDATE keys SET active = false WHERE active AND kid <> $1", kid); err != nil {
			return mapErr(err, "activate key %q", kid)
		}
		if _, err := w.exec("UPDATE keys SET active = true WHERE kid = $1", kid); err != nil {
			return mapErr(err, "activate key %q", kid)
		}
		return w.audit(a)
	})
}

// RetireKey marks kid retired; the active key cannot be retired.
func (s *Store) RetireKey(ctx context.Context, kid string, at time.Time, a *store.AuditEntry) error {
	return s.write(ctx, func(w *wtx) error {
		active, retired, err := w.keyState(kid, "retire key")
		if err != nil {
			return err
		}
		switch {
		case active:
			return fmt.Errorf("store: retire key %q: key is active: %w", kid, store.ErrConflict)
		case retired:
			return fmt.Errorf("store: retire key %q: key is already retired: %w", kid, store.ErrConflict)
		}
		n, err := store.Nanos(at, s.now, "retired_at")
		if err != nil {
			return err
		}
		if _, err := w.exec("UPDATE keys SET retired_at = $1 WHERE kid = $2", n, kid); err != nil {
			return mapErr(err, "retire key %q", kid)
		}
		return w.audit(a)
	})
}
