package postgres

import (
	"bytes"
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/agentcert/agentcert/internal/store"
)

// appendAudit chains a to the head this batch holds locked and inserts it.
func (w *wtx) appendAudit(a store.AuditEntry) (store.AuditEntry, error) {
	e, err := store.PrepareAudit(a, w.s.now)
	if err != nil {
		return store.AuditEntry{}, err
	}
	e = store.Chain(e, w.headSeq, w.headHash)
	if _, err := w.exec(`INSERT INTO audit_log (seq, time, actor, action, target, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, e.Seq, e.Time.UnixNano(), e.Actor, e.Action, e.Target, string(e.Details), e.PrevHash, e.Hash); err != nil {
		return store.AuditEntry{}, mapErr(err, "append audit")
	}
	w.headSeq, w.headHash = e.Seq, e.Hash
	return e, nil
}

// audit appends a when it is not nil.
func (w *wtx) audit(a *store.AuditEntry) error {
	if a == nil {
		return nil
	}
	_, err := w.appendAudit(*a)
	return err
}

// VerifyAudit recomputes the chain from the first entry, in one snapshot,
// and checks that the head row names the last entry.
func (s *Store) VerifyAudit(ctx context.Context) (checked int64, firstBroken int64, err error) {
	err = s.snapshot(ctx, "verify audit", func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT "+store.AuditCols+" FROM audit_log ORDER BY seq")
		if err != nil {
			return err
		}
		defer rows.Close()
		prev := store.GenesisHash()
		for rows.Next() {
			e, err := store.ScanAudit(rows)
			if err != nil {
				return err
			}
			checked++
			if e.Seq != checked || !bytes.Equal(e.PrevHash, prev) || !bytes.Equal(e.Hash, store.ChainHash(prev, e)) {
				firstBroken = e.Seq
				return nil
			}
			prev = e.Hash
		}
		if err := rows.Err(); err != nil {
			return err
		}
		var headSeq int64
		var headHash []byte
		if err := tx.QueryRow(ctx, "SELECT seq, hash FROM audit_head").Scan(&headSeq, &headHash); err != nil {
			return err
		}
		if headSeq != checked || !bytes.Equal(headHash, prev) {
			// Entries after the last one the log holds were chained and
			// lost, or the head was moved: the first missing seq is broken.
			firstBroken = checked + 1
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return checked, firstBroken, nil
}
