package store

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentcert/agentcert/errcode"
)

// The argument checks and record preparation every Store implementation
// shares, so that SQLite and PostgreSQL refuse the same input with the same
// codes. They read nothing from a database.

// noNUL refuses text that holds a NUL character or is not UTF-8, which
// PostgreSQL text cannot store: SQLite would keep it, so both refuse it
// here alike (invalid_input, the client's mistake). vals alternate names
// and values.
func noNUL(op string, vals ...string) error {
	for i := 0; i+1 < len(vals); i += 2 {
		if !Storable(vals[i+1]) {
			return errcode.New(errcode.InvalidInput, "store: %s: %s holds a NUL character or is not UTF-8", op, vals[i])
		}
	}
	return nil
}

// Storable reports whether s is text both stores keep: UTF-8 without NUL.
// A record is never stored under an id that is not, so a lookup of one
// finds nothing (ErrNotFound) in either store.
func Storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// CheckKey checks a key before PutKey.
func CheckKey(k Key) error {
	if k.KID == "" {
		return errcode.New(errcode.InvalidInput, "store: put key: empty kid")
	}
	if k.Alg != "ES256" && k.Alg != "EdDSA" {
		return errcode.New(errcode.InvalidInput, "store: put key %q: alg %q is not ES256 or EdDSA", k.KID, k.Alg)
	}
	if len(k.PublicJWK) == 0 || len(k.PrivateEnc) == 0 {
		return errcode.New(errcode.InvalidInput, "store: put key %q: public JWK and encrypted private key are required", k.KID)
	}
	if k.RetiredAt != nil && !k.RetiredAt.IsZero() {
		if _, err := Nanos(*k.RetiredAt, nil, "retired_at"); err != nil {
			return err
		}
		if k.Active {
			return errcode.New(errcode.InvalidInput, "store: put key %q: a retired key cannot be active", k.KID)
		}
	}
	return nil
}

// CheckToken checks a token before CreateToken.
func CheckToken(t Token) error {
	if t.ID == "" || t.Role == "" || len(t.Hash) == 0 {
		return errcode.New(errcode.InvalidInput, "store: create token: id, role and hash are required")
	}
	if err := noNUL("create token", "id", t.ID, "name", t.Name, "role", t.Role); err != nil {
		return err
	}
	if t.RevokedAt != nil && !t.RevokedAt.IsZero() {
		if _, err := Nanos(*t.RevokedAt, nil, "revoked_at"); err != nil {
			return err
		}
	}
	return nil
}

// CheckStatusList checks a list before CreateStatusList.
func CheckStatusList(l StatusList) error {
	if l.ID == "" {
		return errcode.New(errcode.InvalidInput, "store: create status list: empty id")
	}
	if l.Size <= 0 || l.Size > MaxListSize {
		return errcode.New(errcode.InvalidInput, "store: create status list %q: size %d is not between 1 and %d", l.ID, l.Size, MaxListSize)
	}
	switch l.Bits {
	case 1, 2, 4, 8:
	default:
		return errcode.New(errcode.InvalidInput, "store: create status list %q: bits %d is not 1, 2, 4 or 8", l.ID, l.Bits)
	}
	return nil
}

