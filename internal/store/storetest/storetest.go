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
//   - Close lets writes already submitted finish; afterwards every method
//     fails with store.ErrClosed and Close itself returns nil.
//
// Use it from an implementation's tests:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openEmpty(t) })
//	}
//
// open must return a new, empty store each time; Run closes it when the
// subtest ends.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
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
		{"Idempotency", testIdempotency},
		{"CredentialFilters", testCredentialFilters},
		{"SetStatus", testSetStatus},
		{"BulkSetStatus", testBulkSetStatus},
		{"BulkSetStatusInvalid", testBulkSetStatusInvalid},
		{"AuditAtomic", testAuditAtomic},
		{"AuditChain", testAuditChain},
		{"AuditFilters", testAuditFilters},
		{"AuditInvalid", testAuditInvalid},
		{"ConcurrentInserts", testConcurrentInserts},
		{"ContextCancelled", testContextCancelled},
		{"Ping", testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, fresh(t)) })
	}
	t.Run("CloseDrains", func(t *testing.T) { testCloseDrains(t, open(t)) })
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

// --- keys ---

func testKeys(t *testing.T, s store.Store) {
	c := ctx(t)
	ks, err := s.Keys(c)
	must(t, err, "Keys")
	if len(ks) != 0 {
		t.Fatalf("Keys on empty store: %d keys", len(ks))
	}
	_, err = s.ActiveKey(c)
	wantIs(t, err, store.ErrNotFound, "ActiveKey with no keys")
	wantCode(t, err, errcode.NotFound, "ActiveKey with no keys")

	k1 := store.Key{KID: "did:web:issuer.example#k1", Alg: "ES256", PublicJWK: []byte(`{"kty":"EC"}`), PrivateEnc: []byte{1, 2, 3}, CreatedAt: at(0)}
	k2 := store.Key{KID: "did:web:issuer.example#k2", Alg: "EdDSA", PublicJWK: []byte(`{"kty":"OKP"}`), PrivateEnc: []byte{4, 5}, CreatedAt: at(time.Hour), Active: true}
	must(t, s.PutKey(c, k2, ae("key.create", k2.KID)), "PutKey k2")
	must(t, s.PutKey(c, k1, ae("key.create", k1.KID)), "PutKey k1")
	wantIs(t, s.PutKey(c, k1, ae("key.create", k1.KID)), store.ErrConflict, "PutKey duplicate kid")

	ks, err = s.Keys(c)
	must(t, err, "Keys")
	if len(ks) != 2 || ks[0].KID != k1.KID || ks[1].KID != k2.KID {
		t.Fatalf("Keys not oldest first: %+v", ks)
	}
	got := ks[0]
	if got.Alg != k1.Alg || !bytes.Equal(got.PublicJWK, k1.PublicJWK) || !bytes.Equal(got.PrivateEnc, k1.PrivateEnc) ||
		!sameTime(got.CreatedAt, k1.CreatedAt) || got.Active || got.RetiredAt != nil {
		t.Fatalf("Keys[0] = %+v, want %+v", got, k1)
	}
	act, err := s.ActiveKey(c)
	must(t, err, "ActiveKey")
	if act.KID != k2.KID {
		t.Fatalf("ActiveKey = %s, want %s", act.KID, k2.KID)
	}

	// Activation moves the single active flag.
	must(t, s.ActivateKey(c, k1.KID, ae("key.activate", k1.KID)), "ActivateKey k1")
	act, err = s.ActiveKey(c)
	must(t, err, "ActiveKey")
	if act.KID != k1.KID {
		t.Fatalf("ActiveKey after ActivateKey = %s", act.KID)
	}
	ks, _ = s.Keys(c)
	if n := countActive(ks); n != 1 {
		t.Fatalf("%d active keys, want 1", n)
	}
	must(t, s.ActivateKey(c, k1.KID, nil), "ActivateKey already active")
	wantIs(t, s.ActivateKey(c, "did:web:issuer.example#nope", nil), store.ErrNotFound, "ActivateKey missing")

	// Retirement.
	wantIs(t, s.RetireKey(c, k1.KID, at(2*time.Hour), nil), store.ErrConflict, "RetireKey active key")
	wantIs(t, s.RetireKey(c, "did:web:issuer.example#nope", at(2*time.Hour), nil), store.ErrNotFound, "RetireKey missing")
	must(t, s.RetireKey(c, k2.KID, at(2*time.Hour), ae("key.retire", k2.KID)), "RetireKey k2")
	wantIs(t, s.RetireKey(c, k2.KID, at(3*time.Hour), nil), store.ErrConflict, "RetireKey twice")
	wantIs(t, s.ActivateKey(c, k2.KID, nil), store.ErrConflict, "ActivateKey retired")
	ks, _ = s.Keys(c)
	if !samePtrTime(ks[1].RetiredAt, ptr(at(2*time.Hour))) {
		t.Fatalf("RetiredAt = %v, want %v", ks[1].RetiredAt, at(2*time.Hour))
	}

	// Putting an active key deactivates the previous one.
	k3 := store.Key{KID: "did:web:issuer.example#k3", Alg: "ES256", PublicJWK: []byte(`{}`), PrivateEnc: []byte{9}, CreatedAt: at(4 * time.Hour), Active: true}
	must(t, s.PutKey(c, k3, nil), "PutKey active k3")
	ks, _ = s.Keys(c)
	if n := countActive(ks); n != 1 || !ks[2].Active {
		t.Fatalf("after PutKey active: %+v", ks)
	}
	wantAuditCount(t, s, 4, "key changes")
}

func countActive(ks []store.Key) int {
	n := 0
	for _, k := range ks {
		if k.Active {
			n++
		}
	}
	return n
}

func ptr[T any](v T) *T { return &v }

