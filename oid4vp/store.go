package oid4vp

import (
	"context"
	"sync"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/oid4vp/dcql"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Record is one presentation request as the verifier keeps it.
type Record struct {
	ID, Ref          string // the counterparty's handle; the wallet's (in request_uri and response_uri)
	ClientID         string
	Nonce, State     string
	Mode             string
	Query            *dcql.Query
	TransactionData  []string // as sent, base64url
	Action           string
	ActionCredential string
	Attributes       map[string]any
	RequestObject    string  // the signed request object; "" for redirect_uri:
	EncryptionKey    jwk.Key // direct_post.jwt: the ephemeral private key
	CreatedAt        time.Time
	ExpiresAt        time.Time
	Answered         bool    // a response was accepted for checking
	Result           *Result // set once the response was checked
}

// Store keeps pending presentation requests. The contract:
//
//   - Methods are safe for concurrent use; records are returned as copies.
//   - Create adds a record; when max records are kept, expired unanswered
//     ones, and answered ones (with a result or not yet) not fetched within
//     ResultRetention of the request's expiry, are dropped first and, if
//     still full, it fails with rate_limited.
//   - ByRef returns the record with that reference (not_found).
//   - Claim marks the record answered, atomically: of two concurrent
//     claims one fails with presentation_request_answered.
//   - Finish stores the result of a claimed record.
//   - Take returns the record with that id (not_found); a record with a
//     result, or expired at now, is removed as it is returned, so a result
//     is fetched once.
//
// MemoryStore is the implementation for one process; requests never touch
// disk.
type Store interface {
	Create(ctx context.Context, r *Record, max int) error
	ByRef(ctx context.Context, ref string) (*Record, error)
	Claim(ctx context.Context, ref string) error
	Finish(ctx context.Context, ref string, res *Result) error
	Take(ctx context.Context, id string, now time.Time) (*Record, error)
}

// ResultRetention is how long past its request's expiry an unfetched
// result is sure to be kept.
const ResultRetention = 15 * time.Minute

// MemoryStore is a Store in memory.
type MemoryStore struct {
	mu    sync.Mutex
	byRef map[string]*Record
	refOf map[string]string // id -> ref
	now   func() time.Time
}

// NewMemoryStore returns an empty store; now decides expiry when full.
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{byRef: map[string]*Record{}, refOf: map[string]string{}, now: now}
}

func (m *MemoryStore) Create(_ context.Context, r *Record, max int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.byRef) >= max {
		now := m.now()
		for ref, x := range m.byRef {
			// Expired and unanswered, or answered (its response checked,
			// or being checked) and not fetched for ResultRetention past
			// the request's expiry.
			if !now.Before(x.ExpiresAt) && (!x.Answered || !now.Before(x.ExpiresAt.Add(ResultRetention))) {
				delete(m.byRef, ref)
				delete(m.refOf, x.ID)
			}
		}
	}
	if len(m.byRef) >= max {
		return errcode.New(errcode.RateLimited, "too many pending presentation requests")
	}
	if _, dup := m.byRef[r.Ref]; dup {
		return errcode.New(errcode.Conflict, "duplicate request reference")
	}
	if _, dup := m.refOf[r.ID]; dup {
		return errcode.New(errcode.Conflict, "duplicate request id")
	}
	c := *r
	m.byRef[r.Ref], m.refOf[r.ID] = &c, r.Ref
	return nil
}

func (m *MemoryStore) ByRef(_ context.Context, ref string) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.byRef[ref]
	if !ok {
		return nil, errcode.New(errcode.NotFound, "no such presentation request")
	}
	c := *r
	return &c, nil
}

func (m *MemoryStore) Claim(_ context.Context, ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.byRef[ref]
	if !ok {
		return errcode.New(errcode.NotFound, "no such presentation request")
	}
	if r.Answered {
		return errcode.New(errcode.RequestAnswered, "the presentation request was already answered")
	}
	r.Answered = true
	return nil
}

func (m *MemoryStore) Finish(_ context.Context, ref string, res *Result) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.byRef[ref]
	if !ok {
		return errcode.New(errcode.NotFound, "no such presentation request")
	}
	r.Result = res
	r.EncryptionKey = nil // no longer needed
	return nil
}

func (m *MemoryStore) Take(_ context.Context, id string, now time.Time) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ref, ok := m.refOf[id]
	if !ok {
		return nil, errcode.New(errcode.NotFound, "no such presentation request, or its result was already fetched")
	}
	r := m.byRef[ref]
	c := *r
	if r.Result != nil || (!r.Answered && !now.Before(r.ExpiresAt)) {
		delete(m.byRef, ref)
		delete(m.refOf, id)
	}
	return &c, nil
}
