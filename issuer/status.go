package issuer

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/revocation"
	"golang.org/x/sync/singleflight"
)

// Reasons are the reason codes a status change may give.
var Reasons = []string{"key_compromise", "policy_violation", "incident", "superseded", "cessation_of_operation", "other"}

// StatusStore is the part of the store status changes and publishing need.
type StatusStore interface {
	Credential(ctx context.Context, id string) (records.Credential, error)
	SetStatus(ctx context.Context, credID string, from uint8, ch records.StatusChange, a *records.AuditEntry) (records.Credential, error)
	BulkSetStatus(ctx context.Context, f records.CredentialFilter, ch records.StatusChange, dryRun bool, a func(c records.Credential) *records.AuditEntry) (int, error)
	StatusList(ctx context.Context, id string) (records.StatusList, error)
	ListEntries(ctx context.Context, listID string) (int64, map[int]uint8, error)
}

// StatusRequest is the body of a revoke, suspend or reinstate call.
type StatusRequest struct {
	Reason   string `json:"reason"`
	Incident string `json:"incident,omitempty"`
	Note     string `json:"note,omitempty"`
	// Resolves, set by the incident service and never read from a request
	// body, is the resolution of an open incident that the change makes in
	// its own transaction (records.StatusChange.Resolves).
	Resolves *records.IncidentResolution `json:"-"`
}

func (r StatusRequest) check() error {
	if !slices.Contains(Reasons, r.Reason) {
		return errcode.New(errcode.InvalidInput, "reason must be one of %v", Reasons)
	}
	if len(r.Incident) > MaxIncident || len(r.Note) > MaxNote {
		return errcode.New(errcode.InvalidInput, "incident is limited to %d and note to %d characters", MaxIncident, MaxNote)
	}
	return nil
}

// Statuses changes and publishes credential statuses. The transition rules
// (revoked is final, suspended can be reinstated) are enforced by the store,
// which refuses a change from a status the credential is no longer at, so
// that they hold across processes and nodes sharing one database.
type Statuses struct {
	store StatusStore
	keys  *KeyRing
	uri   func(listID string) string
	ttl   time.Duration
	valid time.Duration
	now   func() time.Time

	mu     sync.Mutex
	cache  map[string]published
	builds singleflight.Group // one rebuild per (list, format, purpose, version)
}

type published struct {
	kid     string // the key that signed it
	version int64
	iat     time.Time
	token   string
	etag    string
}

// NewStatuses returns the status service.
func NewStatuses(st StatusStore, keys *KeyRing, uri func(string) string, ttl, validity time.Duration, now func() time.Time) *Statuses {
	if now == nil {
		now = time.Now
	}
	return &Statuses{store: st, keys: keys, uri: uri, ttl: ttl, valid: validity, now: now, cache: map[string]published{}}
}