func testKeyInvalid(t *testing.T, s store.Store) {
	ok := store.Key{KID: "did:web:x#1", Alg: "ES256", PublicJWK: []byte(`{}`), PrivateEnc: []byte{1}, CreatedAt: at(0)}
	tests := []struct {
		name string
		edit func(k *store.Key)
	}{
		{"empty kid", func(k *store.Key) { k.KID = "" }},
		{"alg none", func(k *store.Key) { k.Alg = "none" }},
		{"alg HS256", func(k *store.Key) { k.Alg = "HS256" }},
		{"no public key", func(k *store.Key) { k.PublicJWK = nil }},
		{"no private key", func(k *store.Key) { k.PrivateEnc = nil }},
		{"active and retired", func(k *store.Key) { k.Active = true; k.RetiredAt = ptr(at(0)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := ok
			tc.edit(&k)
			wantCode(t, s.PutKey(ctx(t), k, ae("key.create", k.KID)), errcode.InvalidInput, "PutKey")
		})
	}
	ks, err := s.Keys(ctx(t))
	must(t, err, "Keys")
	if len(ks) != 0 {
		t.Fatalf("invalid keys were stored: %+v", ks)
	}
	wantAuditCount(t, s, 0, "invalid keys")
}

// --- tokens ---

func testTokens(t *testing.T, s store.Store) {
	c := ctx(t)
	a := store.Token{ID: "tok-a", Name: "ci", Role: "issuer", Hash: []byte("hash-a"), CreatedAt: at(0)}
	b := store.Token{ID: "tok-b", Name: "audit", Role: "auditor", Hash: []byte("hash-b"), CreatedAt: at(time.Minute)}
	must(t, s.CreateToken(c, b, ae("token.create", b.ID)), "CreateToken b")
	must(t, s.CreateToken(c, a, ae("token.create", a.ID)), "CreateToken a")
	dupID := a
	dupID.Hash = []byte("other")
	wantIs(t, s.CreateToken(c, dupID, nil), store.ErrConflict, "CreateToken duplicate id")
	dupHash := a
	dupHash.ID = "tok-c"
	wantIs(t, s.CreateToken(c, dupHash, nil), store.ErrConflict, "CreateToken duplicate hash")
	wantCode(t, s.CreateToken(c, store.Token{ID: "x", Role: "issuer"}, nil), errcode.InvalidInput, "CreateToken without hash")
	wantCode(t, s.CreateToken(c, store.Token{Role: "issuer", Hash: []byte("h")}, nil), errcode.InvalidInput, "CreateToken without id")
	wantCode(t, s.CreateToken(c, store.Token{ID: "x", Hash: []byte("h")}, nil), errcode.InvalidInput, "CreateToken without role")

	got, err := s.TokenByHash(c, []byte("hash-a"))
	must(t, err, "TokenByHash")
	if got.ID != a.ID || got.Name != a.Name || got.Role != a.Role || !bytes.Equal(got.Hash, a.Hash) || !sameTime(got.CreatedAt, a.CreatedAt) || got.RevokedAt != nil {
		t.Fatalf("TokenByHash = %+v, want %+v", got, a)
	}
	_, err = s.TokenByHash(c, []byte("nope"))
	wantIs(t, err, store.ErrNotFound, "TokenByHash missing")

	ts, err := s.Tokens(c)
	must(t, err, "Tokens")
	if len(ts) != 2 || ts[0].ID != a.ID || ts[1].ID != b.ID {
		t.Fatalf("Tokens not oldest first: %+v", ts)
	}

	must(t, s.RevokeToken(c, a.ID, at(time.Hour), ae("token.revoke", a.ID)), "RevokeToken")
	wantIs(t, s.RevokeToken(c, a.ID, at(2*time.Hour), ae("token.revoke", a.ID)), store.ErrConflict, "RevokeToken twice")
	wantIs(t, s.RevokeToken(c, "tok-nope", at(time.Hour), ae("token.revoke", "tok-nope")), store.ErrNotFound, "RevokeToken missing")
	got, err = s.TokenByHash(c, []byte("hash-a"))
	must(t, err, "TokenByHash revoked")
	if !samePtrTime(got.RevokedAt, ptr(at(time.Hour))) {
		t.Fatalf("RevokedAt = %v, want %v", got.RevokedAt, at(time.Hour))
	}
	wantAuditCount(t, s, 3, "token changes")
}

// --- status lists ---

func testStatusLists(t *testing.T, s store.Store) {
	c := ctx(t)
	must(t, s.CreateStatusList(c, store.StatusList{ID: "b", Size: 1024, Bits: 2, CreatedAt: at(time.Minute), Used: 7, Version: 9}, ae("statuslist.create", "b")), "CreateStatusList b")
	must(t, s.CreateStatusList(c, store.StatusList{ID: "a", Size: 8, Bits: 1, CreatedAt: at(0)}, nil), "CreateStatusList a")
	wantIs(t, s.CreateStatusList(c, store.StatusList{ID: "a", Size: 8, Bits: 1}, nil), store.ErrConflict, "CreateStatusList duplicate")
	for _, bad := range []store.StatusList{
		{ID: "", Size: 8, Bits: 2},
		{ID: "z", Size: 0, Bits: 2},
		{ID: "z", Size: -1, Bits: 2},
		{ID: "z", Size: 8, Bits: 3},
		{ID: "z", Size: 8, Bits: 0},
	} {
		wantCode(t, s.CreateStatusList(c, bad, nil), errcode.InvalidInput, fmt.Sprintf("CreateStatusList %+v", bad))
	}

	l, err := s.StatusList(c, "b")
	must(t, err, "StatusList")
	if l.ID != "b" || l.Size != 1024 || l.Bits != 2 || l.Used != 0 || l.Version != 1 || !sameTime(l.CreatedAt, at(time.Minute)) {
		t.Fatalf("StatusList = %+v", l)
	}
	_, err = s.StatusList(c, "nope")
	wantIs(t, err, store.ErrNotFound, "StatusList missing")
	ls, err := s.StatusLists(c)
	must(t, err, "StatusLists")
	if len(ls) != 2 || ls[0].ID != "a" || ls[1].ID != "b" {
		t.Fatalf("StatusLists not oldest first: %+v", ls)
	}

	v, entries, err := s.ListEntries(c, "a")
	must(t, err, "ListEntries")
	if v != 1 || len(entries) != 0 {
		t.Fatalf("ListEntries of new list = %d, %v", v, entries)
	}
	_, _, err = s.ListEntries(c, "nope")
	wantIs(t, err, store.ErrNotFound, "ListEntries missing")
	idx, err := s.UsedIndexes(c, "a")
	must(t, err, "UsedIndexes")
	if len(idx) != 0 {
		t.Fatalf("UsedIndexes of new list = %v", idx)
	}
	_, err = s.UsedIndexes(c, "nope")
	wantIs(t, err, store.ErrNotFound, "UsedIndexes missing")
	wantAuditCount(t, s, 1, "list changes")
}

// --- credentials ---

func testInsertCredential(t *testing.T, s store.Store) {
	c := ctx(t)
	newList(t, s, "L", 16)
	newList(t, s, "M", 16)
	c1 := cred("c1", "L", 3)
	must(t, s.InsertCredential(c, c1, nil, ae("credential.issue", c1.ID)), "InsertCredential c1")
	insert(t, s, cred("c2", "L", 0))
	insert(t, s, cred("c3", "M", 3)) // same index, other list

	got, err := s.Credential(c, "c1")
	must(t, err, "Credential")
	if got.ID != c1.ID || got.Subject != c1.Subject || got.PrincipalID != c1.PrincipalID || got.AgentClass != c1.AgentClass ||
		got.VCT != c1.VCT || got.ListID != c1.ListID || got.Idx != c1.Idx || got.Status != 0 ||
		!sameTime(got.IssuedAt, c1.IssuedAt) || !sameTime(got.ExpiresAt, c1.ExpiresAt) ||
		!bytes.Equal(got.JWTHash, c1.JWTHash) || got.TokenID != c1.TokenID || got.StatusChangedAt != nil {
		t.Fatalf("Credential = %+v, want %+v", got, c1)
	}
	_, err = s.Credential(c, "nope")
	wantIs(t, err, store.ErrNotFound, "Credential missing")

	dupID := cred("c1", "L", 5)
	wantIs(t, s.InsertCredential(c, dupID, nil, ae("credential.issue", "c1")), store.ErrConflict, "duplicate id")
	dupIdx := cred("c9", "L", 3)
	err = s.InsertCredential(c, dupIdx, nil, ae("credential.issue", "c9"))
	wantIs(t, err, store.ErrConflict, "duplicate (list, idx)")
	wantCode(t, err, errcode.Conflict, "duplicate (list, idx)")
	wantIs(t, s.InsertCredential(c, cred("c8", "nope", 1), nil, nil), store.ErrNotFound, "unknown list")
	_, err = s.Credential(c, "c9")
	wantIs(t, err, store.ErrNotFound, "rejected credential")

	l, err := s.StatusList(c, "L")
	must(t, err, "StatusList")
	if l.Used != 2 || l.Version != 1 {
		t.Fatalf("list L after 2 inserts: Used %d Version %d, want 2 and 1", l.Used, l.Version)
	}
	idx, err := s.UsedIndexes(c, "L")
	must(t, err, "UsedIndexes")
	if fmt.Sprint(idx) != "[0 3]" {
		t.Fatalf("UsedIndexes = %v, want [0 3]", idx)
	}
	wantAuditCount(t, s, 1, "inserts")
}

func testInsertCredentialInvalid(t *testing.T, s store.Store) {
	newList(t, s, "L", 16)
	tests := []struct {
		name string
		edit func(c *store.Credential)
		code errcode.Code
	}{
		{"empty id", func(c *store.Credential) { c.ID = "" }, errcode.InvalidInput},
		{"empty list", func(c *store.Credential) { c.ListID = "" }, errcode.InvalidInput},
		{"negative index", func(c *store.Credential) { c.Idx = -1 }, errcode.InvalidInput},
		{"index = size", func(c *store.Credential) { c.Idx = 16 }, errcode.InvalidInput},
		{"status 3", func(c *store.Credential) { c.Status = 3 }, errcode.InvalidInput},
		{"no jwt hash", func(c *store.Credential) { c.JWTHash = nil }, errcode.InvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cr := cred("x", "L", 1)
			tc.edit(&cr)
			wantCode(t, s.InsertCredential(ctx(t), cr, nil, ae("credential.issue", cr.ID)), tc.code, "InsertCredential")
		})
	}
	badIdem := &store.Idempotency{TokenID: "", Key: "k"}
	wantCode(t, s.InsertCredential(ctx(t), cred("x", "L", 1), badIdem, nil), errcode.InvalidInput, "idempotency without token id")
	idx, err := s.UsedIndexes(ctx(t), "L")
	must(t, err, "UsedIndexes")
	if len(idx) != 0 {
		t.Fatalf("invalid credentials were stored at %v", idx)
	}
	wantAuditCount(t, s, 0, "invalid inserts")
}

