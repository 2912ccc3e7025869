package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// genesisHash is the PrevHash of the first audit entry: 32 zero bytes.
var genesisHash = make([]byte, sha256.Size)

// GenesisHash returns the PrevHash of the first audit entry (32 zero bytes).
func GenesisHash() []byte { return bytes.Clone(genesisHash) }

// ChainHash returns the hash of entry e chained to prev:
//
//	SHA-256(prev || u64(seq) || f(time) || f(actor) || f(action) || f(target) || f(details))
//
// where u64 is 8 bytes big-endian, f(x) is the 4-byte big-endian length of x
// followed by x, time is e.Time in UTC formatted with time.RFC3339Nano, and
// details is the stored JSON (compacted, with <, >, & and U+2028/U+2029
// escaped as encoding/json.Marshal emits them). The length prefixes make the
// encoding injective: no two different entries encode alike. e.PrevHash and
// e.Hash are not read.
func ChainHash(prev []byte, e AuditEntry) []byte {
	h := sha256.New()
	h.Write(prev)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	field := func(b []byte) {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(b)))
		h.Write(l[:])
		h.Write(b)
	}
	field([]byte(e.Time.UTC().Format(time.RFC3339Nano)))
	field([]byte(e.Actor))
	field([]byte(e.Action))
	field([]byte(e.Target))
	field(e.Details)
	return h.Sum(nil)
}

// normalizeDetails returns the compacted form of details; empty means {}.
func normalizeDetails(d json.RawMessage) (json.RawMessage, error) {
	if len(d) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if len(d) > MaxAuditDetails {
		return nil, errcode.New(errcode.TooLarge, "store: audit details are %d bytes, limit %d", len(d), MaxAuditDetails)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, d); err != nil {
		return nil, errcode.Wrap(errcode.InvalidInput, err, "store: audit details are not JSON")
	}
	// Escape <, >, &, U+2028 and U+2029 the way encoding/json.Marshal does,
	// so that re-encoding the entry (GET /v1/audit) leaves the hashed bytes
	// unchanged.
	var out bytes.Buffer
	json.HTMLEscape(&out, buf.Bytes())
	return out.Bytes(), nil
}

// appendAudit appends a inside the current op and returns the stored entry.
func (w *wtx) appendAudit(a AuditEntry) (AuditEntry, error) {
	e, err := PrepareAudit(a, w.s.now)
	if err != nil {
		return AuditEntry{}, err
	}
	if !w.head.known {
		var seq int64
		var prev []byte
		err = w.queryRow("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&seq, &prev)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			seq, prev = 0, genesisHash
		case err != nil:
			return AuditEntry{}, fmt.Errorf("store: audit head: %w", err)
		}
		w.head = auditHead{known: true, seq: seq, hash: prev}
	}
	e = Chain(e, w.head.seq, w.head.hash)
	t := e.Time.UnixNano()
	if _, err := w.exec(`INSERT INTO audit_log (seq, time, actor, action, target, details, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, t, e.Actor, e.Action, e.Target, string(e.Details), e.PrevHash, e.Hash); err != nil {
		return AuditEntry{}, mapErr(err, "append audit")
	}
	w.head = auditHead{known: true, seq: e.Seq, hash: e.Hash}
	return e, nil
}

// audit appends a when it is not nil.
func (w *wtx) audit(a *AuditEntry) error {
	if a == nil {
		return nil
	}
	_, err := w.appendAudit(*a)
	return err
}

// AppendAudit appends an entry that records no state change of its own.
func (s SQLBase) AppendAudit(ctx context.Context, a AuditEntry) (AuditEntry, error) {
	var out AuditEntry
	err := s.Run(ctx, func(tx SQLTx) error {
		var err error
		out, err = tx.AppendAudit(a)
		return err
	})
	if err != nil {
		return AuditEntry{}, err
	}
	return out, nil
}

// AuditCols are the columns ScanAudit reads.
const AuditCols = "seq, time, actor, action, target, details, prev_hash, hash"

// ScanAudit reads an audit entry (AuditCols).
func ScanAudit(sc Scanner) (AuditEntry, error) {
	var e AuditEntry
	var t int64
	var details string
	if err := sc.Scan(&e.Seq, &t, &e.Actor, &e.Action, &e.Target, &details, &e.PrevHash, &e.Hash); err != nil {
		return AuditEntry{}, err
	}
	e.Time = FromNanos(t)
	e.Details = json.RawMessage(details)
	return e, nil
}

// Audit returns the entries matching f, ascending by seq.
func (s SQLBase) Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	if err := CheckAuditFilter(f); err != nil {
		return nil, err
	}
	where := []string{"seq > ?"}
	args := []any{f.AfterSeq}
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	for _, c := range []struct{ col, v string }{{"actor", f.Actor}, {"action", f.Action}, {"target", f.Target}} {
		if c.v != "" {
			add(c.col+" = ?", c.v)
		}
	}
	if !f.Since.IsZero() {
		add("time >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("time < ?", f.Until.UnixNano())
	}
	q := "SELECT " + AuditCols + " FROM audit_log WHERE " + strings.Join(where, " AND ") + " ORDER BY seq LIMIT ?"
	return ReadAll(s.DB, ctx, "audit", q, ScanAudit, append(args, ClampLimit(f.Limit))...)
}

// VerifyAudit recomputes the chain from the first entry, in one snapshot,
// and where the store keeps a head row (AuditHead) checks that it names
// the last entry.
func (s SQLBase) VerifyAudit(ctx context.Context) (checked int64, firstBroken int64, err error) {
	err = s.DB.Snapshot(ctx, "verify audit", func(q Querier) error {
		rows, err := q.Query("SELECT " + AuditCols + " FROM audit_log ORDER BY seq")
		if err != nil {
			return err
		}
		defer rows.Close()
		prev := genesisHash
		for rows.Next() {
			e, err := ScanAudit(rows)
			if err != nil {
				return err
			}
			checked++
			if e.Seq != checked || !bytes.Equal(e.PrevHash, prev) || !bytes.Equal(e.Hash, ChainHash(prev, e)) {
				firstBroken = e.Seq
				return nil
			}
			prev = e.Hash
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if s.AuditHead == "" {
			return nil
		}
		var headSeq int64
		var headHash []byte
		if err := q.QueryRow(s.AuditHead).Scan(&headSeq, &headHash); err != nil {
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
