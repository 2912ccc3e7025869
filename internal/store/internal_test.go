package store

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

func openInternal(t *testing.T, opts ...Option) *SQLite {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "issuer.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPragmas(t *testing.T) {
	s := openInternal(t)
	for _, tc := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "5000"},
		{"temp_store", "2"}, // MEMORY
	} {
		var got string
		if err := s.wdb.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("writer PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
	// The read pool cannot write.
	if _, err := s.rdb.ExecContext(t.Context(), "INSERT INTO tokens (id, name, role, hash, created_at) VALUES ('x','x','x',x'01',0)"); err == nil {
		t.Fatal("read pool accepted a write")
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	s := openInternal(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 || ms[0].Name != "0001_init.sql" {
		t.Fatalf("migrations = %+v", ms)
	}
	for range 2 {
		if err := migrate(t.Context(), s.wdb, s.now); err != nil {
			t.Fatalf("migrate again: %v", err)
		}
	}
	var n, top int
	if err := s.rdb.QueryRowContext(t.Context(), "SELECT COUNT(*), MAX(version) FROM schema_migrations").Scan(&n, &top); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || top != ms[len(ms)-1].Version {
		t.Fatalf("schema_migrations has %d rows up to %d, want %d up to %d", n, top, len(ms), ms[len(ms)-1].Version)
	}
}

// TestBatchIsolation runs one group commit in which the middle op fails:
// the others are committed, the failed one leaves nothing behind.
func TestBatchIsolation(t *testing.T) {
	s := openInternal(t)
	insert := func(id string) func(*wtx) error {
		return func(w *wtx) error {
			if _, err := w.exec("INSERT INTO tokens (id, name, role, hash, created_at) VALUES (?, '', 'issuer', ?, 0)", id, []byte(id)); err != nil {
				return err
			}
			return w.audit(&AuditEntry{Action: "token.create", Target: id})
		}
	}
	boom := errors.New("boom")
	failing := func(w *wtx) error {
		if err := insert("t-fail")(w); err != nil {
			return err
		}
		return boom // after its own writes: they must be rolled back
	}
	dup := insert("t1") // unique violation inside the batch
	fns := []func(*wtx) error{insert("t1"), failing, dup, insert("t2")}
	errs := make([]error, len(fns))
	if err := s.commitBatch(fns, errs); err != nil {
		t.Fatalf("commitBatch: %v", err)
	}

	want := []error{nil, boom, ErrConflict, nil}
	for i, err := range errs {
		if (want[i] == nil) != (err == nil) || (want[i] != nil && !errors.Is(err, want[i]) && !errors.Is(mapErr(err, "x"), want[i])) {
			t.Errorf("op %d: %v, want %v", i, err, want[i])
		}
	}
	rows, err := s.rdb.QueryContext(t.Context(), "SELECT id FROM tokens ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	if len(ids) != 2 || ids[0] != "t1" || ids[1] != "t2" {
		t.Fatalf("tokens after batch: %v", ids)
	}
	if checked, broken, err := s.VerifyAudit(t.Context()); err != nil || checked != 2 || broken != 0 {
		t.Fatalf("VerifyAudit = %d %d %v", checked, broken, err)
	}
}

func TestMapErr(t *testing.T) {
	if err := mapErr(sql.ErrNoRows, "x %d", 1); !errors.Is(err, ErrNotFound) || err.Error() != "store: x 1: not_found: store: not found" {
		t.Fatalf("mapErr(ErrNoRows) = %v", err)
	}
	if mapErr(nil, "x") != nil {
		t.Fatal("mapErr(nil) != nil")
	}
	other := errors.New("disk on fire")
	if err := mapErr(other, "x"); !errors.Is(err, other) || errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		t.Fatalf("mapErr(other) = %v", err)
	}
}

// TestWriterPreparesRepeatedStatements: statements the writer runs are
// prepared once between batches and reused, and a failing op still rolls
// back to its savepoint through the prepared statements.
func TestWriterPreparesRepeatedStatements(t *testing.T) {
	s := openInternal(t)
	ctx := t.Context()
	for i := 0; i < 3; i++ {
		if _, err := s.AppendAudit(ctx, AuditEntry{Actor: "t", Action: "test", Target: "x", Details: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	// The writer prepares after a batch; one more write makes sure the
	// preparation of the previous batches has run.
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	// The statement cache belongs to the writer goroutine: read it there.
	var n int
	var savepoint bool
	if err := s.write(ctx, func(w *wtx) error {
		n = len(w.s.stmts)
		_, savepoint = w.s.stmts["SAVEPOINT op"]
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n < 3 || !savepoint {
		t.Fatalf("%d statements prepared (SAVEPOINT among them: %v), want at least SAVEPOINT, RELEASE and the audit insert", n, savepoint)
	}
	// A failing op inside a batch rolls back to its savepoint (prepared) and
	// leaves the others committed.
	if err := s.write(ctx, func(w *wtx) error {
		if _, err := w.exec("INSERT INTO audit_log (seq) VALUES (-1)"); err == nil {
			return errors.New("a CHECK violation was accepted")
		}
		return errors.New("rolled back")
	}); err == nil || err.Error() != "rolled back" {
		t.Fatalf("failing op: %v", err)
	}
	checked, broken, err := s.VerifyAudit(ctx)
	if err != nil || broken != 0 || checked != 3 {
		t.Fatalf("audit after a rolled-back op: %d checked, broken at %d, %v", checked, broken, err)
	}
}

// TestDatabaseRefusesUnrevoke bypasses the Go checks: an UPDATE sent
// straight to the database cannot move a revoked credential, so another
// process writing the same file cannot break "revocation is final".
func TestDatabaseRefusesUnrevoke(t *testing.T) {
	s := openInternal(t)
	ctx := t.Context()
	if err := s.CreateStatusList(ctx, StatusList{ID: "L", Size: 8, Bits: 2}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.InsertCredential(ctx, Credential{ID: "c", ListID: "L", Idx: 1, JWTHash: []byte{1}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetStatus(ctx, "c", StatusValid, StatusChange{Value: StatusRevoked}, nil); err != nil {
		t.Fatal(err)
	}
	for _, to := range []uint8{StatusValid, StatusSuspended} {
		_, err := s.wdb.ExecContext(ctx, "UPDATE credentials SET status = ? WHERE id = 'c'", to)
		if err == nil {
			t.Fatalf("the database moved a revoked credential to %d", to)
		}
		if !errors.Is(mapErr(err, "raw update"), ErrConflict) {
			t.Fatalf("refusal %v is not a conflict", err)
		}
	}
	// Changing the other fields of a revoked record stays possible.
	if _, err := s.wdb.ExecContext(ctx, "UPDATE credentials SET status = 1, status_note = 'n' WHERE id = 'c'"); err != nil {
		t.Fatalf("update keeping revoked refused: %v", err)
	}
}

// TestAuditHeadPerBatch: one batch appends several entries (the head read
// once, then carried from op to op, and put back when an op is rolled
// back), and a second writer on the same file (as the CLI is) appends
// between batches: every entry is chained onto the one before it.
func TestAuditHeadPerBatch(t *testing.T) {
	s := openInternal(t)
	ctx := t.Context()
	appendOne := func(target string) func(*wtx) error {
		return func(w *wtx) error { return w.audit(&AuditEntry{Action: "test", Target: target}) }
	}
	boom := errors.New("boom")
	rolledBack := func(w *wtx) error {
		if err := appendOne("gone")(w); err != nil {
			return err
		}
		return boom
	}
	fns := []func(*wtx) error{appendOne("a"), appendOne("b"), rolledBack, appendOne("c")}
	errs := make([]error, len(fns))
	if err := s.commitBatch(fns, errs); err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], boom) || errs[3] != nil {
		t.Fatalf("errs = %v", errs)
	}

	other, err := Open(ctx, s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for i, st := range []*SQLite{other, s, other, s} {
		e, err := st.AppendAudit(ctx, AuditEntry{Action: "test", Target: "writer"})
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(4 + i); e.Seq != want {
			t.Fatalf("append %d: seq %d, want %d", i, e.Seq, want)
		}
	}
	checked, broken, err := s.VerifyAudit(ctx)
	if err != nil || broken != 0 || checked != 7 {
		t.Fatalf("VerifyAudit = %d checked, broken at %d, %v; want 7, 0", checked, broken, err)
	}
	got, err := s.Audit(ctx, AuditFilter{Target: "gone"})
	if err != nil || len(got) != 0 {
		t.Fatalf("the rolled-back op's entry: %v, %v", got, err)
	}
}