func testIdempotency(t *testing.T, s store.Store) {
	c := ctx(t)
	newList(t, s, "L", 16)
	idem := &store.Idempotency{TokenID: "tok-issuer", Key: "req-1", RequestHash: []byte("rh"), CreatedAt: at(time.Second)}
	must(t, s.InsertCredential(c, cred("c1", "L", 1), idem, ae("credential.issue", "c1")), "InsertCredential with idempotency")
	got, err := s.Idempotent(c, "tok-issuer", "req-1")
	must(t, err, "Idempotent")
	if got.CredentialID != "c1" || got.TokenID != "tok-issuer" || got.Key != "req-1" || !bytes.Equal(got.RequestHash, []byte("rh")) || !sameTime(got.CreatedAt, at(time.Second)) {
		t.Fatalf("Idempotent = %+v", got)
	}
	_, err = s.Idempotent(c, "tok-issuer", "req-2")
	wantIs(t, err, store.ErrNotFound, "Idempotent missing key")
	_, err = s.Idempotent(c, "tok-other", "req-1")
	wantIs(t, err, store.ErrNotFound, "Idempotent other token")

	// A repeated key fails the whole insert: no credential, no index, no audit.
	err = s.InsertCredential(c, cred("c2", "L", 2), idem, ae("credential.issue", "c2"))
	wantIs(t, err, store.ErrConflict, "repeated idempotency key")
	_, err = s.Credential(c, "c2")
	wantIs(t, err, store.ErrNotFound, "credential of a repeated idempotency key")
	l, _ := s.StatusList(c, "L")
	if l.Used != 1 {
		t.Fatalf("Used = %d after a rejected insert, want 1", l.Used)
	}
	wantAuditCount(t, s, 1, "idempotency")

	// The same key under another token is another key.
	other := *idem
	other.TokenID = "tok-other"
	must(t, s.InsertCredential(c, cred("c3", "L", 3), &other, nil), "same key, other token")
}

