package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
)

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
	got, err = s.TokenByID(c, a.ID)
	must(t, err, "TokenByID")
	if got.ID != a.ID || got.Role != a.Role || !bytes.Equal(got.Hash, a.Hash) || got.RevokedAt != nil {
		t.Fatalf("TokenByID = %+v, want %+v", got, a)
	}
	_, err = s.TokenByID(c, "tok-nope")
	wantIs(t, err, store.ErrNotFound, "TokenByID missing")

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
	if got, err = s.TokenByID(c, a.ID); err != nil || !samePtrTime(got.RevokedAt, ptr(at(time.Hour))) {
		t.Fatalf("TokenByID revoked = %+v, %v", got, err)
	}
	wantAuditCount(t, s, 3, "token changes")
}
