package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
)

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
		{"index beyond any list", func(c *store.Credential) { c.Idx = store.MaxListSize + 1 }, errcode.InvalidInput},
		{"status 3", func(c *store.Credential) { c.Status = 3 }, errcode.InvalidInput},
		{"no jwt hash", func(c *store.Credential) { c.JWTHash = nil }, errcode.InvalidInput},
		{"NUL in the principal", func(c *store.Credential) { c.PrincipalID = "did:web:a\x00b" }, errcode.InvalidInput},
		{"NUL in the subject", func(c *store.Credential) { c.Subject = "did:key:\x00" }, errcode.InvalidInput},
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
	_, err := s.SetStatus(c, "c04", store.StatusValid, store.StatusChange{Value: store.StatusRevoked, At: at(time.Hour)}, nil)
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
		{"issued after", store.CredentialFilter{IssuedAfter: at(7 * time.Minute)}, "[c07 c08 c09]"},
		{"issued range", store.CredentialFilter{IssuedAfter: at(2 * time.Minute), IssuedBefore: at(4 * time.Minute)}, "[c02 c03]"},
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

func testCredentialStats(t *testing.T, s store.Store) {
	c := ctx(t)
	empty, err := s.CredentialStats(c, time.Time{})
	must(t, err, "CredentialStats of an empty store")
	if len(empty.ByStatus)+len(empty.IssuedPerDay)+len(empty.RevokedPerDay) != 0 {
		t.Fatalf("empty store: stats %+v", empty)
	}
	newList(t, s, "L", 64)
	// base is 2025-03-14 15:09 UTC: 10 h later is the next day.
	for i, d := range []time.Duration{0, time.Minute, 10 * time.Hour, 34 * time.Hour} {
		cr := cred(fmt.Sprintf("c%d", i), "L", i)
		cr.IssuedAt = at(d)
		insert(t, s, cr)
	}
	_, err = s.SetStatus(c, "c0", store.StatusValid, store.StatusChange{Value: store.StatusRevoked, At: at(11 * time.Hour)}, nil)
	must(t, err, "revoke c0")
	_, err = s.SetStatus(c, "c1", store.StatusValid, store.StatusChange{Value: store.StatusSuspended, At: at(11 * time.Hour)}, nil)
	must(t, err, "suspend c1")
	_, err = s.SetStatus(c, "c1", store.StatusSuspended, store.StatusChange{Value: store.StatusRevoked, At: at(35 * time.Hour)}, nil)
	must(t, err, "revoke c1")
	_, err = s.SetStatus(c, "c2", store.StatusValid, store.StatusChange{Value: store.StatusSuspended, At: at(12 * time.Hour)}, nil)
	must(t, err, "suspend c2")
	tests := []struct {
		since                   time.Time
		status, issued, revoked string
	}{
		{time.Time{}, "map[0:1 1:2 2:1]", "map[2025-03-14:2 2025-03-15:1 2025-03-16:1]", "map[2025-03-15:1 2025-03-16:1]"},
		{at(20 * time.Hour), "map[0:1 1:2 2:1]", "map[2025-03-16:1]", "map[2025-03-16:1]"},
		{at(100 * time.Hour), "map[0:1 1:2 2:1]", "map[]", "map[]"},
	}
	for _, tc := range tests {
		st, err := s.CredentialStats(c, tc.since)
		must(t, err, "CredentialStats")
		if got := fmt.Sprint(st.ByStatus); got != tc.status {
			t.Errorf("since %v: by status %s, want %s", tc.since, got, tc.status)
		}
		if got := fmt.Sprint(st.IssuedPerDay); got != tc.issued {
			t.Errorf("since %v: issued per day %s, want %s", tc.since, got, tc.issued)
		}
		if got := fmt.Sprint(st.RevokedPerDay); got != tc.revoked {
			t.Errorf("since %v: revoked per day %s, want %s", tc.since, got, tc.revoked)
		}
	}
}