func testCredentialFilters(t *testing.T, s store.Store) {
	c := ctx(t)
	newList(t, s, "L", 64)
	for i := range 10 {
		cr := cred(fmt.Sprintf("c%02d", i), "L", i)
		cr.Subject = fmt.Sprintf("did:key:s%d", i%2)
		cr.PrincipalID = fmt.Sprintf("did:web:p%d", i%3)
		cr.AgentClass = fmt.Sprintf("class%d", i%5)
		insert(t, s, cr)
	}
	_, err := s.SetStatus(c, "c04", store.StatusChange{Value: store.StatusRevoked, At: at(time.Hour)}, nil)
	must(t, err, "SetStatus")
	revoked := store.StatusRevoked
	valid := store.StatusValid
	bad := uint8(7)
	tests := []struct {
		name string
		f    store.CredentialFilter
		want string
	}{
		{"all", store.CredentialFilter{}, "[c00 c01 c02 c03 c04 c05 c06 c07 c08 c09]"},
		{"subject", store.CredentialFilter{Subject: "did:key:s1"}, "[c01 c03 c05 c07 c09]"},
		{"principal", store.CredentialFilter{PrincipalID: "did:web:p0"}, "[c00 c03 c06 c09]"},
		{"class", store.CredentialFilter{AgentClass: "class2"}, "[c02 c07]"},
		{"issued before", store.CredentialFilter{IssuedBefore: at(3 * time.Minute)}, "[c00 c01 c02]"},
		{"status revoked", store.CredentialFilter{Status: &revoked}, "[c04]"},
		{"status valid and subject", store.CredentialFilter{Status: &valid, Subject: "did:key:s0"}, "[c00 c02 c06 c08]"},
		{"combined", store.CredentialFilter{Subject: "did:key:s1", PrincipalID: "did:web:p0"}, "[c03 c09]"},
		{"no match", store.CredentialFilter{Subject: "did:key:nobody"}, "[]"},
		{"page 1", store.CredentialFilter{Limit: 3}, "[c00 c01 c02]"},
		{"page 2", store.CredentialFilter{Limit: 3, AfterID: "c02"}, "[c03 c04 c05]"},
		{"last page", store.CredentialFilter{Limit: 3, AfterID: "c08"}, "[c09]"},
		{"past the end", store.CredentialFilter{AfterID: "c09"}, "[]"},
		{"filtered page", store.CredentialFilter{Subject: "did:key:s1", Limit: 2, AfterID: "c03"}, "[c05 c07]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Credentials(c, tc.f)
			must(t, err, "Credentials")
			ids := []string{}
			for _, cr := range got {
				ids = append(ids, cr.ID)
			}
			if g := fmt.Sprint(ids); g != tc.want {
				t.Fatalf("Credentials(%+v) = %s, want %s", tc.f, g, tc.want)
			}
		})
	}
	_, err = s.Credentials(c, store.CredentialFilter{Status: &bad})
	wantCode(t, err, errcode.InvalidInput, "status filter 7")
}

