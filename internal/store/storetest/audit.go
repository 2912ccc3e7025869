package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
)

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
	_, err := s.SetStatus(c, "nope", store.StatusValid, store.StatusChange{Value: 1}, ae("credential.revoke", "nope"))
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
			_, err = s.SetStatus(c, "c1", store.StatusValid, store.StatusChange{Value: 1}, tc.a)
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
	_, err = s.SetStatus(c, "c1", store.StatusValid, store.StatusChange{Value: 1, At: at(time.Hour)}, ae("credential.revoke", "c1"))
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
