package storetest

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
)

func consoleSession(name string, created, seen time.Time) store.ConsoleSession {
	key := sha256.Sum256([]byte(name))
	return store.ConsoleSession{Key: key[:], TokenID: "tok_" + name, TokenHash: []byte("hash-" + name), CreatedAt: created, SeenAt: seen}
}

// testConsoleSessions: create with its audit entry, read back, the limit
// (refused atomically, no audit entry), ended sessions forgotten on
// create, touch only forward, delete idempotent with its audit entry.
func testConsoleSessions(t *testing.T, s store.Store) {
	c := ctx(t)
	a := consoleSession("a", at(0), at(0))
	must(t, s.CreateConsoleSession(c, a, 2, at(-time.Hour), at(-time.Hour), ae("console.signin", "tok_a")), "create a")
	got, err := s.ConsoleSession(c, a.Key)
	must(t, err, "get a")
	if !bytes.Equal(got.Key, a.Key) || got.TokenID != a.TokenID || !bytes.Equal(got.TokenHash, a.TokenHash) || !sameTime(got.CreatedAt, a.CreatedAt) || !sameTime(got.SeenAt, a.SeenAt) {
		t.Fatalf("read back %+v, want %+v", got, a)
	}
	wantAuditCount(t, s, 1, "after the sign-in")
	wantIs(t, s.CreateConsoleSession(c, a, 2, at(-time.Hour), at(-time.Hour), nil), store.ErrConflict, "the same key twice")

	b := consoleSession("b", at(time.Minute), at(time.Minute))
	must(t, s.CreateConsoleSession(c, b, 2, at(-time.Hour), at(-time.Hour), nil), "create b")
	third := consoleSession("c", at(2*time.Minute), at(2*time.Minute))
	err = s.CreateConsoleSession(c, third, 2, at(-time.Hour), at(-time.Hour), ae("console.signin", "tok_c"))
	wantIs(t, err, store.ErrSessionLimit, "past the limit")
	wantIs(t, err, store.ErrConflict, "past the limit")
	wantIs(t, func() error { _, err := s.ConsoleSession(c, third.Key); return err }(), store.ErrNotFound, "the refused session")
	wantAuditCount(t, s, 1, "after a refused sign-in")

	// a was last seen at 0: idle since 30s, it is forgotten and makes room.
	must(t, s.CreateConsoleSession(c, third, 2, at(30*time.Second), at(-time.Hour), nil), "create once a has ended")
	wantIs(t, func() error { _, err := s.ConsoleSession(c, a.Key); return err }(), store.ErrNotFound, "the idle session")
	// created before the absolute bound: forgotten however recently seen.
	must(t, s.TouchConsoleSession(c, b.Key, at(10*time.Minute)), "touch b")
	d := consoleSession("d", at(3*time.Minute), at(3*time.Minute))
	must(t, s.CreateConsoleSession(c, d, 2, at(-time.Hour), at(90*time.Second), nil), "create once b is too old")
	wantIs(t, func() error { _, err := s.ConsoleSession(c, b.Key); return err }(), store.ErrNotFound, "the session past its absolute expiry")

	// Touch moves SeenAt forward only.
	must(t, s.TouchConsoleSession(c, d.Key, at(5*time.Minute)), "touch d")
	must(t, s.TouchConsoleSession(c, d.Key, at(4*time.Minute)), "touch d backwards")
	if got, err := s.ConsoleSession(c, d.Key); err != nil || !sameTime(got.SeenAt, at(5*time.Minute)) {
		t.Fatalf("after touches: %+v %v, want seen at +5m", got, err)
	}
	wantIs(t, s.TouchConsoleSession(c, a.Key, at(5*time.Minute)), store.ErrNotFound, "touch a forgotten session")

	must(t, s.DeleteConsoleSession(c, d.Key, ae("console.signout", "tok_d")), "delete d")
	wantIs(t, func() error { _, err := s.ConsoleSession(c, d.Key); return err }(), store.ErrNotFound, "the deleted session")
	must(t, s.DeleteConsoleSession(c, d.Key, nil), "delete d again")
	wantAuditCount(t, s, 2, "after the sign-out")
	if e := auditAll(t, s); e[1].Action != "console.signout" {
		t.Fatalf("second audit entry %q, want console.signout", e[1].Action)
	}
}

// testConsoleSessionsInvalid: malformed sessions are invalid_input.
func testConsoleSessionsInvalid(t *testing.T, s store.Store) {
	c := ctx(t)
	good := consoleSession("x", at(0), at(0))
	for name, cs := range map[string]store.ConsoleSession{
		"short key": {Key: []byte("k"), TokenID: "t", TokenHash: []byte("h")},
		"no token":  {Key: good.Key, TokenHash: []byte("h")},
		"no hash":   {Key: good.Key, TokenID: "t"},
		"NUL in id": {Key: good.Key, TokenID: "t\x00", TokenHash: []byte("h")},
		"not UTF-8": {Key: good.Key, TokenID: "t\xff", TokenHash: []byte("h")},
	} {
		wantCode(t, s.CreateConsoleSession(c, cs, 10, at(-time.Hour), at(-time.Hour), nil), errcode.InvalidInput, name)
	}
	wantCode(t, s.CreateConsoleSession(c, good, 0, at(-time.Hour), at(-time.Hour), nil), errcode.InvalidInput, "limit 0")
	wantCode(t, s.CreateConsoleSession(c, good, 1, time.Time{}, at(-time.Hour), nil), errcode.InvalidInput, "no idle bound")
	wantAuditCount(t, s, 0, "after invalid sessions")
}