func testSetStatus(t *testing.T, s store.Store) {
	c := ctx(t)
	newList(t, s, "L", 16)
	newList(t, s, "M", 16)
	insert(t, s, cred("c1", "L", 1))
	insert(t, s, cred("c2", "L", 2))
	insert(t, s, cred("c3", "M", 1))

	ch := store.StatusChange{Value: store.StatusRevoked, Reason: "key_compromise", Incident: "INC-1", Note: "leaked", At: at(time.Hour)}
	got, err := s.SetStatus(c, "c1", ch, ae("credential.revoke", "c1"))
	must(t, err, "SetStatus revoke")
	if got.ID != "c1" || got.Status != 1 || got.StatusReason != ch.Reason || got.StatusIncident != ch.Incident ||
		got.StatusNote != ch.Note || !samePtrTime(got.StatusChangedAt, ptr(ch.At)) || got.Subject != "did:key:zc1" {
		t.Fatalf("SetStatus returned %+v", got)
	}
	stored, err := s.Credential(c, "c1")
	must(t, err, "Credential")
	if stored.Status != 1 || stored.StatusReason != ch.Reason || stored.StatusIncident != ch.Incident || stored.StatusNote != ch.Note || !samePtrTime(stored.StatusChangedAt, ptr(ch.At)) {
		t.Fatalf("stored after SetStatus: %+v", stored)
	}
	_, err = s.SetStatus(c, "c2", store.StatusChange{Value: store.StatusSuspended, At: at(time.Hour)}, ae("credential.suspend", "c2"))
	must(t, err, "SetStatus suspend")

	v, entries, err := s.ListEntries(c, "L")
	must(t, err, "ListEntries")
	if v != 3 || fmt.Sprint(entries) != "map[1:1 2:2]" {
		t.Fatalf("ListEntries = %d %v, want 3 map[1:1 2:2]", v, entries)
	}
	if l, _ := s.StatusList(c, "L"); l.Version != 3 {
		t.Fatalf("StatusList version %d, want 3", l.Version)
	}
	if l, _ := s.StatusList(c, "M"); l.Version != 1 {
		t.Fatalf("other list's version changed to %d", l.Version)
	}

	// Reinstating removes the entry and bumps the version again.
	_, err = s.SetStatus(c, "c2", store.StatusChange{Value: store.StatusValid, At: at(2 * time.Hour)}, ae("credential.reinstate", "c2"))
	must(t, err, "SetStatus reinstate")
	v, entries, _ = s.ListEntries(c, "L")
	if v != 4 || fmt.Sprint(entries) != "map[1:1]" {
		t.Fatalf("ListEntries after reinstate = %d %v", v, entries)
	}

	_, err = s.SetStatus(c, "nope", ch, ae("credential.revoke", "nope"))
	wantIs(t, err, store.ErrNotFound, "SetStatus missing")
	_, err = s.SetStatus(c, "c3", store.StatusChange{Value: 3}, ae("credential.revoke", "c3"))
	wantCode(t, err, errcode.InvalidInput, "SetStatus value 3")
	if l, _ := s.StatusList(c, "M"); l.Version != 1 {
		t.Fatalf("failed SetStatus bumped the version to %d", l.Version)
	}
	wantAuditCount(t, s, 3, "status changes")
}

func testBulkSetStatus(t *testing.T, s store.Store) {
	c := ctx(t)
	newList(t, s, "L", 64)
	newList(t, s, "M", 64)
	for i := range 6 {
		list := "L"
		if i >= 3 {
			list = "M"
		}
		cr := cred(fmt.Sprintf("c%d", i), list, i)
		cr.PrincipalID = "did:web:evil.example"
		insert(t, s, cr)
	}
	insert(t, s, cred("other", "L", 40))
	_, err := s.SetStatus(c, "c0", store.StatusChange{Value: store.StatusRevoked, At: at(time.Hour)}, nil)
	must(t, err, "SetStatus")
	_, err = s.SetStatus(c, "c1", store.StatusChange{Value: store.StatusSuspended, At: at(time.Hour)}, nil)
	must(t, err, "SetStatus")
	// Versions now: L 3, M 1.

	f := store.CredentialFilter{PrincipalID: "did:web:evil.example"}
	revoke := store.StatusChange{Value: store.StatusRevoked, Reason: "principal_compromised", Incident: "INC-7", At: at(2 * time.Hour)}
	var seen []string
	mkAudit := func(cr store.Credential) *store.AuditEntry {
		seen = append(seen, fmt.Sprintf("%s:%d", cr.ID, cr.Status))
		return ae("credential.revoke", cr.ID)
	}

	// Dry run: a count, nothing written.
	n, err := s.BulkSetStatus(c, f, revoke, true, mkAudit)
	must(t, err, "BulkSetStatus dry run")
	if n != 5 {
		t.Fatalf("dry run count %d, want 5 (c0 already revoked)", n)
	}
	if len(seen) != 0 {
		t.Fatalf("dry run asked for audit entries: %v", seen)
	}
	wantAuditCount(t, s, 0, "dry run")
	if l, _ := s.StatusList(c, "L"); l.Version != 3 {
		t.Fatalf("dry run bumped version to %d", l.Version)
	}
	if cr, _ := s.Credential(c, "c2"); cr.Status != 0 {
		t.Fatalf("dry run changed c2 to %d", cr.Status)
	}

	// Real run.
	n, err = s.BulkSetStatus(c, f, revoke, false, mkAudit)
	must(t, err, "BulkSetStatus")
	if n != 5 {
		t.Fatalf("count %d, want 5", n)
	}
	if got := fmt.Sprint(seen); got != "[c1:2 c2:0 c3:0 c4:0 c5:0]" {
		t.Fatalf("audit callback saw %s", got)
	}
	wantAuditCount(t, s, 5, "bulk revoke")
	for i := range 6 {
		cr, err := s.Credential(c, fmt.Sprintf("c%d", i))
		must(t, err, "Credential")
		if cr.Status != 1 {
			t.Fatalf("%s status %d after bulk revoke", cr.ID, cr.Status)
		}
		if i > 0 && (cr.StatusReason != revoke.Reason || cr.StatusIncident != revoke.Incident || !samePtrTime(cr.StatusChangedAt, ptr(revoke.At))) {
			t.Fatalf("%s status fields %+v", cr.ID, cr)
		}
	}
	if cr, _ := s.Credential(c, "other"); cr.Status != 0 {
		t.Fatalf("credential outside the filter changed to %d", cr.Status)
	}
	if l, _ := s.StatusList(c, "L"); l.Version != 4 {
		t.Fatalf("list L version %d, want 4 (bumped once)", l.Version)
	}
	if l, _ := s.StatusList(c, "M"); l.Version != 2 {
		t.Fatalf("list M version %d, want 2 (bumped once)", l.Version)
	}
	_, entries, _ := s.ListEntries(c, "M")
	if fmt.Sprint(entries) != "map[3:1 4:1 5:1]" {
		t.Fatalf("list M entries %v", entries)
	}

	// Nothing left to revoke; suspension skips revoked credentials.
	n, err = s.BulkSetStatus(c, f, revoke, false, nil)
	must(t, err, "BulkSetStatus again")
	if n != 0 {
		t.Fatalf("second bulk revoke changed %d", n)
	}
	n, err = s.BulkSetStatus(c, f, store.StatusChange{Value: store.StatusSuspended}, false, nil)
	must(t, err, "BulkSetStatus suspend")
	if n != 0 {
		t.Fatalf("bulk suspend changed %d revoked credentials", n)
	}
	if l, _ := s.StatusList(c, "L"); l.Version != 4 {
		t.Fatalf("no-op bulk bumped version to %d", l.Version)
	}

	// Suspend then reinstate by issued-before; revoked ones are untouched.
	g := store.CredentialFilter{IssuedBefore: at(time.Hour)}
	n, err = s.BulkSetStatus(c, g, store.StatusChange{Value: store.StatusSuspended}, false, func(store.Credential) *store.AuditEntry { return nil })
	must(t, err, "BulkSetStatus suspend other")
	if n != 1 {
		t.Fatalf("bulk suspend changed %d, want 1 (only 'other' is not revoked)", n)
	}
	n, err = s.BulkSetStatus(c, g, store.StatusChange{Value: store.StatusValid}, true, nil)
	must(t, err, "BulkSetStatus reinstate dry run")
	if n != 1 {
		t.Fatalf("bulk reinstate dry run %d, want 1", n)
	}
	wantAuditCount(t, s, 5, "callbacks returning nil")
}

