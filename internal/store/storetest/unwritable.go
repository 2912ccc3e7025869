package storetest

import (
	"errors"
	"testing"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
)

// Breakable is a store whose writes a test can make fail the way they fail
// when the storage under it is full or read-only.
type Breakable interface {
	store.Store
	// BreakWrites makes every write from now on fail as it does when the
	// storage is full (full) or read-only, until HealWrites.
	BreakWrites(full bool)
	HealWrites()
}

// RunUnwritable checks the contract for a storage that refuses writes:
//
//   - every state-changing method fails with an error that errors.Is
//     store.ErrUnwritable (code storage_unwritable), and nothing is written:
//     no record, no audit entry, no list version;
//   - every read keeps working and the audit chain stays intact;
//   - once the storage takes writes again, the same writes succeed.
//
// open must return a new, empty store each time; RunUnwritable closes it.
func RunUnwritable(t *testing.T, open func(t *testing.T) Breakable) {
	t.Helper()
	for _, full := range []bool{true, false} {
		name := "ReadOnly"
		if full {
			name = "DiskFull"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			testUnwritable(t, s, full)
		})
	}
}

func testUnwritable(t *testing.T, s Breakable, full bool) {
	c := ctx(t)
	newList(t, s, "L1", 16)
	insert(t, s, cred("c1", "L1", 1))
	insert(t, s, cred("c2", "L1", 2))
	must(t, s.PutKey(c, store.Key{KID: "did:web:issuer.example#k1", Alg: "ES256", PublicJWK: []byte(`{"kty":"EC"}`), PrivateEnc: []byte("p1"), Active: true, CreatedAt: at(0)}, ae("key.create", "k1")), "PutKey k1")
	must(t, s.PutKey(c, store.Key{KID: "did:web:issuer.example#k2", Alg: "ES256", PublicJWK: []byte(`{"kty":"EC"}`), PrivateEnc: []byte("p2"), CreatedAt: at(1)}, ae("key.create", "k2")), "PutKey k2")
	must(t, s.CreateToken(c, store.Token{ID: "t1", Name: "one", Role: "issuer", Hash: []byte("h1"), CreatedAt: at(0)}, ae("token.create", "t1")), "CreateToken")
	before := auditAll(t, s)
	version, _, err := s.ListEntries(c, "L1")
	must(t, err, "ListEntries")

	s.BreakWrites(full)
	writes := []struct {
		name string
		fn   func() error
	}{
		{"PutKey", func() error {
			return s.PutKey(c, store.Key{KID: "did:web:issuer.example#k3", Alg: "ES256", PublicJWK: []byte(`{"kty":"EC"}`), PrivateEnc: []byte("p3"), CreatedAt: at(2)}, ae("key.create", "k3"))
		}},
		{"ActivateKey", func() error { return s.ActivateKey(c, "did:web:issuer.example#k2", ae("key.activate", "k2")) }},
		{"CreateToken", func() error {
			return s.CreateToken(c, store.Token{ID: "t2", Name: "two", Role: "auditor", Hash: []byte("h2"), CreatedAt: at(1)}, ae("token.create", "t2"))
		}},
		{"RevokeToken", func() error { return s.RevokeToken(c, "t1", at(2), ae("token.revoke", "t1")) }},
		{"CreateStatusList", func() error {
			return s.CreateStatusList(c, store.StatusList{ID: "L2", Size: 16, Bits: 2, CreatedAt: at(1)}, ae("list.create", "L2"))
		}},
		{"InsertCredential", func() error {
			return s.InsertCredential(c, cred("c3", "L1", 3), &store.Idempotency{TokenID: "t1", Key: "k", RequestHash: []byte("r"), CredentialID: "c3", Response: []byte("{}"), CreatedAt: at(1)}, ae("credential.issue", "c3"))
		}},
		{"SetStatus", func() error {
			_, err := s.SetStatus(c, "c1", store.StatusValid, store.StatusChange{Value: store.StatusRevoked, Reason: "incident", At: at(2)}, ae("credential.revoke", "c1"))
			return err
		}},
		{"BulkSetStatus", func() error {
			_, err := s.BulkSetStatus(c, store.CredentialFilter{AgentClass: "invoice-bot"}, store.StatusChange{Value: store.StatusSuspended, Reason: "incident", At: at(2)}, false,
				func(cr store.Credential) *store.AuditEntry { return ae("credential.suspend", cr.ID) })
			return err
		}},
		{"AppendAudit", func() error {
			_, err := s.AppendAudit(c, store.AuditEntry{Actor: "x", Action: "note", Target: "y", Time: at(2)})
			return err
		}},
	}
	for _, w := range writes {
		err := w.fn()
		if !errors.Is(err, store.ErrUnwritable) {
			t.Fatalf("%s on a broken storage: %v, want store.ErrUnwritable", w.name, err)
		}
		wantCode(t, err, errcode.StorageUnwritable, w.name)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: %v is also a conflict or not found", w.name, err)
		}
	}

	if st, ok := s.(interface{ Stats() store.Stats }); ok {
		if got := st.Stats().Refused; got != int64(len(writes)) {
			t.Fatalf("Stats().Refused is %d after %d refused writes", got, len(writes))
		}
	}

	// Reads work and show that nothing was written.
	if _, err := s.Credential(c, "c3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Credential c3 after a refused insert: %v", err)
	}
	got, err := s.Credential(c, "c1")
	must(t, err, "Credential c1")
	if got.Status != store.StatusValid {
		t.Fatalf("c1 has status %d after a refused change", got.Status)
	}
	v, entries, err := s.ListEntries(c, "L1")
	must(t, err, "ListEntries")
	if v != version || len(entries) != 0 {
		t.Fatalf("L1 is at version %d with %v after refused changes, want %d and none", v, entries, version)
	}
	if _, err := s.StatusList(c, "L2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("StatusList L2 after a refused create: %v", err)
	}
	if _, err := s.Idempotent(c, "t1", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Idempotent after a refused insert: %v", err)
	}
	tok, err := s.TokenByHash(c, []byte("h1"))
	must(t, err, "TokenByHash")
	if tok.RevokedAt != nil {
		t.Fatal("token t1 revoked by a refused write")
	}
	keys, err := s.Keys(c)
	must(t, err, "Keys")
	if len(keys) != 2 || !keys[0].Active || keys[1].Active {
		t.Fatalf("keys after a refused PutKey and ActivateKey: %+v", keys)
	}
	if after := auditAll(t, s); len(after) != len(before) {
		t.Fatalf("%d audit entries after refused writes, want %d", len(after), len(before))
	}
	checked, broken, err := s.VerifyAudit(c)
	must(t, err, "VerifyAudit")
	if broken != 0 || checked != int64(len(before)) {
		t.Fatalf("VerifyAudit on a broken storage: checked %d, first broken %d", checked, broken)
	}

	// Once the storage takes writes again, so does the store.
	s.HealWrites()
	for _, w := range writes {
		must(t, w.fn(), w.name+" after the storage recovered")
	}
	got, err = s.Credential(c, "c3")
	must(t, err, "Credential c3")
	if got.Status != store.StatusSuspended {
		t.Fatalf("c3 has status %d, want suspended", got.Status)
	}
	if checked, broken, err = s.VerifyAudit(c); err != nil || broken != 0 || checked <= int64(len(before)) {
		t.Fatalf("VerifyAudit after recovery: checked %d, first broken %d, %v", checked, broken, err)
	}
}
