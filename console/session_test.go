package console

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/records"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/tokens"
	"github.com/agentcert/agentcert/issuer"
)

// noStatuses refuses every change: the session tests change nothing.
type noStatuses struct{}

func (noStatuses) Change(context.Context, issuer.Actor, string, string, issuer.StatusRequest) (records.Credential, error) {
	return records.Credential{}, errors.New("no status changes here")
}

func (noStatuses) Bulk(context.Context, issuer.Actor, issuer.BulkRequest) (int, error) {
	return 0, errors.New("no status changes here")
}

// clock is a settable time source shared by the consoles of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// sessionRig is one SQLite store with an auditor token, and consoles over
// it (as many nodes as a test opens) on one clock.
type sessionRig struct {
	st    *store.SQLite
	clock *clock
	tok   records.Token
}

func newSessionRig(t *testing.T) *sessionRig {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "agentcert.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	t0 := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	tok := records.Token{ID: "tok_a", Name: "alice", Role: tokens.RoleAuditor, Hash: tokens.Hash("secret-a"), CreatedAt: t0}
	if err := st.CreateToken(t.Context(), tok, nil); err != nil {
		t.Fatal(err)
	}
	return &sessionRig{st: st, clock: &clock{t: t0}, tok: tok}
}

func (r *sessionRig) console(t *testing.T, maxSessions int) *Console {
	t.Helper()
	c, err := New(Options{Store: r.st, Statuses: noStatuses{}, StatusURI: func(string) string { return "" },
		IdleTimeout: 15 * time.Minute, MaxAge: time.Hour, MaxSessions: maxSessions, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (r *sessionRig) signIn(t *testing.T, c *Console) string {
	t.Helper()
	now := r.clock.Now()
	id, err := c.createSession(t.Context(), r.tok, now, records.AuditEntry{Time: now, Actor: r.tok.ID, Action: "console.signin", Target: r.tok.ID})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// lookup is the session a request with cookie value id has on c, and why
// there is none.
func lookup(t *testing.T, c *Console, id string) (*session, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/console", nil)
	req.AddCookie(&http.Cookie{Name: c.cookieName(sessionCookie), Value: id})
	s, why, err := c.current(req)
	if err != nil {
		t.Fatalf("current: %v", err)
	}
	return s, why
}

func TestSessionExpiry(t *testing.T) {
	r := newSessionRig(t)
	c := r.console(t, 0)
	t0 := r.clock.Now()
	id := r.signIn(t, c)
	if len(id) < 40 {
		t.Fatalf("cookie value %q is short", id)
	}
	// Used every 10 minutes, it lives until the absolute expiry.
	for m := 10; m < 60; m += 10 {
		r.clock.Set(t0.Add(time.Duration(m) * time.Minute))
		s, why := lookup(t, c, id)
		if s == nil || s.TokenID != "tok_a" || s.Role != tokens.RoleAuditor || s.Name != "alice" || s.csrf != csrfOf(id) || s.csrf == "" {
			t.Fatalf("at %d min: %+v (%q)", m, s, why)
		}
	}
	r.clock.Set(t0.Add(time.Hour))
	if s, why := lookup(t, c, id); s != nil || why != "expired" {
		t.Fatalf("past the absolute expiry: %+v %q", s, why)
	}
	if s, why := lookup(t, c, id); s != nil || why != "" {
		t.Fatalf("an expired session is not removed: %+v %q", s, why)
	}
	// Idle for 15 minutes, it ends.
	id = r.signIn(t, c)
	r.clock.Set(t0.Add(time.Hour + 15*time.Minute))
	if s, why := lookup(t, c, id); s != nil || why != "expired" {
		t.Fatalf("idle: %+v %q", s, why)
	}
	if s, why := lookup(t, c, "not-a-session"); s != nil || why != "" {
		t.Fatalf("an unknown cookie has a session: %+v %q", s, why)
	}
}

// TestSessionsSharedAcrossNodes: two consoles over one store stand for two
// nodes behind a load balancer. A session signed in on one is live on the
// other, its activity there keeps it from idling out, and a sign-out or a
// revoked token on one ends it on both.
func TestSessionsSharedAcrossNodes(t *testing.T) {
	r := newSessionRig(t)
	a, b := r.console(t, 0), r.console(t, 0)
	t0 := r.clock.Now()
	id := r.signIn(t, a)
	if s, _ := lookup(t, b, id); s == nil || s.TokenID != "tok_a" {
		t.Fatalf("node b does not know node a's session: %+v", s)
	}
	// Seen on b at +10 min, the session is not idle on a at +20.
	r.clock.Set(t0.Add(10 * time.Minute))
	lookup(t, b, id)
	r.clock.Set(t0.Add(20 * time.Minute))
	if s, why := lookup(t, a, id); s == nil {
		t.Fatalf("activity on b did not count on a: %q", why)
	}
	// Sign out on b: gone on a.
	s, _ := lookup(t, b, id)
	rec := httptest.NewRecorder()
	b.signout(rec, httptest.NewRequest(http.MethodPost, "/console/signout", nil), s)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("sign-out: %d %s", rec.Code, rec.Body)
	}
	if s, why := lookup(t, a, id); s != nil || why != "" {
		t.Fatalf("signed out on b, still live on a: %+v %q", s, why)
	}
	entries, err := r.st.Audit(t.Context(), records.AuditFilter{Limit: 10})
	if err != nil || len(entries) != 2 || entries[0].Action != "console.signin" || entries[1].Action != "console.signout" {
		t.Fatalf("audit %+v %v, want sign-in then sign-out", entries, err)
	}
	// A revoked token ends its session on every node.
	id = r.signIn(t, a)
	if err := r.st.RevokeToken(t.Context(), "tok_a", r.clock.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if s, why := lookup(t, b, id); s != nil || why != "revoked" {
		t.Fatalf("revoked token: %+v %q", s, why)
	}
	if _, err := r.st.ConsoleSession(t.Context(), sessionKey(id)); !errors.Is(err, records.ErrNotFound) {
		t.Fatalf("the revoked token's session is still stored: %v", err)
	}
}

func TestSessionTableBounded(t *testing.T) {
	r := newSessionRig(t)
	a, b := r.console(t, 3), r.console(t, 3)
	t0 := r.clock.Now()
	for i := range 3 {
		r.signIn(t, []*Console{a, b}[i%2])
	}
	now := r.clock.Now()
	_, err := b.createSession(t.Context(), r.tok, now, records.AuditEntry{Time: now, Actor: r.tok.ID, Action: "console.signin", Target: r.tok.ID})
	if errcode.CodeOf(err) != errcode.RateLimited {
		t.Fatalf("past the bound, both nodes counted: %v, want rate_limited", err)
	}
	// Ended sessions make room.
	r.clock.Set(t0.Add(15 * time.Minute))
	r.signIn(t, a)
}

// TestSessionStoresOnlyHashes: the store holds neither the cookie value
// nor the CSRF token, so a copy of the database opens no session.
func TestSessionStoresOnlyHashes(t *testing.T) {
	r := newSessionRig(t)
	c := r.console(t, 0)
	id := r.signIn(t, c)
	rec, err := r.st.ConsoleSession(t.Context(), sessionKey(id))
	if err != nil {
		t.Fatal(err)
	}
	if string(rec.Key) == id || csrfOf(id) == id || string(rec.Key) == csrfOf(id) {
		t.Fatal("the stored key or the CSRF token is the cookie value")
	}
	if s, _ := lookup(t, c, base64Key(rec.Key)); s != nil {
		t.Fatal("the stored key opens the session")
	}
}

func base64Key(k []byte) string { return base64.RawURLEncoding.EncodeToString(k) }