func testBulkSetStatusInvalid(t *testing.T, s store.Store) {
	newList(t, s, "L", 8)
	insert(t, s, cred("c1", "L", 1))
	bad := uint8(9)
	tests := []struct {
		name string
		f    store.CredentialFilter
		ch   store.StatusChange
	}{
		{"empty filter", store.CredentialFilter{}, store.StatusChange{Value: 1}},
		{"status-only filter", store.CredentialFilter{Status: new(uint8)}, store.StatusChange{Value: 1}},
		{"value 3", store.CredentialFilter{Subject: "did:key:zc1"}, store.StatusChange{Value: 3}},
		{"bad status filter", store.CredentialFilter{Subject: "did:key:zc1", Status: &bad}, store.StatusChange{Value: 1}},
	}
	for _, tc := range tests {
		for _, dry := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s dry=%v", tc.name, dry), func(t *testing.T) {
				n, err := s.BulkSetStatus(ctx(t), tc.f, tc.ch, dry, nil)
				wantCode(t, err, errcode.InvalidInput, "BulkSetStatus")
				if n != 0 {
					t.Fatalf("count %d with an error", n)
				}
			})
		}
	}
	// A failing audit entry rolls the whole bulk change back.
	n, err := s.BulkSetStatus(ctx(t), store.CredentialFilter{Subject: "did:key:zc1"}, store.StatusChange{Value: 1}, false,
		func(store.Credential) *store.AuditEntry {
			return &store.AuditEntry{Action: "x", Details: json.RawMessage("{")}
		})
	wantCode(t, err, errcode.InvalidInput, "bulk with a bad audit entry")
	if n != 0 {
		t.Fatalf("count %d with an error", n)
	}
	if cr, _ := s.Credential(ctx(t), "c1"); cr.Status != 0 {
		t.Fatalf("failed bulk change left status %d", cr.Status)
	}
	if l, _ := s.StatusList(ctx(t), "L"); l.Version != 1 {
		t.Fatalf("failed bulk change bumped version to %d", l.Version)
	}
}

// --- audit ---

func testAuditAtomic(t *testing.T, s store.Store) {
	c := ctx(t)
	newList(t, s, "L", 8)
	insert(t, s, cred("c1", "L", 1))
	k := store.Key{KID: "k1", Alg: "ES256", PublicJWK: []byte(`{}`), PrivateEnc: []byte{1}, CreatedAt: at(0)}
	must(t, s.PutKey(c, k, ae("key.create", "k1")), "PutKey")
	before := auditAll(t, s)

	// Failed state changes leave no audit entry.
	wantIs(t, s.PutKey(c, k, ae("key.create", "k1")), store.ErrConflict, "PutKey duplicate")
	wantIs(t, s.InsertCredential(c, cred("c2", "L", 1), nil, ae("credential.issue", "c2")), store.ErrConflict, "duplicate index")
	_, err := s.SetStatus(c, "nope", store.StatusChange{Value: 1}, ae("credential.revoke", "nope"))
	wantIs(t, err, store.ErrNotFound, "SetStatus missing")
	wantIs(t, s.RetireKey(c, "nope", at(0), ae("key.retire", "nope")), store.ErrNotFound, "RetireKey missing")
	wantAuditCount(t, s, len(before), "failed changes")

	// A bad audit entry fails the state change it was passed with.
	badEntries := []struct {
		name string
		a    *store.AuditEntry
		code errcode.Code
	}{
		{"no action", &store.AuditEntry{Actor: "x"}, errcode.InvalidInput},
		{"details not JSON", &store.AuditEntry{Action: "x", Details: json.RawMessage(`{"a":`)}, errcode.InvalidInput},
		{"details too large", &store.AuditEntry{Action: "x", Details: json.RawMessage(`"` + string(bytes.Repeat([]byte("a"), store.MaxAuditDetails)) + `"`)}, errcode.TooLarge},
	}
	for _, tc := range badEntries {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, s.InsertCredential(c, cred("c3", "L", 3), nil, tc.a), tc.code, "InsertCredential")
			_, err := s.Credential(c, "c3")
			wantIs(t, err, store.ErrNotFound, "credential with a bad audit entry")
			_, err = s.SetStatus(c, "c1", store.StatusChange{Value: 1}, tc.a)
			wantCode(t, err, tc.code, "SetStatus")
			if cr, _ := s.Credential(c, "c1"); cr.Status != 0 {
				t.Fatalf("status changed to %d despite a bad audit entry", cr.Status)
			}
			wantCode(t, s.ActivateKey(c, "k1", tc.a), tc.code, "ActivateKey")
			if _, err := s.ActiveKey(c); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("key activated despite a bad audit entry: %v", err)
			}
		})
	}
	if l, _ := s.StatusList(c, "L"); l.Used != 1 || l.Version != 1 {
		t.Fatalf("list after failed changes: %+v", l)
	}
	wantAuditCount(t, s, len(before), "bad audit entries")
}

