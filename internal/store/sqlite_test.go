package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/store/storetest"
)

func openAt(t *testing.T, path string, opts ...store.Option) *store.SQLite {
	t.Helper()
	s, err := store.Open(t.Context(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "issuer.db"))
	})
}

// TestContractNoGroupCommit runs the suite with one write per transaction,
// the degenerate batch size.
func TestContractNoGroupCommit(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "issuer.db"), store.WithMaxBatch(1), store.WithReadConns(1))
	})
}

// faultySQLite fails every commit with the error the driver reports when
// the file system under the database is full (SQLITE_FULL, ENOSPC) or
// read-only (SQLITE_IOERR_WRITE, EROFS).
type faultySQLite struct{ *store.SQLite }

func (f faultySQLite) BreakWrites(full bool) {
	err := sqlite3.Error{Code: sqlite3.ErrIoErr, ExtendedCode: sqlite3.ErrIoErrWrite, SystemErrno: syscall.EROFS}
	if full {
		err = sqlite3.Error{Code: sqlite3.ErrFull, ExtendedCode: sqlite3.ErrNoExtended(sqlite3.ErrFull), SystemErrno: syscall.ENOSPC}
	}
	store.SetCommitFault(f.SQLite, err)
}

func (f faultySQLite) HealWrites() { store.SetCommitFault(f.SQLite, nil) }

func TestContractUnwritable(t *testing.T) {
	storetest.RunUnwritable(t, func(t *testing.T) storetest.Breakable {
		return faultySQLite{openAt(t, filepath.Join(t.TempDir(), "issuer.db"))}
	})
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)

