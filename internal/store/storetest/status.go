package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
)

func testSetStatus(t *testing.T, s store.Store) {
	c := ctx(t)
	newList(t, s, "L", 16)
	newList(t, s, "M", 16)
	insert(t, s, cred("c1", "L", 1))
	insert(t, s, cred("c2", "L", 2))
	insert(t, s, cred("c3", "M", 1))

	ch := store.StatusChange{Value: store.StatusRevoked, Reason: "key_compromise", Incident: "INC-1", Note: "leaked", At: at(time.Hour)}
	got, err := s.SetStatus(c, "c1", store.StatusValid, ch, ae("credential.revoke", "c1"))
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
	_, err = s.SetStatus(c, "c2", store.StatusValid, store.StatusChange{Value: store.StatusSuspended, At: at(time.Hour)}, ae("credential.suspend", "c2"))
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
	_, err = s.SetStatus(c, "c2", store.StatusSuspended, store.StatusChange{Value: store.StatusValid, At: at(2 * time.Hour)}, ae("credential.reinstate", "c2"))
	must(t, err, "SetStatus reinstate")
	v, entries, _ = s.ListEntries(c, "L")
	if v != 4 || fmt.Sprint(entries) != "map[1:1]" {
		t.Fatalf("ListEntries after reinstate = %d %v", v, entries)
	}

	_, err = s.SetStatus(c, "nope", store.StatusValid, ch, ae("credential.revoke", "nope"))
	wantIs(t, err, store.ErrNotFound, "SetStatus missing")
	_, err = s.SetStatus(c, "c3", store.StatusValid, store.StatusChange{Value: 3}, ae("credential.revoke", "c3"))
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
	_, err := s.SetStatus(c, "c0", store.StatusValid, store.StatusChange{Value: store.StatusRevoked, At: at(time.Hour)}, nil)
	must(t, err, "SetStatus")
	_, err = s.SetStatus(c, "c1", store.StatusValid, store.StatusChange{Value: store.StatusSuspended, At: at(time.Hour)}, nil)
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

	// A change that expects another count (the set changed since its
	// preview) is refused whole.
	stale := revoke
	stale.Expect = 4
	if _, err := s.BulkSetStatus(c, f, stale, false, mkAudit); !errors.Is(err, store.ErrBulkChanged) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("BulkSetStatus expecting 4 of 5: %v, want ErrBulkChanged", err)
	}
	wantAuditCount(t, s, 0, "refused bulk revoke")
	if cr, _ := s.Credential(c, "c2"); cr.Status != 0 {
		t.Fatalf("refused bulk revoke changed c2 to %d", cr.Status)
	}
	if l, _ := s.StatusList(c, "L"); l.Version != 3 {
		t.Fatalf("refused bulk revoke bumped version to %d", l.Version)
	}
	seen = nil

	// Real run, expecting the previewed count.
	revoke.Expect = 5
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

	revoke.Expect = 0

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