// CheckCredential checks a credential record and its idempotency key before
// InsertCredential. That the index lies inside its list is checked by the
// store, which knows the list's size.
func CheckCredential(c Credential, idem *Idempotency) error {
	if c.ID == "" || c.ListID == "" {
		return errcode.New(errcode.InvalidInput, "store: insert credential: id and list id are required")
	}
	if err := noNUL("insert credential", "id", c.ID, "subject", c.Subject, "principal id", c.PrincipalID, "agent class", c.AgentClass,
		"vct", c.VCT, "list id", c.ListID, "token id", c.TokenID, "status reason", c.StatusReason, "status incident", c.StatusIncident, "status note", c.StatusNote); err != nil {
		return err
	}
	if c.Idx < 0 || c.Idx >= MaxListSize {
		return errcode.New(errcode.InvalidInput, "store: insert credential %q: index %d is not between 0 and %d", c.ID, c.Idx, MaxListSize-1)
	}
	if c.Status > StatusSuspended {
		return errcode.New(errcode.InvalidInput, "store: insert credential %q: status %d is not 0, 1 or 2", c.ID, c.Status)
	}
	if len(c.JWTHash) == 0 {
		return errcode.New(errcode.InvalidInput, "store: insert credential %q: jwt hash is required", c.ID)
	}
	for _, t := range []struct {
		t    *time.Time
		what string
	}{{&c.ExpiresAt, "expires_at"}, {c.StatusChangedAt, "status_changed_at"}} {
		if t.t != nil && !t.t.IsZero() {
			if _, err := Nanos(*t.t, nil, t.what); err != nil {
				return err
			}
		}
	}
	if idem != nil && (idem.TokenID == "" || idem.Key == "") {
		return errcode.New(errcode.InvalidInput, "store: insert credential %q: idempotency token id and key are required", c.ID)
	}
	if idem != nil {
		if err := noNUL("insert credential", "idempotency token id", idem.TokenID, "idempotency key", idem.Key); err != nil {
			return err
		}
	}
	return nil
}

// IndexOutside is the error of a credential whose index does not fit its
// list.
func IndexOutside(c Credential, size int) error {
	return errcode.New(errcode.InvalidInput, "store: insert credential %q: index %d outside list %q of size %d", c.ID, c.Idx, c.ListID, size)
}

// CheckChange checks a status value.
func CheckChange(ch StatusChange) error {
	if ch.Value > StatusSuspended {
		return errcode.New(errcode.InvalidInput, "store: status %d is not 0, 1 or 2", ch.Value)
	}
	return noNUL("status change", "reason", ch.Reason, "incident", ch.Incident, "note", ch.Note)
}

// CheckTransition refuses a status value out of range (invalid_input) and
// a transition records.TransitionAllowed forbids (ErrConflict), before
// anything is read.
func CheckTransition(from uint8, ch StatusChange) error {
	if err := CheckChange(ch); err != nil {
		return err
	}
	if from > StatusSuspended {
		return errcode.New(errcode.InvalidInput, "store: status %d is not 0, 1 or 2", from)
	}
	if !TransitionAllowed(from, ch.Value) {
		return fmt.Errorf("store: status %d cannot change to %d: %w", from, ch.Value, ErrConflict)
	}
	return nil
}

// StaleStatus is the conflict of a SetStatus whose expected prior status is
// no longer the record's.
func StaleStatus(id string, got, want uint8) error {
	return fmt.Errorf("store: set status of %q: status is %d, not %d: %w", id, got, want, ErrConflict)
}

// Changed returns c after the status change ch made at t.
func Changed(c Credential, ch StatusChange, t time.Time) Credential {
	c.Status, c.StatusReason, c.StatusIncident, c.StatusNote = ch.Value, ch.Reason, ch.Incident, ch.Note
	c.StatusChangedAt = &t
	return c
}

// CheckBulk checks the filter and change of BulkSetStatus.
func CheckBulk(f CredentialFilter, ch StatusChange) error {
	if f.Subject == "" && f.PrincipalID == "" && f.AgentClass == "" && f.IssuedBefore.IsZero() {
		return errcode.New(errcode.InvalidInput, "store: bulk status change needs a subject, principal id, agent class or issued-before filter")
	}
	if err := CheckChange(ch); err != nil {
		return err
	}
	return CheckFilter(f)
}

// CheckFilter checks a credential filter's values.
func CheckFilter(f CredentialFilter) error {
	if f.Status != nil && *f.Status > StatusSuspended {
		return errcode.New(errcode.InvalidInput, "store: status filter %d is not 0, 1 or 2", *f.Status)
	}
	if err := noNUL("credential filter", "subject", f.Subject, "principal id", f.PrincipalID, "agent class", f.AgentClass, "after id", f.AfterID); err != nil {
		return err
	}
	return checkTimes(namedTime{"issued_after", f.IssuedAfter}, namedTime{"issued_before", f.IssuedBefore})
}