func testAuditChain(t *testing.T, s store.Store) {
	c := ctx(t)
	checked, broken, err := s.VerifyAudit(c)
	must(t, err, "VerifyAudit empty")
	if checked != 0 || broken != 0 {
		t.Fatalf("VerifyAudit empty = %d, %d", checked, broken)
	}
	newList(t, s, "L", 8)
	must(t, s.InsertCredential(c, cred("c1", "L", 1), nil, ae("credential.issue", "c1")), "InsertCredential")
	e2, err := s.AppendAudit(c, store.AuditEntry{Time: at(time.Minute), Actor: "cli", Action: "audit.note", Target: "t", Details: json.RawMessage(` { "b" : [1, 2] ,"a":"x" } `)})
	must(t, err, "AppendAudit")
	_, err = s.SetStatus(c, "c1", store.StatusChange{Value: 1, At: at(time.Hour)}, ae("credential.revoke", "c1"))
	must(t, err, "SetStatus")
	e4, err := s.AppendAudit(c, store.AuditEntry{Action: "noop"})
	must(t, err, "AppendAudit without details")
	e5, err := s.AppendAudit(c, store.AuditEntry{Action: "html", Details: json.RawMessage(`{"n":"<b>&` + "\u2028" + `"}`)})
	must(t, err, "AppendAudit with HTML characters")
	if want := `{"n":"\u003cb\u003e\u0026\u2028"}`; string(e5.Details) != want {
		t.Fatalf("details stored as %s, want %s", e5.Details, want)
	}

	if e2.Seq != 2 || !sameTime(e2.Time, at(time.Minute)) || string(e2.Details) != `{"b":[1,2],"a":"x"}` {
		t.Fatalf("AppendAudit = %+v (details %s)", e2, e2.Details)
	}
	if e4.Seq != 4 || string(e4.Details) != `{}` || e4.Time.IsZero() || e4.Time.Location() != time.UTC {
		t.Fatalf("AppendAudit defaults = %+v (details %s)", e4, e4.Details)
	}
	all := auditAll(t, s)
	if len(all) != 5 {
		t.Fatalf("%d entries, want 5", len(all))
	}
	prev := store.GenesisHash()
	if len(prev) != 32 || !bytes.Equal(prev, make([]byte, 32)) {
		t.Fatalf("GenesisHash = %x", prev)
	}
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
		if !bytes.Equal(e.PrevHash, prev) {
			t.Fatalf("entry %d prev_hash %x, want %x", e.Seq, e.PrevHash, prev)
		}
		if want := store.ChainHash(prev, e); !bytes.Equal(e.Hash, want) {
			t.Fatalf("entry %d hash %x, want %x", e.Seq, e.Hash, want)
		}
		prev = e.Hash
	}
	if all[0].Action != "credential.issue" || all[0].Target != "c1" || all[0].Actor != "tok-admin" || string(all[0].Details) != `{"k":"v"}` {
		t.Fatalf("entry 1 = %+v", all[0])
	}
	if !bytes.Equal(all[1].Hash, e2.Hash) || !bytes.Equal(all[3].Hash, e4.Hash) {
		t.Fatalf("AppendAudit results differ from the stored entries")
	}
	checked, broken, err = s.VerifyAudit(c)
	must(t, err, "VerifyAudit")
	if checked != 5 || broken != 0 {
		t.Fatalf("VerifyAudit = %d, %d, want 5, 0", checked, broken)
	}
}

func testAuditFilters(t *testing.T, s store.Store) {
	c := ctx(t)
	for i := range 12 {
		actor := []string{"alice", "bob", "carol"}[i%3]
		action := []string{"credential.issue", "credential.revoke"}[i%2]
		_, err := s.AppendAudit(c, store.AuditEntry{Time: at(time.Duration(i) * time.Minute), Actor: actor, Action: action, Target: fmt.Sprintf("c%d", i%4)})
		must(t, err, "AppendAudit")
	}
	tests := []struct {
		name string
		f    store.AuditFilter
		want string
	}{
		{"all", store.AuditFilter{}, "[1 2 3 4 5 6 7 8 9 10 11 12]"},
		{"actor", store.AuditFilter{Actor: "bob"}, "[2 5 8 11]"},
		{"action", store.AuditFilter{Action: "credential.revoke"}, "[2 4 6 8 10 12]"},
		{"target", store.AuditFilter{Target: "c1"}, "[2 6 10]"},
		{"actor and action", store.AuditFilter{Actor: "alice", Action: "credential.revoke"}, "[4 10]"},
		{"since", store.AuditFilter{Since: at(9 * time.Minute)}, "[10 11 12]"},
		{"until", store.AuditFilter{Until: at(2 * time.Minute)}, "[1 2]"},
		{"window", store.AuditFilter{Since: at(3 * time.Minute), Until: at(5 * time.Minute)}, "[4 5]"},
		{"page 1", store.AuditFilter{Limit: 5}, "[1 2 3 4 5]"},
		{"page 2", store.AuditFilter{Limit: 5, AfterSeq: 5}, "[6 7 8 9 10]"},
		{"page 3", store.AuditFilter{Limit: 5, AfterSeq: 10}, "[11 12]"},
		{"past the end", store.AuditFilter{AfterSeq: 12}, "[]"},
		{"filtered page", store.AuditFilter{Actor: "carol", AfterSeq: 3, Limit: 2}, "[6 9]"},
		{"no match", store.AuditFilter{Actor: "mallory"}, "[]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Audit(c, tc.f)
			must(t, err, "Audit")
			seqs := []int64{}
			for _, e := range got {
				seqs = append(seqs, e.Seq)
			}
			if g := fmt.Sprint(seqs); g != tc.want {
				t.Fatalf("Audit(%+v) = %s, want %s", tc.f, g, tc.want)
			}
		})
	}
}