// Change applies action ("revoke", "suspend" or "reinstate") to credential
// id. An issuer token may act only on credentials it issued; for it,
// another issuer's credential is not_found, like an unknown id. Repeating a
// change that is already in effect changes nothing and is not an error;
// reinstating or suspending a revoked credential is a conflict.
//
// With req.Resolves the incident is resolved in the transaction of the
// change; when the incident is no longer open nothing changes and the error
// is records.ErrIncidentResolved, which is not retried. When the status is
// already in effect Change writes nothing, not even the resolution, and
// returns the record with ErrInEffect, so that the caller resolves the
// incident on its own.
func (s *Statuses) Change(ctx context.Context, actor Actor, id, action string, req StatusRequest) (records.Credential, error) {
	if err := req.check(); err != nil {
		return records.Credential{}, err
	}
	target, ok := map[string]uint8{"revoke": records.StatusRevoked, "suspend": records.StatusSuspended, "reinstate": records.StatusValid}[action]
	if !ok {
		return records.Credential{}, errcode.New(errcode.InvalidInput, "unknown action %q", action)
	}
	// A change made meanwhile by another request or node makes the store
	// refuse ours; read the record again and decide anew.
	for attempt := 0; ; attempt++ {
		c, err := s.store.Credential(ctx, id)
		if errors.Is(err, records.ErrNotFound) {
			return records.Credential{}, errcode.New(errcode.NotFound, "no credential %s", id)
		}
		if err != nil {
			return records.Credential{}, err
		}
		if actor.Role == tokens.RoleIssuer && c.TokenID != actor.TokenID {
			// Another issuer's credential answers as an unknown one does,
			// so that the answer does not tell which ids exist.
			return records.Credential{}, errcode.New(errcode.NotFound, "no credential %s", id)
		}
		if actor.Role == tokens.RoleIssuer && action == "reinstate" {
			// The audited party may withdraw its own certifications, not undo
			// an auditor's suspension.
			return records.Credential{}, errcode.New(errcode.Forbidden, "only an auditor may reinstate a credential")
		}
		switch {
		case c.Status == target && req.Resolves != nil:
			return c, ErrInEffect
		case c.Status == target:
			return c, nil
		case c.Status == records.StatusRevoked:
			return records.Credential{}, errcode.New(errcode.Conflict, "credential %s is revoked; revocation is final", id)
		}
		now := s.now().UTC()
		details := records.AuditDetails(ctx, map[string]any{"from": c.Status, "to": target, "reason": req.Reason, "incident": req.Incident, "note": req.Note, "list": c.ListID, "idx": c.Idx})
		updated, err := s.store.SetStatus(ctx, id, c.Status, records.StatusChange{Value: target, Reason: req.Reason, Incident: req.Incident, Note: req.Note, At: now, Resolves: req.Resolves},
			&records.AuditEntry{Time: now, Actor: actor.TokenID, Action: "credential." + action, Target: id, Details: details})
		if errors.Is(err, records.ErrConflict) && !errors.Is(err, records.ErrIncidentResolved) && attempt < maxStatusRetries {
			continue
		}
		if err != nil {
			return records.Credential{}, fmt.Errorf("issuer: set status: %w", err)
		}
		return updated, nil
	}
}

// ErrInEffect is Change's answer, with the unchanged record, to a change
// with StatusRequest.Resolves whose status is already in effect.
var ErrInEffect = errors.New("issuer: the status is already in effect")

// maxStatusRetries bounds how often Change reads a credential again after
// the store refused a change because another one came first.
const maxStatusRetries = 8

// BulkRequest selects credentials to revoke or suspend at once.
type BulkRequest struct {
	Action       string     `json:"action"` // revoke | suspend
	Subject      string     `json:"subject,omitempty"`
	PrincipalID  string     `json:"principal_id,omitempty"`
	AgentClass   string     `json:"agent_class,omitempty"`
	IssuedBefore *time.Time `json:"issued_before,omitempty"`
	DryRun       bool       `json:"dry_run,omitempty"`
	// Expect, when positive, is the count a dry run gave: the change is
	// refused (conflict) unless exactly that many credentials still match.
	Expect int `json:"expect,omitempty"`
	StatusRequest
}

// Bulk revokes or suspends every matching credential in one transaction and
// returns how many changed (or would change, in a dry run).
func (s *Statuses) Bulk(ctx context.Context, actor Actor, req BulkRequest) (int, error) {
	if err := req.check(); err != nil {
		return 0, err
	}
	target, ok := map[string]uint8{"revoke": records.StatusRevoked, "suspend": records.StatusSuspended}[req.Action]
	if !ok {
		return 0, errcode.New(errcode.InvalidInput, "action must be revoke or suspend")
	}
	f := records.CredentialFilter{Subject: req.Subject, PrincipalID: req.PrincipalID, AgentClass: req.AgentClass}
	if req.IssuedBefore != nil {
		if err := CheckTime("issued_before", *req.IssuedBefore); err != nil {
			return 0, err
		}
		f.IssuedBefore = *req.IssuedBefore
	}
	if f.Subject == "" && f.PrincipalID == "" && f.AgentClass == "" && f.IssuedBefore.IsZero() {
		return 0, errcode.New(errcode.InvalidInput, "a bulk change needs at least one filter")
	}
	if req.Expect < 0 {
		return 0, errcode.New(errcode.InvalidInput, "expect must not be negative")
	}
	now := s.now().UTC()
	return s.store.BulkSetStatus(ctx, f, records.StatusChange{Value: target, Reason: req.Reason, Incident: req.Incident, Note: req.Note, At: now, Expect: req.Expect}, req.DryRun,
		func(c records.Credential) *records.AuditEntry {
			details := records.AuditDetails(ctx, map[string]any{"from": c.Status, "to": target, "reason": req.Reason, "incident": req.Incident, "note": req.Note, "bulk": true, "list": c.ListID, "idx": c.Idx})
			return &records.AuditEntry{Time: now, Actor: actor.TokenID, Action: "credential." + req.Action, Target: c.ID, Details: details}
		})
}

