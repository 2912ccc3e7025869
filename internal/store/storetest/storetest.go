// Package storetest is the contract test suite that every store.Store
// implementation must pass, in the style of a storage contract with one
// shared suite.
//
// The contract, checked by Run:
//
//   - Every method is safe for concurrent use by many goroutines; concurrent
//     inserts of distinct status indexes all succeed, and of one index exactly
//     one succeeds while the others fail with store.ErrConflict.
//   - A missing record is an error that errors.Is store.ErrNotFound; a
//     duplicate id, key id, token hash, (status list, index) pair or
//     idempotency key, or a change the record's state forbids, is an error
//     that errors.Is store.ErrConflict. Invalid arguments are
//     *errcode.Error with code invalid_input (too_large for oversize audit
//     details).
//   - A state change and the audit entry passed with it are atomic: a failed
//     call writes neither. Entries are numbered from 1 and hash-chained with
//     store.ChainHash from store.GenesisHash.
//   - A nil error from a write means a later read sees it; a context ended
//     before the call leaves nothing written.
//   - Every status change bumps its list's Version; ListEntries lists the
//     non-zero statuses.
//   - SetStatus refuses, with store.ErrConflict and nothing written, a
//     change from a status the credential is no longer at and every
//     transition records.TransitionAllowed forbids (revocation is final);
//     of concurrent changes from one status exactly one wins.
//   - Close lets writes already submitted finish; afterwards every method
//     fails with store.ErrClosed and Close itself returns nil.
//
// Use it from an implementation's tests:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openEmpty(t) })
//	}
//
// open must return a new, empty store each time and may be called from
// parallel subtests; Run closes it when the subtest ends.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
)

// base is the fixed time the suite's records use.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

// Run runs the contract suite against the stores open returns.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	fresh := func(t *testing.T) store.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Keys", testKeys},
		{"KeyInvalid", testKeyInvalid},
		{"Tokens", testTokens},
		{"StatusLists", testStatusLists},
		{"InsertCredential", testInsertCredential},
		{"InsertCredentialInvalid", testInsertCredentialInvalid},
		{"NULIsInvalidInput", testNULIsInvalidInput},
		{"Idempotency", testIdempotency},
		{"CredentialFilters", testCredentialFilters},
		{"CredentialStats", testCredentialStats},
		{"SetStatus", testSetStatus},
		{"BulkSetStatus", testBulkSetStatus},
		{"BulkSetStatusInvalid", testBulkSetStatusInvalid},
		{"StatusTransitions", testStatusTransitions},
		{"ConcurrentTransitions", testConcurrentTransitions},
		{"AuditAtomic", testAuditAtomic},
		{"AuditChain", testAuditChain},
		{"AuditFilters", testAuditFilters},
		{"AuditInvalid", testAuditInvalid},
		{"ConcurrentInserts", testConcurrentInserts},
		{"ContextCancelled", testContextCancelled},
		{"Ping", testPing},
		{"ConsoleSessions", testConsoleSessions},
		{"ConsoleSessionsInvalid", testConsoleSessionsInvalid},
	}
	// The families run in parallel, each on its own store.
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, fresh(t))
		})
	}
	t.Run("CloseDrains", func(t *testing.T) {
		t.Parallel()
		testCloseDrains(t, open(t))
	})
}

// --- helpers ---

func ctx(t *testing.T) context.Context { return t.Context() }

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantIs(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", what, err, target)
	}
}

func wantCode(t *testing.T, err error, code errcode.Code, what string) {
	t.Helper()
	if got := errcode.CodeOf(err); got != code {
		t.Fatalf("%s: code %q (%v), want %q", what, got, err, code)
	}
}

func auditAll(t *testing.T, s store.Store) []store.AuditEntry {
	t.Helper()
	var all []store.AuditEntry
	var after int64
	for {
		page, err := s.Audit(ctx(t), store.AuditFilter{AfterSeq: after, Limit: store.MaxLimit})
		must(t, err, "Audit")
		all = append(all, page...)
		if len(page) < store.MaxLimit {
			return all
		}
		after = page[len(page)-1].Seq
	}
}

func wantAuditCount(t *testing.T, s store.Store, n int, what string) {
	t.Helper()
	if got := len(auditAll(t, s)); got != n {
		t.Fatalf("%s: %d audit entries, want %d", what, got, n)
	}
}

func ae(action, target string) *store.AuditEntry {
	return &store.AuditEntry{Actor: "tok-admin", Action: action, Target: target, Details: json.RawMessage(`{"k":"v"}`)}
}

func newList(t *testing.T, s store.Store, id string, size int) {
	t.Helper()
	must(t, s.CreateStatusList(ctx(t), store.StatusList{ID: id, Size: size, Bits: 2, CreatedAt: at(0)}, nil), "CreateStatusList "+id)
}

func cred(id, list string, idx int) store.Credential {
	sum := bytes.Repeat([]byte{byte(idx)}, 32)
	return store.Credential{
		ID: id, Subject: "did:key:z" + id, PrincipalID: "did:web:acme.example", AgentClass: "invoice-bot",
		VCT: "urn:agentcert:agent-certification:v1", ListID: list, Idx: idx,
		IssuedAt: at(time.Duration(idx) * time.Minute), ExpiresAt: at(24 * time.Hour),
		JWTHash: sum, TokenID: "tok-issuer",
	}
}

func insert(t *testing.T, s store.Store, c store.Credential) {
	t.Helper()
	must(t, s.InsertCredential(ctx(t), c, nil, nil), "InsertCredential "+c.ID)
}

func sameTime(a, b time.Time) bool { return a.Equal(b) }

func samePtrTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}
