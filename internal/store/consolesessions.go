package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// ConsoleSessions keeps the auditor console's sessions in the database, so
// that every node behind a load balancer knows them and a sign-out ends a
// session everywhere (storetest's ConsoleSessions checks the contract).
type ConsoleSessions interface {
	// CreateConsoleSession first forgets the sessions that have ended (last
	// seen at or before idleSince, or created at or before createdSince), then inserts
	// s with the audit entry a, atomically, unless limit sessions are still
	// live: ErrSessionLimit. A duplicate key is ErrConflict. Nodes creating
	// sessions at the same moment may each pass the count, so limit is a
	// bound on the table's growth, not an exact cap.
	CreateConsoleSession(ctx context.Context, s ConsoleSession, limit int, idleSince, createdSince time.Time, a *AuditEntry) error
	// ConsoleSession returns the session with that key (ErrNotFound when
	// there is none), ended or not: the caller applies its timeouts.
	ConsoleSession(ctx context.Context, key []byte) (ConsoleSession, error)
	// TouchConsoleSession sets the session's SeenAt to at when that is
	// later (ErrNotFound when the session is gone).
	TouchConsoleSession(ctx context.Context, key []byte, at time.Time) error
	// DeleteConsoleSession removes the session with that key, writing the
	// audit entry a; a session already gone is not an error (a is then
	// still written).
	DeleteConsoleSession(ctx context.Context, key []byte, a *AuditEntry) error
}

// CheckConsoleSession checks a session before it is stored.
func CheckConsoleSession(s ConsoleSession) error {
	switch {
	case len(s.Key) != sha256.Size:
		return errcode.New(errcode.InvalidInput, "store: console session: the key must be a SHA-256 (%d bytes), not %d bytes", sha256.Size, len(s.Key))
	case s.TokenID == "" || len(s.TokenHash) == 0:
		return errcode.New(errcode.InvalidInput, "store: console session: token id and hash are required")
	}
	return noNUL("console session", "token id", s.TokenID)
}

const consoleSessionCols = "key_hash, token_id, token_hash, created_at, seen_at"

func scanConsoleSession(sc Scanner) (ConsoleSession, error) {
	var s ConsoleSession
	var created, seen int64
	if err := sc.Scan(&s.Key, &s.TokenID, &s.TokenHash, &created, &seen); err != nil {
		return ConsoleSession{}, err
	}
	s.CreatedAt, s.SeenAt = FromNanos(created), FromNanos(seen)
	return s, nil
}

// CreateConsoleSession inserts a console session after forgetting ended ones.
func (s SQLBase) CreateConsoleSession(ctx context.Context, cs ConsoleSession, limit int, idleSince, createdSince time.Time, a *AuditEntry) error {
	if err := CheckConsoleSession(cs); err != nil {
		return err
	}
	if limit < 1 {
		return errcode.New(errcode.InvalidInput, "store: console session: limit %d, want at least 1", limit)
	}
	idle, err := Nanos(idleSince, nil, "idle since")
	if err != nil {
		return err
	}
	oldest, err := Nanos(createdSince, nil, "created since")
	if err != nil {
		return err
	}
	return s.Run(ctx, func(tx SQLTx) error {
		created, err := Nanos(cs.CreatedAt, s.Now, "created_at")
		if err != nil {
			return err
		}
		seen := created
		if !cs.SeenAt.IsZero() {
			if seen, err = Nanos(cs.SeenAt, nil, "seen_at"); err != nil {
				return err
			}
		}
		if _, err := tx.Exec("DELETE FROM console_sessions WHERE seen_at <= ? OR created_at <= ?", idle, oldest); err != nil {
			return tx.MapErr(err, "create console session: forget ended sessions")
		}
		var live int
		if err := tx.QueryRow("SELECT COUNT(*) FROM console_sessions").Scan(&live); err != nil {
			return tx.MapErr(err, "create console session: count")
		}
		if live >= limit {
			return fmt.Errorf("store: create console session: %d live: %w", live, ErrSessionLimit)
		}
		if _, err := tx.Exec("INSERT INTO console_sessions ("+consoleSessionCols+") VALUES (?, ?, ?, ?, ?)",
			cs.Key, cs.TokenID, cs.TokenHash, created, seen); err != nil {
			return tx.MapErr(err, "create console session")
		}
		return audit(tx, a)
	})
}

// ConsoleSession returns a console session by key.
func (s SQLBase) ConsoleSession(ctx context.Context, key []byte) (ConsoleSession, error) {
	return ReadOne(s.DB, ctx, "console session", "SELECT "+consoleSessionCols+" FROM console_sessions WHERE key_hash = ?", scanConsoleSession, key)
}

// TouchConsoleSession records a console session's latest request.
func (s SQLBase) TouchConsoleSession(ctx context.Context, key []byte, at time.Time) error {
	n, err := Nanos(at, nil, "seen_at")
	if err != nil {
		return err
	}
	return s.Run(ctx, func(tx SQLTx) error {
		if _, err := tx.Exec("UPDATE console_sessions SET seen_at = ? WHERE key_hash = ? AND seen_at < ?", n, key, n); err != nil {
			return tx.MapErr(err, "touch console session")
		}
		var one int
		if err := tx.QueryRow("SELECT 1 FROM console_sessions WHERE key_hash = ?", key).Scan(&one); err != nil {
			return tx.MapErr(err, "touch console session")
		}
		return nil
	})
}

// DeleteConsoleSession removes a console session.
func (s SQLBase) DeleteConsoleSession(ctx context.Context, key []byte, a *AuditEntry) error {
	return s.Run(ctx, func(tx SQLTx) error {
		if _, err := tx.Exec("DELETE FROM console_sessions WHERE key_hash = ?", key); err != nil {
			return tx.MapErr(err, "delete console session")
		}
		return audit(tx, a)
	})
}
