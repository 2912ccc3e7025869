package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// PutKey inserts a key. When k.Active is set every other key is deactivated
// in the same transaction.
func (s *SQLite) PutKey(ctx context.Context, k Key, a *AuditEntry) error {
	if err := CheckKey(k); err != nil {
		return err
	}
	retired, err := nullNanos(k.RetiredAt, "retired_at")
	if err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		created, err := Nanos(k.CreatedAt, s.now, "created_at")
		if err != nil {
			return err
		}
		if k.Active {
			if _, err := w.exec("UPDATE keys SET active = 0 WHERE active = 1"); err != nil {
				return mapErr(err, "put key %q", k.KID)
			}
		}
		if _, err := w.exec(`INSERT INTO keys (kid, alg, public_jwk, private_enc, created_at, active, retired_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, k.KID, k.Alg, k.PublicJWK, k.PrivateEnc, created, k.Active, retired); err != nil {
			return mapErr(err, "put key %q", k.KID)
		}
		return w.audit(a)
	})
}

const keyCols = "kid, alg, public_jwk, private_enc, created_at, active, retired_at"

func scanKey(sc interface{ Scan(...any) error }) (Key, error) {
	var k Key
	var created int64
	var retired sql.NullInt64
	if err := sc.Scan(&k.KID, &k.Alg, &k.PublicJWK, &k.PrivateEnc, &created, &k.Active, &retired); err != nil {
		return Key{}, err
	}
	k.CreatedAt = FromNanos(created)
	k.RetiredAt = fromNull(retired)
	return k, nil
}

// Keys returns every key, oldest first.
func (s *SQLite) Keys(ctx context.Context) ([]Key, error) {
	release, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+keyCols+" FROM keys ORDER BY created_at, rowid")
	if err != nil {
		return nil, mapErr(err, "keys")
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, mapErr(err, "keys")
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(err, "keys")
	}
	return out, nil
}

// ActiveKey returns the active key.
func (s *SQLite) ActiveKey(ctx context.Context) (Key, error) {
	release, err := s.acquire()
	if err != nil {
		return Key{}, err
	}
	defer release()
	k, err := scanKey(s.rdb.QueryRowContext(ctx, "SELECT "+keyCols+" FROM keys WHERE active = 1"))
	if err != nil {
		return Key{}, mapErr(err, "active key")
	}
	return k, nil
}

// keyState reads a key's retirement inside a write.
func (w *wtx) keyState(kid, what string) (active bool, retired bool, err error) {
	var r sql.NullInt64
	err = w.queryRow("SELECT active, retired_at FROM keys WHERE kid = ?", kid).Scan(&active, &r)
	if err != nil {
		return false, false, mapErr(err, "%s %q", what, kid)
	}
	return active, r.Valid, nil
}

// ActivateKey makes kid the only active key.
func (s *SQLite) ActivateKey(ctx context.Context, kid string, a *AuditEntry) error {
	return s.write(ctx, func(w *wtx) error {
		_, retired, err := w.keyState(kid, "activate key")
		if err != nil {
			return err
		}
		if retired {
			return fmt.Errorf("store: activate key %q: key is retired: %w", kid, ErrConflict)
		}
		if _, err := w.exec("UPDATE keys SET active = 0 WHERE active = 1 AND kid <> ?", kid); err != nil {
			return mapErr(err, "activate key %q", kid)
		}
		if _, err := w.exec("UPDATE keys SET active = 1 WHERE kid = ?", kid); err != nil {
			return mapErr(err, "activate key %q", kid)
		}
		return w.audit(a)
	})
}

// RetireKey marks kid retired; the active key cannot be retired.
func (s *SQLite) RetireKey(ctx context.Context, kid string, at time.Time, a *AuditEntry) error {
	return s.write(ctx, func(w *wtx) error {
		active, retired, err := w.keyState(kid, "retire key")
		if err != nil {
			return err
		}
		switch {
		case active:
			return fmt.Errorf("store: retire key %q: key is active: %w", kid, ErrConflict)
		case retired:
			return fmt.Errorf("store: retire key %q: key is already retired: %w", kid, ErrConflict)
		}
		n, err := Nanos(at, s.now, "retired_at")
		if err != nil {
			return err
		}
		if _, err := w.exec("UPDATE keys SET retired_at = ? WHERE kid = ?", n, kid); err != nil {
			return mapErr(err, "retire key %q", kid)
		}
		return w.audit(a)
	})
}
