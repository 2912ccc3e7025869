package store

import (
	"context"
	"time"

	"github.com/agentcert/agentcert/internal/records"
)

// The record types and sentinels live in package records, which has no
// storage code; these aliases keep the store's own names.
type (
	Key              = records.Key
	Token            = records.Token
	Credential       = records.Credential
	StatusList       = records.StatusList
	AuditEntry       = records.AuditEntry
	AuditFilter      = records.AuditFilter
	CredentialFilter = records.CredentialFilter
	StatusChange     = records.StatusChange
	CredentialStats  = records.CredentialStats
	Idempotency      = records.Idempotency
	ConsoleSession   = records.ConsoleSession
)

var (
	ErrNotFound = records.ErrNotFound
	ErrConflict = records.ErrConflict
	ErrClosed   = records.ErrClosed
	// ErrIncidentResolved is records.ErrIncidentResolved (an ErrConflict).
	ErrIncidentResolved = records.ErrIncidentResolved
	// ErrBulkChanged is records.ErrBulkChanged (an ErrConflict).
	ErrBulkChanged = records.ErrBulkChanged
	// ErrUnwritable is records.ErrUnwritable; see DiskFull and ReadOnly.
	ErrUnwritable = records.ErrUnwritable
	// ErrSessionLimit is records.ErrSessionLimit (an ErrConflict).
	ErrSessionLimit = records.ErrSessionLimit
)

const (
	StatusValid     = records.StatusValid
	StatusRevoked   = records.StatusRevoked
	StatusSuspended = records.StatusSuspended
)

// TransitionAllowed is records.TransitionAllowed.
func TransitionAllowed(from, to uint8) bool { return records.TransitionAllowed(from, to) }

