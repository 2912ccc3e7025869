package postgres

import (
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
