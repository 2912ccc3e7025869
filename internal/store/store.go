package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// Sentinel errors. Both are *errcode.Error values, so errcode.CodeOf maps them
// to not_found and conflict; test for them with errors.Is.
var (
	// ErrNotFound reports that the named record (key, token, credential,
	// status list, idempotency key) does not exist.
	ErrNotFound error = errcode.New(errcode.NotFound, "store: not found")
	// ErrConflict reports a uniqueness violation (duplicate id, key id, token
	// hash, status list index, idempotency key) or a change that the record's
	// state does not allow (retiring the active key, revoking a revoked token).
	ErrConflict error = errcode.New(errcode.Conflict, "store: conflict")
	// ErrClosed is returned by every call made after Close.
	ErrClosed = errors.New("store: closed")
)

// Status values of a credential, as published in its status list.
const (
	StatusValid     uint8 = 0
	StatusRevoked   uint8 = 1
	StatusSuspended uint8 = 2
)

// Key is an issuer signing key. The private half is stored encrypted by the
// caller; the store never interprets PrivateEnc.
type Key struct {
	KID        string // DID URL
	Alg        string // "ES256" | "EdDSA"
	PublicJWK  []byte // JSON
	PrivateEnc []byte // AES-GCM ciphertext, opaque here
	CreatedAt  time.Time
	Active     bool // exactly one active key at a time (when any)
	RetiredAt  *time.Time
}

// Token is an API bearer token. Only the hash of the secret is stored.
type Token struct {
	ID, Name, Role string
	Hash           []byte
	CreatedAt      time.Time
	RevokedAt      *time.Time
}

// Credential is the record of one issued credential. It never holds the
// credential itself, its disclosures or salts: only the SHA-256 of the issued
// string.
type Credential struct {
	ID, Subject, PrincipalID, AgentClass, VCT string
	ListID                                    string
	Idx                                       int
	Status                                    uint8 // 0 valid, 1 revoked, 2 suspended
	IssuedAt, ExpiresAt                       time.Time
	JWTHash                                   []byte // SHA-256 of the issued credential string
	TokenID                                   string // issuing token id
	StatusReason, StatusIncident, StatusNote  string // last status change
	StatusChangedAt                           *time.Time
}

// StatusList is one status list. Used counts the credentials assigned an
// index in it; Version is bumped by every status change in the list and is
// meant for ETags.
type StatusList struct {
	ID         string
	Size, Bits int
	Used       int
	Version    int64
	CreatedAt  time.Time
}

// AuditEntry is one entry of the hash-chained audit log. Seq, PrevHash and
// Hash are assigned by the store; see ChainHash for the chain.
type AuditEntry struct {
	Seq                   int64
	Time                  time.Time
	Actor, Action, Target string
	Details               json.RawMessage
	PrevHash, Hash        []byte
}

// AuditFilter selects audit entries. Empty fields do not filter. Since is
// inclusive, Until exclusive. Limit defaults to DefaultLimit and is capped at
// MaxLimit.
type AuditFilter struct {
	Actor, Action, Target string
	Since, Until          time.Time
	AfterSeq              int64
	Limit                 int
}

// CredentialFilter selects credential records. Empty fields do not filter;
// IssuedBefore is exclusive. Credentials pages by id (AfterID, Limit);
// BulkSetStatus ignores AfterID and Limit.
type CredentialFilter struct {
	Subject, PrincipalID, AgentClass string
	IssuedBefore                     time.Time
	Status                           *uint8
	AfterID                          string
	Limit                            int
}

// StatusChange is a change of a credential's status and why it was made.
type StatusChange struct {
	Value                  uint8
	Reason, Incident, Note string
	At                     time.Time
}

// Idempotency records that the issuance request with the given idempotency
// key, sent with the given token, produced CredentialID.
type Idempotency struct {
	TokenID, Key string
	RequestHash  []byte
	CredentialID string
	// Response is the first answer, sealed by the issuer (AES-GCM under its
	// key-encryption key), so that a retry gets the same credential back.
	Response  []byte
	CreatedAt time.Time
}

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
//   - Status transition rules are not enforced here: the store records.
//   - Slices and maps returned belong to the caller.
//   - After Close every method returns ErrClosed; Close may be called twice.
type Store interface {
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
	// Tokens returns all tokens, oldest first.
	Tokens(ctx context.Context) ([]Token, error)
	// RevokeToken marks the token revoked at at; ErrConflict if it already is.
	RevokeToken(ctx context.Context, id string, at time.Time, a *AuditEntry) error

	// CreateStatusList inserts a list with Used 0 and Version 1 (l.Used and
	// l.Version are ignored); ErrConflict on a duplicate id.
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
	// SetStatus records a status change, bumps the list's Version and
	// returns the updated record.
	SetStatus(ctx context.Context, credID string, ch StatusChange, a *AuditEntry) (Credential, error)
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