// Store is the issuer's persistent state. The contract every implementation
// meets (and storetest.Run checks):
//
//   - All methods are safe for concurrent use by many goroutines.
//   - A method that changes state returns nil only once the change is
//     durable, and an error only when the change was not made. A context
//     that ends before the change starts cancels it (ctx.Err() is returned);
//     once started, the call waits for the outcome.
//   - A missing record is reported with an error that errors.Is ErrNotFound;
//     a uniqueness or state conflict with one that errors.Is ErrConflict.
//   - Every state-changing method takes an *AuditEntry (nil for none) which is
//     appended to the audit log atomically with the change: both happen or
//     neither does. Seq, PrevHash and Hash of the argument are ignored; a zero
//     Time means now.
//   - Times are returned in UTC with nanosecond precision; zero times passed
//     in for CreatedAt, IssuedAt, StatusChange.At and AuditEntry.Time mean now.
//   - Status transitions follow records.TransitionAllowed and are enforced
//     by the store, inside the database: SetStatus names the status it
//     expects to change from and fails with ErrConflict when the record is
//     no longer at it or the transition is not allowed, so that revocation
//     stays final however many processes share the database.
//   - A write the storage refuses because it is full or read-only fails
//     with an error that errors.Is ErrUnwritable (DiskFull, ReadOnly);
//     nothing is written, reads keep working, and writes succeed again
//     once the storage takes them.
//   - Slices and maps returned belong to the caller.
//   - After Close every method returns ErrClosed; Close may be called twice.
type Store interface {
	ConsoleSessions

	// PutKey inserts a new key (ErrConflict when the kid exists). A key put
	// with Active set becomes the only active key.
	PutKey(ctx context.Context, k Key, a *AuditEntry) error
	// Keys returns all keys, oldest first.
	Keys(ctx context.Context) ([]Key, error)
	// ActiveKey returns the active key, ErrNotFound when none is.
	ActiveKey(ctx context.Context) (Key, error)
	// ActivateKey makes kid the only active key; ErrConflict if it is retired.
	ActivateKey(ctx context.Context, kid string, a *AuditEntry) error
	// RetireKey marks kid retired at at; ErrConflict if it is active or
	// already retired.
	RetireKey(ctx context.Context, kid string, at time.Time, a *AuditEntry) error

	// CreateToken inserts a token; ErrConflict on a duplicate id or hash.
	CreateToken(ctx context.Context, t Token, a *AuditEntry) error
	// TokenByHash returns the token with that hash, revoked or not.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	// TokenByID returns the token with that id, revoked or not.
	TokenByID(ctx context.Context, id string) (Token, error)
	// Tokens returns all tokens, oldest first.
	Tokens(ctx context.Context) ([]Token, error)
	// RevokeToken marks the token revoked at at; ErrConflict if it already is.
	RevokeToken(ctx context.Context, id string, at time.Time, a *AuditEntry) error

	// CreateStatusList inserts a list with Used 0 and Version 1 (l.Used and
	// l.Version are ignored); ErrConflict on a duplicate id, invalid_input
	// for a size above MaxListSize.
	CreateStatusList(ctx context.Context, l StatusList, a *AuditEntry) error
	// StatusLists returns all lists, oldest first.
	StatusLists(ctx context.Context) ([]StatusList, error)
	// StatusList returns one list.
	StatusList(ctx context.Context, id string) (StatusList, error)
	// ListEntries returns the list's version and every index whose status
	// is not 0, read from one consistent snapshot.
	ListEntries(ctx context.Context, listID string) (version int64, entries map[int]uint8, err error)
	// UsedIndexes returns every index of the list assigned to a credential,
	// ascending.
	UsedIndexes(ctx context.Context, listID string) ([]int, error)

	// InsertCredential records an issued credential (status 0) and, when
	// idem is not nil, its idempotency key, and bumps the list's Used.
	// ErrNotFound when the list does not exist; ErrConflict on a duplicate id,
	// a (list, index) already assigned, or an existing idempotency key.
	InsertCredential(ctx context.Context, c Credential, idem *Idempotency, a *AuditEntry) error
	// Credential returns one credential record.
	Credential(ctx context.Context, id string) (Credential, error)
	// Credentials returns the records matching f, ascending by id, after
	// f.AfterID, at most f.Limit (default DefaultLimit, max MaxLimit).
	Credentials(ctx context.Context, f CredentialFilter) ([]Credential, error)
	// SetStatus changes the credential's status from from to ch.Value,
	// bumps the list's Version and returns the updated record. ErrConflict
	// when the credential's status is not from or the transition is not
	// allowed (records.TransitionAllowed); nothing is written then. With
	// ch.Resolves it also resolves that open incident and appends its
	// audit entry, in the same transaction: when the incident is not open
	// the change fails with ErrIncidentResolved (an ErrConflict that a
	// stale status is not) and nothing is written, so that of a status
	// change and a concurrent resolution of the incident only one takes
	// effect.
	SetStatus(ctx context.Context, credID string, from uint8, ch StatusChange, a *AuditEntry) (Credential, error)
	// BulkSetStatus applies ch to every credential matching f (at least one
	// of Subject, PrincipalID, AgentClass, IssuedBefore must be set) in one
	// transaction and returns how many changed. Credentials already at
	// ch.Value are skipped, and revoked ones are skipped unless ch.Value is
	// revoked (they are then already at it). With dryRun nothing is written
	// and the count is what would change. a, if not nil, is called with each
	// credential as it was before the change; a non-nil result is appended
	// to the audit log in the same transaction. Each touched list's Version
	// is bumped once. a runs while the write is in progress: it must be
	// quick and must not call the store.
	BulkSetStatus(ctx context.Context, f CredentialFilter, ch StatusChange, dryRun bool, a func(c Credential) *AuditEntry) (int, error)
	// CredentialStats counts the credentials at each status, and those
	// issued and revoked on each UTC day from since on.
	CredentialStats(ctx context.Context, since time.Time) (CredentialStats, error)
	// Idempotent returns the idempotency record for (tokenID, key).
	Idempotent(ctx context.Context, tokenID, key string) (Idempotency, error)

	// AppendAudit appends a on its own and returns the stored entry.
	AppendAudit(ctx context.Context, a AuditEntry) (AuditEntry, error)
	// Audit returns the entries matching f in ascending seq, after f.AfterSeq.
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
	// VerifyAudit recomputes the whole chain. checked is the number of
	// entries examined; firstBroken is the seq of the first entry whose
	// seq, prev_hash or hash is wrong (verification stops there), 0 when the
	// chain is intact.
	VerifyAudit(ctx context.Context) (checked int64, firstBroken int64, err error)

	// Ping reports whether the store is usable.
	Ping(ctx context.Context) error
	// Close finishes every write already submitted, then releases the store.
	Close() error
}