// testNULIsInvalidInput: PostgreSQL text cannot hold a NUL character, and
// SQLite could; both refuse one alike. A client's NUL in a status note, a
// token name, an audit entry or a search filter is its mistake
// (invalid_input, 400), not a server error (500), and nothing is written.
func testNULIsInvalidInput(t *testing.T, s store.Store) {
	c := ctx(t)
	newList(t, s, "L", 16)
	insert(t, s, cred("c1", "L", 1))
	_, err := s.SetStatus(c, "c1", store.StatusValid, store.StatusChange{Value: store.StatusSuspended, Reason: "other", Note: "a\x00b", At: at(time.Hour)},
		ae("credential.suspend", "c1"))
	wantCode(t, err, errcode.InvalidInput, "SetStatus with a NUL in the note")
	wantCode(t, s.CreateToken(c, store.Token{ID: "tok_x", Name: "shop\x00", Role: "reporter", Hash: []byte("hx")}, nil), errcode.InvalidInput, "CreateToken with a NUL in the name")
	_, err = s.AppendAudit(c, store.AuditEntry{Actor: "tok\x00", Action: "x.y", Target: "t"})
	wantCode(t, err, errcode.InvalidInput, "AppendAudit with a NUL in the actor")
	_, err = s.Credentials(c, store.CredentialFilter{Subject: "did:key:\x00"})
	wantCode(t, err, errcode.InvalidInput, "Credentials filtered by a NUL")
	_, err = s.Audit(c, store.AuditFilter{Actor: "\x00"})
	wantCode(t, err, errcode.InvalidInput, "Audit filtered by a NUL")
	wantCode(t, s.CreateToken(c, store.Token{ID: "tok_y", Name: "shop\xff", Role: "reporter", Hash: []byte("hy")}, nil), errcode.InvalidInput, "CreateToken with a name that is not UTF-8")
	// No record can be stored under such an id: looking one up finds
	// nothing, in either store.
	for _, id := range []string{"c1\x00", "\xff"} {
		if _, err := s.Credential(c, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Credential(%q): %v, want ErrNotFound", id, err)
		}
		if _, err := s.StatusList(c, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("StatusList(%q): %v, want ErrNotFound", id, err)
		}
		if _, err := s.TokenByID(c, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TokenByID(%q): %v, want ErrNotFound", id, err)
		}
		if _, _, err := s.ListEntries(c, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ListEntries(%q): %v, want ErrNotFound", id, err)
		}
		if _, err := s.UsedIndexes(c, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UsedIndexes(%q): %v, want ErrNotFound", id, err)
		}
		// Nor do the writes that name one.
		if _, err := s.SetStatus(c, id, store.StatusValid, store.StatusChange{Value: store.StatusSuspended, At: at(time.Hour)}, nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetStatus(%q): %v, want ErrNotFound", id, err)
		}
		if err := s.RevokeToken(c, id, at(time.Hour), nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RevokeToken(%q): %v, want ErrNotFound", id, err)
		}
		if err := s.ActivateKey(c, id, nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ActivateKey(%q): %v, want ErrNotFound", id, err)
		}
		if err := s.RetireKey(c, id, at(time.Hour), nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RetireKey(%q): %v, want ErrNotFound", id, err)
		}
		// A client's idempotency key that is not storable text is its
		// mistake, in the lookup and in the insert.
		_, err := s.Idempotent(c, id, "k")
		wantCode(t, err, errcode.InvalidInput, fmt.Sprintf("Idempotent(%q, k)", id))
		_, err = s.Idempotent(c, "tok", id)
		wantCode(t, err, errcode.InvalidInput, fmt.Sprintf("Idempotent(tok, %q)", id))
		wantCode(t, s.InsertCredential(c, cred("c2", "L", 2), &store.Idempotency{TokenID: "tok", Key: id, RequestHash: []byte{1}}, nil),
			errcode.InvalidInput, fmt.Sprintf("InsertCredential with idempotency key %q", id))
	}
	if got, err := s.Credential(c, "c1"); err != nil || got.Status != store.StatusValid {
		t.Fatalf("after the refused change: %+v, %v", got, err)
	}
	if _, err := s.TokenByID(c, "tok_x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused token was stored: %v", err)
	}
	wantAuditCount(t, s, 0, "refused writes") // insert writes none
}