// CheckAuditFilter checks the times of an audit filter.
func CheckAuditFilter(f AuditFilter) error {
	if err := noNUL("audit filter", "actor", f.Actor, "action", f.Action, "target", f.Target); err != nil {
		return err
	}
	return checkTimes(namedTime{"since", f.Since}, namedTime{"until", f.Until})
}

// namedTime is a time of a filter and its name in errors.
type namedTime struct {
	what string
	t    time.Time
}

// checkTimes checks that every time given (a zero one means none) can be
// stored.
func checkTimes(ts ...namedTime) error {
	for _, t := range ts {
		if !t.t.IsZero() {
			if _, err := Nanos(t.t, nil, t.what); err != nil {
				return err
			}
		}
	}
	return nil
}

// PrepareAudit checks an entry and returns it as it will be stored, before
// it is numbered and chained: details compacted, a zero time set from now,
// times in UTC.
func PrepareAudit(a AuditEntry, now func() time.Time) (AuditEntry, error) {
	if a.Action == "" {
		return AuditEntry{}, errcode.New(errcode.InvalidInput, "store: audit entry without action")
	}
	if err := noNUL("audit entry", "actor", a.Actor, "action", a.Action, "target", a.Target); err != nil {
		return AuditEntry{}, err
	}
	details, err := normalizeDetails(a.Details)
	if err != nil {
		return AuditEntry{}, err
	}
	t, err := Nanos(a.Time, now, "audit time")
	if err != nil {
		return AuditEntry{}, err
	}
	return AuditEntry{Time: FromNanos(t), Actor: a.Actor, Action: a.Action, Target: a.Target, Details: details}, nil
}

// Chain numbers a prepared entry after the head (seq, hash) of the log and
// sets its PrevHash and Hash. An empty log has head (0, GenesisHash()).
func Chain(e AuditEntry, headSeq int64, headHash []byte) AuditEntry {
	e.Seq = headSeq + 1
	e.PrevHash = bytes.Clone(headHash)
	e.Hash = ChainHash(e.PrevHash, e)
	return e
}

// ClampLimit returns the page size a filter's Limit asks for.
func ClampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// Nanos converts a time to stored nanoseconds since the Unix epoch; a zero
// time means def() (invalid_input when def is nil), and a time outside the
// int64 range is invalid_input.
func Nanos(t time.Time, def func() time.Time, what string) (int64, error) {
	if t.IsZero() {
		if def == nil {
			return 0, errcode.New(errcode.InvalidInput, "store: %s is zero", what)
		}
		t = def()
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, errcode.New(errcode.InvalidInput, "store: %s %s is out of range", what, t.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// FromNanos is the UTC time of stored nanoseconds.
func FromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// statsQuery counts credentials by status and, from a time on (both
// placeholders), issued and revoked ones by UTC day: rows of (kind, key,
// count) that AddStat folds.
const statsQuery = `SELECT 's', CAST(status AS BIGINT), COUNT(*) FROM credentials GROUP BY status
	UNION ALL SELECT 'i', issued_at / 86400000000000, COUNT(*) FROM credentials WHERE issued_at >= ? GROUP BY issued_at / 86400000000000
	UNION ALL SELECT 'r', status_changed_at / 86400000000000, COUNT(*) FROM credentials WHERE status = 1 AND status_changed_at >= ? GROUP BY status_changed_at / 86400000000000`

// NewStats returns empty stats.
func NewStats() CredentialStats {
	return CredentialStats{ByStatus: map[uint8]int{}, IssuedPerDay: map[string]int{}, RevokedPerDay: map[string]int{}}
}

// AddStat folds one row of the stats query into st.
func AddStat(st *CredentialStats, kind string, key, n int64) {
	day := func() string { return time.Unix(key*86400, 0).UTC().Format(time.DateOnly) }
	switch kind {
	case "s":
		st.ByStatus[uint8(key)] = int(n)
	case "i":
		st.IssuedPerDay[day()] = int(n)
	case "r":
		st.RevokedPerDay[day()] = int(n)
	}
}
