// Package records holds the issuer's stored records (keys, tokens,
// credential records, status lists, audit entries) and the store's sentinel
// errors, apart from any storage code, so that core packages can use them
// without linking a database driver. internal/store defines the Store
// contract over them and its SQLite implementation.
package records

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/agentcert/agentcert/errcode"
)

// Sentinel errors. ErrNotFound, ErrConflict and ErrUnwritable are
// *errcode.Error values, so errcode.CodeOf maps them to not_found, conflict
// and storage_unwritable; test for them with errors.Is (which matches any
// error with the same code).
var (
	// ErrNotFound reports that the named record (key, token, credential,
	// status list, idempotency key) does not exist.
	ErrNotFound error = errcode.New(errcode.NotFound, "store: not found")
	// ErrConflict reports a uniqueness violation (duplicate id, key id, token
	// hash, status list index, idempotency key) or a change that the record's
	// state does not allow (retiring the active key, revoking a revoked token).
	ErrConflict error = errcode.New(errcode.Conflict, "store: conflict")
	// ErrUnwritable reports a write the storage refused because it is full
	// or read-only. Nothing was written; reads keep working, and the same
	// write succeeds once the storage takes writes again.
	ErrUnwritable error = errcode.New(errcode.StorageUnwritable, "store: the storage refuses writes")
	// ErrIncidentResolved reports a status change refused because the
	// incident it was to resolve (StatusChange.Resolves) is no longer open.
	// It wraps ErrConflict, and a stale status is not ErrIncidentResolved.
	ErrIncidentResolved = fmt.Errorf("store: the incident is already resolved: %w", ErrConflict)
	// ErrBulkChanged reports a bulk status change refused because the
	// credentials matching its filter, counted in its transaction, are not
	// the number it expected (StatusChange.Expect): the set changed since
	// it was previewed. It wraps ErrConflict.
	ErrBulkChanged = fmt.Errorf("store: the credentials matching the bulk change are not those previewed: %w", ErrConflict)
	// ErrClosed is returned by every call made after Close.
	ErrClosed = errors.New("store: closed")
)

// Status values of a credential, as published in its status list.
const (
	StatusValid     uint8 = 0
	StatusRevoked   uint8 = 1
	StatusSuspended uint8 = 2
)

// TransitionAllowed reports whether a credential's status may change from
// from to to: a valid credential may be suspended or revoked, a suspended one
// reinstated or revoked, and revocation is final. Staying at the same status
// is not a transition. Every store enforces this rule where the data is.
func TransitionAllowed(from, to uint8) bool {
	switch from {
	case StatusValid:
		return to == StatusRevoked || to == StatusSuspended
	case StatusSuspended:
		return to == StatusValid || to == StatusRevoked
	}
	return false
}

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
	JWTHash                                   []byte // the credential digest (sdjwt.CredentialDigest): SHA-256 of the issuer JWT's signing input
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
// IssuedAfter is inclusive, IssuedBefore exclusive. Credentials pages by id (AfterID, Limit);
// BulkSetStatus ignores AfterID and Limit.
type CredentialFilter struct {
	Subject, PrincipalID, AgentClass string
	IssuedAfter, IssuedBefore        time.Time
	Status                           *uint8
	AfterID                          string
	Limit                            int
}

// CredentialStats are the counts the auditor console's dashboard charts.
// Days are UTC dates (2006-01-02).
type CredentialStats struct {
	ByStatus      map[uint8]int  // credentials at each status
	IssuedPerDay  map[string]int // credentials issued each day since the asked time
	RevokedPerDay map[string]int // credentials revoked each day since the asked time (revocation is final, so its time stays)
}

// StatusChange is a change of a credential's status and why it was made.
// Resolves, when not nil, is the resolution of an open incident, made in
// the same transaction: the change is refused (ErrIncidentResolved) when
// the incident is no longer open.
type StatusChange struct {
	Value                  uint8
	Reason, Incident, Note string
	At                     time.Time
	Resolves               *IncidentResolution
	// Expect, for BulkSetStatus and when positive, is how many credentials
	// the change must find: another count refuses it (ErrBulkChanged),
	// so that a confirmed preview changes exactly what it showed.
	Expect int
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

// ConsoleSession is a signed-in session of the auditor console. Only the
// SHA-256 of the session cookie's random value is stored (Key); the token
// it signed in with is named by id and hash, so that a revoked token ends
// the session on every node.
type ConsoleSession struct {
	Key       []byte // SHA-256 of the cookie value
	TokenID   string
	TokenHash []byte
	CreatedAt time.Time
	SeenAt    time.Time // last request; the idle timeout counts from it
}

// ErrSessionLimit reports a console sign-in refused because as many
// sessions as the limit allows are live. It wraps ErrConflict.
var ErrSessionLimit = fmt.Errorf("store: too many console sessions are live: %w", ErrConflict)