func testAuditInvalid(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		a    store.AuditEntry
		code errcode.Code
	}{
		{"no action", store.AuditEntry{Actor: "a", Target: "t"}, errcode.InvalidInput},
		{"details not JSON", store.AuditEntry{Action: "x", Details: json.RawMessage("not json")}, errcode.InvalidInput},
		{"details two values", store.AuditEntry{Action: "x", Details: json.RawMessage("{} {}")}, errcode.InvalidInput},
		{"details too large", store.AuditEntry{Action: "x", Details: json.RawMessage(`"` + string(bytes.Repeat([]byte("a"), store.MaxAuditDetails)) + `"`)}, errcode.TooLarge},
		{"time out of range", store.AuditEntry{Action: "x", Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, errcode.InvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.AppendAudit(ctx(t), tc.a)
			wantCode(t, err, tc.code, "AppendAudit")
		})
	}
	wantAuditCount(t, s, 0, "invalid entries")
}

// --- concurrency, cancellation, close ---

func testConcurrentInserts(t *testing.T, s store.Store) {
	c := ctx(t)
	const n, workers = 240, 16
	newList(t, s, "L", n)
	// Each index is attempted twice, by two workers, under two ids.
	type result struct {
		idx int
		err error
	}
	results := make(chan result, 2*n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 2*n; i += workers {
				idx := i % n
				id := fmt.Sprintf("c-%d-%d", idx, i/n)
				err := s.InsertCredential(c, cred(id, "L", idx), nil, ae("credential.issue", id))
				results <- result{idx, err}
			}
		}()
	}
	// Readers run alongside the writers.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			if _, _, err := s.ListEntries(c, "L"); err != nil {
				t.Errorf("ListEntries during writes: %v", err)
				return
			}
			if _, err := s.Credentials(c, store.CredentialFilter{Limit: 10}); err != nil {
				t.Errorf("Credentials during writes: %v", err)
				return
			}
		}
	}()
	wg.Wait()
	close(results)
	ok := map[int]int{}
	for r := range results {
		switch {
		case r.err == nil:
			ok[r.idx]++
		case errors.Is(r.err, store.ErrConflict):
		default:
			t.Fatalf("insert of index %d: %v", r.idx, r.err)
		}
	}
	for idx := range n {
		if ok[idx] != 1 {
			t.Fatalf("index %d inserted %d times, want exactly 1", idx, ok[idx])
		}
	}
	l, err := s.StatusList(c, "L")
	must(t, err, "StatusList")
	if l.Used != n {
		t.Fatalf("Used = %d, want %d", l.Used, n)
	}
	idx, err := s.UsedIndexes(c, "L")
	must(t, err, "UsedIndexes")
	if len(idx) != n || idx[0] != 0 || idx[n-1] != n-1 {
		t.Fatalf("UsedIndexes: %d indexes", len(idx))
	}
	page, err := s.Credentials(c, store.CredentialFilter{})
	must(t, err, "Credentials")
	if len(page) != store.DefaultLimit {
		t.Fatalf("default page has %d records, want %d", len(page), store.DefaultLimit)
	}
	page, err = s.Credentials(c, store.CredentialFilter{Limit: store.MaxLimit + 1})
	must(t, err, "Credentials")
	if len(page) != n {
		t.Fatalf("large page has %d records, want %d", len(page), n)
	}
	wantAuditCount(t, s, n, "concurrent inserts")
	checked, broken, err := s.VerifyAudit(c)
	must(t, err, "VerifyAudit")
	if checked != n || broken != 0 {
		t.Fatalf("VerifyAudit = %d, %d", checked, broken)
	}
}

func testContextCancelled(t *testing.T, s store.Store) {
	newList(t, s, "L", 8)
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	err := s.InsertCredential(c, cred("c1", "L", 1), nil, ae("credential.issue", "c1"))
	wantIs(t, err, context.Canceled, "InsertCredential with a cancelled context")
	_, err = s.AppendAudit(c, store.AuditEntry{Action: "x"})
	wantIs(t, err, context.Canceled, "AppendAudit with a cancelled context")
	_, err = s.Credential(ctx(t), "c1")
	wantIs(t, err, store.ErrNotFound, "credential of a cancelled insert")
	wantAuditCount(t, s, 0, "cancelled writes")
}

func testPing(t *testing.T, s store.Store) {
	must(t, s.Ping(ctx(t)), "Ping")
}

func testCloseDrains(t *testing.T, s store.Store) {
	c := ctx(t)
	newList(t, s, "L", 1000)
	const n = 200
	errs := make(chan error, n)
	var started sync.WaitGroup
	var wg sync.WaitGroup
	for i := range n {
		started.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			errs <- s.InsertCredential(c, cred(fmt.Sprintf("c%03d", i), "L", i), nil, nil)
		}()
	}
	started.Wait()
	must(t, s.Close(), "Close")
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, store.ErrClosed) {
			t.Fatalf("write racing Close: %v (want nil or ErrClosed)", err)
		}
	}
	must(t, s.Close(), "second Close")
	wantIs(t, s.Ping(c), store.ErrClosed, "Ping after Close")
	wantIs(t, s.InsertCredential(c, cred("late", "L", 999), nil, nil), store.ErrClosed, "InsertCredential after Close")
	_, err := s.Credential(c, "c000")
	wantIs(t, err, store.ErrClosed, "Credential after Close")
	_, err = s.Audit(c, store.AuditFilter{})
	wantIs(t, err, store.ErrClosed, "Audit after Close")
	_, err = s.AppendAudit(c, store.AuditEntry{Action: "x"})
	wantIs(t, err, store.ErrClosed, "AppendAudit after Close")
}