func seed(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	if err := s.CreateStatusList(ctx, store.StatusList{ID: "L", Size: 64, Bits: 2, CreatedAt: t0}, &store.AuditEntry{Actor: "admin", Action: "statuslist.create", Target: "L"}); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"c1", "c2", "c3"} {
		c := store.Credential{ID: id, Subject: "did:key:z" + id, PrincipalID: "did:web:acme.example", AgentClass: "bot",
			VCT: "urn:agentcert:agent-certification:v1", ListID: "L", Idx: i, IssuedAt: t0, JWTHash: []byte{byte(i), 1}, TokenID: "tok"}
		if err := s.InsertCredential(ctx, c, nil, &store.AuditEntry{Actor: "tok", Action: "credential.issue", Target: id, Details: json.RawMessage(`{"idx":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SetStatus(ctx, "c2", store.StatusValid, store.StatusChange{Value: store.StatusRevoked, Reason: "r", At: t0.Add(time.Hour)}, &store.AuditEntry{Actor: "aud", Action: "credential.revoke", Target: "c2"}); err != nil {
		t.Fatal(err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	s := openAt(t, path)
	seed(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	defer s.Close()
	c, err := s.Credential(t.Context(), "c2")
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != store.StatusRevoked || c.StatusReason != "r" || !c.IssuedAt.Equal(t0) {
		t.Fatalf("after reopen: %+v", c)
	}
	v, entries, err := s.ListEntries(t.Context(), "L")
	if err != nil || v != 2 || len(entries) != 1 || entries[1] != store.StatusRevoked {
		t.Fatalf("ListEntries after reopen = %d %v %v", v, entries, err)
	}
	checked, broken, err := s.VerifyAudit(t.Context())
	if err != nil || checked != 5 || broken != 0 {
		t.Fatalf("VerifyAudit after reopen = %d %d %v", checked, broken, err)
	}
	// The chain continues across reopen.
	e, err := s.AppendAudit(t.Context(), store.AuditEntry{Action: "after.reopen"})
	if err != nil || e.Seq != 6 {
		t.Fatalf("AppendAudit after reopen = %+v %v", e, err)
	}
	if _, broken, _ := s.VerifyAudit(t.Context()); broken != 0 {
		t.Fatalf("chain broken at %d after reopen", broken)
	}
}

// TestAcknowledgedWriteVisibleWithoutClose: a write that returned is in the
// file, as seen from another handle, while the first handle is never closed
// (the process-level analogue of kill -9 is tested end to end by the server).
func TestAcknowledgedWriteVisibleWithoutClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	s1 := openAt(t, path)
	t.Cleanup(func() { s1.Close() })
	seed(t, s1)

	raw, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var status int
	if err := raw.QueryRow("SELECT status FROM credentials WHERE id = 'c2'").Scan(&status); err != nil || status != 1 {
		t.Fatalf("raw read: status %d, %v", status, err)
	}
	var n int
	if err := raw.QueryRow("SELECT COUNT(*) FROM audit_log").Scan(&n); err != nil || n != 5 {
		t.Fatalf("raw read: %d audit entries, %v", n, err)
	}

	s2 := openAt(t, path)
	defer s2.Close()
	c, err := s2.Credential(t.Context(), "c3")
	if err != nil || c.Idx != 2 {
		t.Fatalf("second handle: %+v %v", c, err)
	}
	// Both handles write to the same file; the chain stays intact.
	if _, err := s2.AppendAudit(t.Context(), store.AuditEntry{Action: "from.s2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.AppendAudit(t.Context(), store.AuditEntry{Action: "from.s1"}); err != nil {
		t.Fatal(err)
	}
	if checked, broken, err := s1.VerifyAudit(t.Context()); err != nil || checked != 7 || broken != 0 {
		t.Fatalf("VerifyAudit = %d %d %v", checked, broken, err)
	}
}

func TestFileMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "issuer.db")
	// An existing file with a wider mode is narrowed.
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, path)
	defer s.Close()
	seed(t, s)
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), m)
		}
	}
}

func TestOpenRejects(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		code errcode.Code
	}{
		{"empty", "", errcode.InvalidInput},
		{"memory", ":memory:", errcode.InvalidInput},
		{"uri", "file:x.db?mode=memory", errcode.InvalidInput},
		{"missing directory", filepath.Join(dir, "no", "such", "x.db"), errcode.Internal},
		{"directory", dir, errcode.Internal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := store.Open(t.Context(), tc.path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if got := errcode.CodeOf(err); got != tc.code {
				t.Fatalf("code %q (%v), want %q", got, err, tc.code)
			}
		})
	}
}

func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(path, []byte("this is not an SQLite database, it is a text file of some length........"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := store.Open(t.Context(), path); err == nil {
		s.Close()
		t.Fatal("Open of a non-database succeeded")
	}
}

func TestPathWithSpecialCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a?b#c%d e.db")
	s := openAt(t, path)
	seed(t, s)
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the named path: %v", err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	s := openAt(t, path)
	s.Close()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if s, err := store.Open(t.Context(), path); err == nil {
		s.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
}

// TestTamperDetected edits the database file behind the store's back, the
// way an attacker with file access would, and expects VerifyAudit to name
// the first entry that no longer fits the chain.
func TestTamperDetected(t *testing.T) {
	tests := []struct {
		name   string
		sql    string
		broken int64
	}{
		{"details", `UPDATE audit_log SET details = '{"idx":2}' WHERE seq = 3`, 3},
		{"details whitespace", `UPDATE audit_log SET details = '{"idx": 1}' WHERE seq = 2`, 2},
		{"actor", `UPDATE audit_log SET actor = 'someone' WHERE seq = 5`, 5},
		{"action", `UPDATE audit_log SET action = 'credential.reinstate' WHERE seq = 5`, 5},
		{"target", `UPDATE audit_log SET target = 'c1' WHERE seq = 4`, 4},
		{"time", `UPDATE audit_log SET time = time + 1 WHERE seq = 1`, 1},
		{"deleted entry", `DELETE FROM audit_log WHERE seq = 3`, 4},
		{"deleted first entry", `DELETE FROM audit_log WHERE seq = 1`, 2},
		{"renumbered", `UPDATE audit_log SET seq = 10 WHERE seq = 5`, 10},
		{"hash rewritten", `UPDATE audit_log SET hash = zeroblob(32) WHERE seq = 4`, 4},
		{"prev_hash rewritten", `UPDATE audit_log SET prev_hash = zeroblob(32) WHERE seq = 2`, 2},
		{"inserted entry", `INSERT INTO audit_log SELECT 6, time, actor, action, target, details, prev_hash, hash FROM audit_log WHERE seq = 5`, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "issuer.db")
			s := openAt(t, path)
			defer s.Close()
			seed(t, s)
			if _, broken, err := s.VerifyAudit(t.Context()); err != nil || broken != 0 {
				t.Fatalf("VerifyAudit before tampering: %d %v", broken, err)
			}
			raw, err := sql.Open("sqlite3", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(tc.sql); err != nil {
				t.Fatalf("tamper: %v", err)
			}
			raw.Close()
			checked, broken, err := s.VerifyAudit(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if broken != tc.broken {
				t.Fatalf("VerifyAudit named %d (checked %d), want %d", broken, checked, tc.broken)
			}
		})
	}
}

func TestWithClock(t *testing.T) {
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	s := openAt(t, filepath.Join(t.TempDir(), "issuer.db"), store.WithClock(func() time.Time { return fixed }))
	defer s.Close()
	ctx := t.Context()
	e, err := s.AppendAudit(ctx, store.AuditEntry{Action: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if !e.Time.Equal(fixed) || e.Time.Location() != time.UTC {
		t.Fatalf("audit time %v, want %v in UTC", e.Time, fixed)
	}
	if err := s.CreateStatusList(ctx, store.StatusList{ID: "L", Size: 8, Bits: 2}, nil); err != nil {
		t.Fatal(err)
	}
	c := store.Credential{ID: "c", ListID: "L", Idx: 1, JWTHash: []byte{1}}
	if err := s.InsertCredential(ctx, c, nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.SetStatus(ctx, "c", store.StatusValid, store.StatusChange{Value: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got.IssuedAt.Equal(fixed) || !got.ExpiresAt.IsZero() || got.StatusChangedAt == nil || !got.StatusChangedAt.Equal(fixed) {
		t.Fatalf("zero times not filled from the clock: %+v", got)
	}
	l, _ := s.StatusList(ctx, "L")
	if !l.CreatedAt.Equal(fixed) {
		t.Fatalf("list CreatedAt %v", l.CreatedAt)
	}
}

func TestDeadlineWhileQueued(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "issuer.db"))
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if _, err := s.AppendAudit(ctx, store.AuditEntry{Action: "late"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AppendAudit with an expired deadline: %v", err)
	}
	if got, _ := s.Audit(t.Context(), store.AuditFilter{}); len(got) != 0 {
		t.Fatalf("expired write stored: %+v", got)
	}
}

// TestCloseDrainsDurable closes the store while writes are in flight: every
// write that returned nil is in the file after reopening, every write that
// returned ErrClosed is not.
func TestCloseDrainsDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.db")
	s := openAt(t, path)
	ctx := t.Context()
	if err := s.CreateStatusList(ctx, store.StatusList{ID: "L", Size: 512, Bits: 2}, nil); err != nil {
		t.Fatal(err)
	}
	const n = 300
	errs := make([]error, n)
	done := make(chan int, n)
	for i := range n {
		go func() {
			id := "c" + strconv.Itoa(i)
			errs[i] = s.InsertCredential(ctx, store.Credential{ID: id, ListID: "L", Idx: i, JWTHash: []byte{1}}, nil,
				&store.AuditEntry{Action: "credential.issue", Target: id})
			done <- i
		}()
	}
	<-done // at least one write has been answered
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range n - 1 {
		<-done
	}
	s = openAt(t, path)
	defer s.Close()
	acked := 0
	for i, err := range errs {
		_, gerr := s.Credential(ctx, "c"+strconv.Itoa(i))
		switch {
		case err == nil:
			acked++
			if gerr != nil {
				t.Fatalf("acknowledged c%d missing after reopen: %v", i, gerr)
			}
		case errors.Is(err, store.ErrClosed):
			if !errors.Is(gerr, store.ErrNotFound) {
				t.Fatalf("c%d refused with ErrClosed but stored (%v)", i, gerr)
			}
		default:
			t.Fatalf("c%d: %v", i, err)
		}
	}
	if acked == 0 {
		t.Fatal("no write was acknowledged")
	}
	if checked, broken, err := s.VerifyAudit(ctx); err != nil || broken != 0 || checked != int64(acked) {
		t.Fatalf("VerifyAudit = %d %d %v, want %d acknowledged entries", checked, broken, err, acked)
	}
}