// Published is a signed status list ready to serve.
type Published struct {
	Token string
	ETag  string
	TTL   time.Duration
	// MaxAge is how long an HTTP cache may still keep Token: what is left,
	// at the instant of the call, until the token is due to be signed anew
	// (iat + ttl) or expires, whichever comes first. It is never longer
	// (iat has whole seconds; the instant is not rounded).
	MaxAge time.Duration
}

// Publish returns the signed status list listID: the IETF Status List Token
// (format "") or the W3C BitstringStatusListCredential for purpose (format
// "w3c"). A signed token is reused until the list changes or it is older
// than the ttl, so a change is visible on the next call.
func (s *Statuses) Publish(ctx context.Context, listID, format, purpose string) (Published, error) {
	switch {
	case format == "" && purpose == "":
	case format == "w3c" && (purpose == revocation.PurposeRevocation || purpose == revocation.PurposeSuspension):
	default:
		return Published{}, errcode.New(errcode.InvalidInput, "format must be absent or w3c with purpose revocation or suspension")
	}
	meta, err := s.store.StatusList(ctx, listID)
	if errors.Is(err, records.ErrNotFound) {
		return Published{}, errcode.New(errcode.NotFound, "no status list %s", listID)
	}
	if err != nil {
		return Published{}, err
	}
	at := s.now().UTC()
	now := at.Truncate(time.Second) // a token's iat has whole seconds
	key := listID + "|" + format + "|" + purpose
	s.mu.Lock()
	p, ok := s.cache[key]
	s.mu.Unlock()
	// The list's version is bumped in the same transaction as every status
	// change, so an unchanged version means the cached token is current.
	// A rotation or retirement changes the signing key: a token signed by
	// a retired key would no longer verify, so it is never reused.
	kid := s.keys.Active().KeyID()
	if ok && p.version == meta.Version && p.kid == kid && now.Sub(p.iat) < s.ttl {
		return s.served(p, at), nil
	}
	v, err, _ := s.builds.Do(fmt.Sprintf("%s|%d|%s", key, meta.Version, kid), func() (any, error) {
		version, entries, err := s.store.ListEntries(context.WithoutCancel(ctx), listID)
		if err != nil {
			return nil, err
		}
		return s.build(meta, entries, version, format, purpose, now)
	})
	if err != nil {
		return Published{}, err
	}
	p = v.(published)
	s.mu.Lock()
	if cur, ok := s.cache[key]; !ok || cur.version < p.version || (cur.version == p.version && (cur.iat.Before(p.iat) || cur.kid != p.kid)) {
		s.cache[key] = p
	}
	s.mu.Unlock()
	return s.served(p, at), nil
}

// served is p as served at the instant at, which is not rounded: with
// at rounded down to the second, MaxAge would run up to a second past
// iat + ttl.
func (s *Statuses) served(p published, at time.Time) Published {
	maxAge := max(p.iat.Add(min(s.ttl, s.valid)).Sub(at), 0)
	return Published{Token: p.token, ETag: p.etag, TTL: s.ttl, MaxAge: maxAge}
}

// build encodes and signs one list version. Concurrent requests for the same
// version share one build (encoding a large list is the expensive part).
func (s *Statuses) build(meta records.StatusList, entries map[int]uint8, version int64, format, purpose string, now time.Time) (published, error) {
	listID := meta.ID
	l, err := revocation.NewList(meta.Size, meta.Bits)
	if err != nil {
		return published{}, err
	}
	for i, v := range entries {
		if err := l.Set(i, v); err != nil {
			return published{}, fmt.Errorf("issuer: list %s entry %d: %w", listID, i, err)
		}
	}
	claims := revocation.TokenClaims{Subject: s.uri(listID), Issuer: s.keys.Issuer(), IssuedAt: now, Expires: now.Add(s.valid), TTL: s.ttl}
	key := s.keys.Active()
	var tok string
	if format == "w3c" {
		tok, err = revocation.SignW3C(l, purpose, claims, key)
	} else {
		tok, err = revocation.SignToken(l, claims, key)
	}
	if err != nil {
		return published{}, fmt.Errorf("issuer: sign status list: %w", err)
	}
	sum := sha256.Sum256([]byte(tok))
	return published{kid: key.KeyID(), version: version, iat: now, token: tok, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`}, nil
}