func testStatusTransitions(t *testing.T, s store.Store) {
	c := ctx(t)
	newList(t, s, "L", 16)
	// c0 stays valid, c1 is suspended, c2 revoked.
	for i := range 3 {
		insert(t, s, cred(fmt.Sprintf("c%d", i), "L", i))
	}
	_, err := s.SetStatus(c, "c1", store.StatusValid, store.StatusChange{Value: store.StatusSuspended, At: at(time.Hour)}, ae("credential.suspend", "c1"))
	must(t, err, "suspend c1")
	_, err = s.SetStatus(c, "c2", store.StatusValid, store.StatusChange{Value: store.StatusRevoked, At: at(time.Hour)}, ae("credential.revoke", "c2"))
	must(t, err, "revoke c2")
	before := len(auditAll(t, s))
	version, entries, err := s.ListEntries(c, "L")
	must(t, err, "ListEntries")

	tests := []struct {
		name     string
		id       string
		from, to uint8
		code     errcode.Code
	}{
		{"revoked to valid", "c2", store.StatusRevoked, store.StatusValid, errcode.Conflict},
		{"revoked to suspended", "c2", store.StatusRevoked, store.StatusSuspended, errcode.Conflict},
		{"revoked to revoked", "c2", store.StatusRevoked, store.StatusRevoked, errcode.Conflict},
		{"revoked, claimed valid", "c2", store.StatusValid, store.StatusSuspended, errcode.Conflict},
		{"revoked, claimed suspended", "c2", store.StatusSuspended, store.StatusValid, errcode.Conflict},
		{"valid to valid", "c0", store.StatusValid, store.StatusValid, errcode.Conflict},
		{"valid, claimed suspended", "c0", store.StatusSuspended, store.StatusValid, errcode.Conflict},
		{"suspended to suspended", "c1", store.StatusSuspended, store.StatusSuspended, errcode.Conflict},
		{"suspended, claimed valid", "c1", store.StatusValid, store.StatusRevoked, errcode.Conflict},
		{"from out of range", "c0", 3, store.StatusRevoked, errcode.InvalidInput},
		{"missing credential", "nope", store.StatusValid, store.StatusRevoked, errcode.NotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.SetStatus(c, tc.id, tc.from, store.StatusChange{Value: tc.to, At: at(2 * time.Hour)}, ae("credential.change", tc.id))
			wantCode(t, err, tc.code, "SetStatus")
			if tc.code == errcode.Conflict {
				wantIs(t, err, store.ErrConflict, "SetStatus")
			}
		})
	}
	for id, want := range map[string]uint8{"c0": store.StatusValid, "c1": store.StatusSuspended, "c2": store.StatusRevoked} {
		if cr, _ := s.Credential(c, id); cr.Status != want {
			t.Fatalf("%s is at %d after refused transitions, want %d", id, cr.Status, want)
		}
	}
	v, e, err := s.ListEntries(c, "L")
	must(t, err, "ListEntries")
	if v != version || fmt.Sprint(e) != fmt.Sprint(entries) {
		t.Fatalf("refused transitions changed the list: version %d -> %d, %v -> %v", version, v, entries, e)
	}
	wantAuditCount(t, s, before, "refused transitions")

	// The allowed moves out of suspension both work.
	_, err = s.SetStatus(c, "c1", store.StatusSuspended, store.StatusChange{Value: store.StatusValid, At: at(3 * time.Hour)}, nil)
	must(t, err, "reinstate c1")
	_, err = s.SetStatus(c, "c1", store.StatusValid, store.StatusChange{Value: store.StatusSuspended, At: at(4 * time.Hour)}, nil)
	must(t, err, "suspend c1 again")
	_, err = s.SetStatus(c, "c1", store.StatusSuspended, store.StatusChange{Value: store.StatusRevoked, At: at(5 * time.Hour)}, nil)
	must(t, err, "revoke suspended c1")

	// A bulk reinstatement never touches a revoked credential.
	n, err := s.BulkSetStatus(c, store.CredentialFilter{PrincipalID: "did:web:acme.example"}, store.StatusChange{Value: store.StatusValid}, false, nil)
	must(t, err, "bulk reinstate")
	if n != 0 {
		t.Fatalf("bulk reinstate changed %d credentials, want 0", n)
	}
	for _, id := range []string{"c1", "c2"} {
		if cr, _ := s.Credential(c, id); cr.Status != store.StatusRevoked {
			t.Fatalf("%s left revocation: status %d", id, cr.Status)
		}
	}
}

// testConcurrentTransitions races changes from one prior status: exactly one
// of them wins, the others see ErrConflict, and the audit log records only
// the winner.
func testConcurrentTransitions(t *testing.T, s store.Store) {
	c := ctx(t)
	const creds, racers = 8, 6
	newList(t, s, "L", 64)
	for i := range creds {
		insert(t, s, cred(fmt.Sprintf("c%d", i), "L", i))
	}
	type result struct {
		id  string
		to  uint8
		err error
	}
	results := make(chan result, creds*racers)
	var wg sync.WaitGroup
	for i := range creds {
		for r := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("c%d", i)
				to := []uint8{store.StatusRevoked, store.StatusSuspended}[r%2]
				_, err := s.SetStatus(c, id, store.StatusValid, store.StatusChange{Value: to, At: at(time.Hour)}, ae("credential.change", id))
				results <- result{id, to, err}
			}()
		}
	}
	wg.Wait()
	close(results)
	won := map[string]uint8{}
	for r := range results {
		switch {
		case r.err == nil:
			if _, dup := won[r.id]; dup {
				t.Fatalf("two changes of %s from valid both succeeded", r.id)
			}
			won[r.id] = r.to
		case errors.Is(r.err, store.ErrConflict):
		default:
			t.Fatalf("SetStatus %s: %v", r.id, r.err)
		}
	}
	if len(won) != creds {
		t.Fatalf("%d credentials changed, want %d", len(won), creds)
	}
	for id, to := range won {
		if cr, _ := s.Credential(c, id); cr.Status != to {
			t.Fatalf("%s is at %d, the winning change set %d", id, cr.Status, to)
		}
	}
	wantAuditCount(t, s, creds, "concurrent transitions")
	if _, broken, err := s.VerifyAudit(c); err != nil || broken != 0 {
		t.Fatalf("VerifyAudit: broken at %d, %v", broken, err)
	}
}
