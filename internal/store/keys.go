package store

import (
	"context"
	"fmt"
	"time"
)

// Keys, in the methods both SQL stores share (SQLBase).

// KeyCols are the columns ScanKey reads.
const KeyCols = "kid, alg, public_jwk, private_enc, created_at, active, retired_at"

// ScanKey reads a key (KeyCols).
func ScanKey(sc Scanner) (Key, error) {
	var k Key
	var created int64
	var retired *int64
	if err := sc.Scan(&k.KID, &k.Alg, &k.PublicJWK, &k.PrivateEnc, &created, &k.Active, &retired); err != nil {
		return Key{}, err
	}
	k.CreatedAt = FromNanos(created)
	k.RetiredAt = FromNull(retired)
	return k, nil
}

// PutKey inserts a key. When k.Active is set every other key is
// deactivated in the same write.
func (s SQLBase) PutKey(ctx context.Context, k Key, a *AuditEntry) error {
	if err := CheckKey(k); err != nil {
		return err
	}
	retired, err := NullNanos(k.RetiredAt, "retired_at")
	if err != nil {
		return err
	}
	return s.Run(ctx, func(tx SQLTx) error {
		created, err := Nanos(k.CreatedAt, s.Now, "created_at")
		if err != nil {
			return err
		}
		if k.Active {
			if _, err := tx.Exec("UPDATE keys SET active = false WHERE active"); err != nil {
				return tx.MapErr(err, "put key %q", k.KID)
			}
		}
		if _, err := tx.Exec(`INSERT INTO keys (kid, alg, public_jwk, private_enc, created_at, active, retired_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, k.KID, k.Alg, k.PublicJWK, k.PrivateEnc, created, k.Active, retired); err != nil {
			return tx.MapErr(err, "put key %q", k.KID)
		}
		return audit(tx, a)
	})
}

// Keys returns every key, oldest first.
func (s SQLBase) Keys(ctx context.Context) ([]Key, error) {
	return ReadAll(s.DB, ctx, "keys", "SELECT "+KeyCols+" FROM keys ORDER BY created_at, "+s.Ord, ScanKey)
}

// ActiveKey returns the active key.
func (s SQLBase) ActiveKey(ctx context.Context) (Key, error) {
	return ReadOne(s.DB, ctx, "active key", "SELECT "+KeyCols+" FROM keys WHERE active", ScanKey)
}

// keyState reads (and locks) a key's state inside a write.
func keyState(tx SQLTx, kid, what string) (active, retired bool, err error) {
	if !Storable(kid) {
		return false, false, fmt.Errorf("store: %s %q: %w", what, kid, ErrNotFound)
	}
	var r *int64
	if err := tx.QueryRow("SELECT active, retired_at FROM keys WHERE kid = ?"+tx.Lock(), kid).Scan(&active, &r); err != nil {
		return false, false, tx.MapErr(err, "%s %q", what, kid)
	}
	return active, r != nil, nil
}

// ActivateKey makes kid the only active key.
func (s SQLBase) ActivateKey(ctx context.Context, kid string, a *AuditEntry) error {
	return s.Run(ctx, func(tx SQLTx) error {
		_, retired, err := keyState(tx, kid, "activate key")
		if err != nil {
			return err
		}
		if retired {
			return fmt.Errorf("store: activate key %q: key is retired: %w", kid, ErrConflict)
		}
		if _, err := tx.Exec("UPDATE keys SET active = false WHERE active AND kid <> ?", kid); err != nil {
			return tx.MapErr(err, "activate key %q", kid)
		}
		if _, err := tx.Exec("UPDATE keys SET active = true WHERE kid = ?", kid); err != nil {
			return tx.MapErr(err, "activate key %q", kid)
		}
		return audit(tx, a)
	})
}

// RetireKey marks kid retired; the active key cannot be retired.
func (s SQLBase) RetireKey(ctx context.Context, kid string, at time.Time, a *AuditEntry) error {
	return s.Run(ctx, func(tx SQLTx) error {
		active, retired, err := keyState(tx, kid, "retire key")
		if err != nil {
			return err
		}
		switch {
		case active:
			return fmt.Errorf("store: retire key %q: key is active: %w", kid, ErrConflict)
		case retired:
			return fmt.Errorf("store: retire key %q: key is already retired: %w", kid, ErrConflict)
		}
		n, err := Nanos(at, s.Now, "retired_at")
		if err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE keys SET retired_at = ? WHERE kid = ?", n, kid); err != nil {
			return tx.MapErr(err, "retire key %q", kid)
		}
		return audit(tx, a)
	})
}
