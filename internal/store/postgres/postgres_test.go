package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/store"
	"github.com/agentcert/agentcert/internal/store/postgres"
	"github.com/agentcert/agentcert/internal/store/storetest"
	"github.com/agentcert/agentcert/internal/testsvc"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// open opens a store on its own schema of db.
func open(t *testing.T, db string, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), testsvc.Schema(t, db), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// TestContract runs the store contract suite, unchanged, on PostgreSQL: a
// fresh database for the run, a fresh schema for every store.
func TestContract(t *testing.T) {
	db := testsvc.Postgres(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, db) })
}

// TestContractNoBatching runs it again with group commit off.
func TestContractNoBatching(t *testing.T) {
	db := testsvc.Postgres(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, db, postgres.WithMaxBatch(1)) })
}

// faultyStore fails every commit with the error PostgreSQL reports when it
// is out of disk space (53100 disk_full) or read-only (25006
// read_only_sql_transaction).
type faultyStore struct{ *postgres.Store }

func (f faultyStore) BreakWrites(full bool) {
	err := &pgconn.PgError{Severity: "ERROR", Code: "25006", Message: "cannot execute COMMIT in a read-only transaction"}
	if full {
		err = &pgconn.PgError{Severity: "ERROR", Code: "53100", Message: "could not extend file: No space left on device"}
	}
	postgres.SetCommitFault(f.Store, err)
}

func (f faultyStore) HealWrites() { postgres.SetCommitFault(f.Store, nil) }

func TestContractUnwritable(t *testing.T) {
	db := testsvc.Postgres(t)
	storetest.RunUnwritable(t, func(t *testing.T) storetest.Breakable { return faultyStore{open(t, db)} })
}

func twoNodes(t *testing.T) (a, b *postgres.Store, url string) {
	t.Helper()
	url = testsvc.Schema(t, testsvc.Postgres(t))
	// Both nodes start at once: the migration runs once.
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, 2)
	errs := make([]error, 2)
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = postgres.Open(t.Context(), url)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open node %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	return stores[0], stores[1], url
}

func cred(id, list string, idx int) store.Credential {
	return store.Credential{ID: id, Subject: "did:key:z" + id, ListID: list, Idx: idx, JWTHash: []byte{1}, TokenID: "tok"}
}

// TestTwoNodesOneDatabase shows the invariants hold across two stores on one
// database: no index twice, one linear audit chain, no un-revoking from the
// other node, and keys, tokens and idempotency keys seen by both.
func TestTwoNodesOneDatabase(t *testing.T) {
	a, b, url := twoNodes(t)
	ctx := t.Context()
	if err := a.CreateStatusList(ctx, store.StatusList{ID: "L", Size: 256, Bits: 2}, &store.AuditEntry{Action: "statuslist.create"}); err != nil {
		t.Fatal(err)
	}

	// Both nodes draw every index of the list, racing each other.
	const n = 256
	var wg sync.WaitGroup
	var okA, okB, conflicts atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node, ok := a, &okA
			if w%2 == 1 {
				node, ok = b, &okB
			}
			for j := w / 2; j < n; j += 4 {
				// A draws from the bottom up, B from the top down, so each
				// wins some indexes however the goroutines are scheduled.
				i := j
				if w%2 == 1 {
					i = n - 1 - j
				}
				id := fmt.Sprintf("c-%d-%d", i, w%2)
				err := node.InsertCredential(ctx, cred(id, "L", i), nil, &store.AuditEntry{Action: "credential.issue", Target: id})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, store.ErrConflict):
					conflicts.Add(1)
				default:
					t.Errorf("insert %s: %v", id, err)
				}
			}
		}()
	}
	wg.Wait()
	if okA.Load()+okB.Load() != n || conflicts.Load() != n {
		t.Fatalf("%d+%d inserts and %d conflicts, want %d and %d", okA.Load(), okB.Load(), conflicts.Load(), n, n)
	}
	if okA.Load() == 0 || okB.Load() == 0 {
		t.Fatalf("one node inserted nothing: %d, %d", okA.Load(), okB.Load())
	}
	idx, err := b.UsedIndexes(ctx, "L")
	if err != nil || len(idx) != n {
		t.Fatalf("UsedIndexes: %d, %v", len(idx), err)
	}
	if l, _ := a.StatusList(ctx, "L"); l.Used != n {
		t.Fatalf("Used %d, want %d", l.Used, n)
	}
	for _, node := range []*postgres.Store{a, b} {
		checked, broken, err := node.VerifyAudit(ctx)
		if err != nil || broken != 0 || checked != n+1 {
			t.Fatalf("VerifyAudit = %d, %d, %v; want %d entries in one chain", checked, broken, err, n+1)
		}
	}

	// Revoked on A: B cannot reinstate or suspend it, through the store or
	// with a plain UPDATE.
	c0 := fmt.Sprintf("c-%d-%d", 0, 0)
	if _, err := a.Credential(ctx, c0); err != nil {
		c0 = "c-0-1"
	}
	if _, err := a.SetStatus(ctx, c0, store.StatusValid, store.StatusChange{Value: store.StatusRevoked}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SetStatus(ctx, c0, store.StatusValid, store.StatusChange{Value: store.StatusSuspended}, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("B suspended a credential A revoked: %v", err)
	}
	v, entries, err := b.ListEntries(ctx, "L")
	if err != nil || entries[0] != store.StatusRevoked {
		t.Fatalf("B's ListEntries after A's revocation: %d %v %v", v, entries, err)
	}
	raw, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(context.Background())
	if _, err := raw.Exec(ctx, "UPDATE credentials SET status = 0 WHERE id = $1", c0); err == nil {
		t.Fatal("the database let a plain UPDATE un-revoke a credential")
	}

	// Keys, tokens and idempotency keys written on one node are read on the other.
	k := store.Key{KID: "did:web:x#k1", Alg: "ES256", PublicJWK: []byte(`{}`), PrivateEnc: []byte{1}, Active: true}
	if err := a.PutKey(ctx, k, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := b.ActiveKey(ctx); err != nil || got.KID != k.KID {
		t.Fatalf("B's active key %q, %v", got.KID, err)
	}
	k2 := store.Key{KID: "did:web:x#k2", Alg: "ES256", PublicJWK: []byte(`{}`), PrivateEnc: []byte{1}, Active: true}
	if err := b.PutKey(ctx, k2, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := a.ActiveKey(ctx); err != nil || got.KID != k2.KID {
		t.Fatalf("A's active key after B rotated: %q, %v", got.KID, err)
	}
	if err := a.CreateToken(ctx, store.Token{ID: "t1", Role: "issuer", Hash: []byte("h1")}, nil); err != nil {
		t.Fatal(err)
	}
	if tok, err := b.TokenByHash(ctx, []byte("h1")); err != nil || tok.ID != "t1" {
		t.Fatalf("B's token: %+v, %v", tok, err)
	}
	if err := b.RevokeToken(ctx, "t1", time.Time{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.RevokeToken(ctx, "t1", time.Time{}, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("A revoked a token B revoked: %v", err)
	}
	if err := a.CreateStatusList(ctx, store.StatusList{ID: "M", Size: 8, Bits: 2}, nil); err != nil {
		t.Fatal(err)
	}
	idem := &store.Idempotency{TokenID: "t1", Key: "k", RequestHash: []byte("r")}
	if err := a.InsertCredential(ctx, cred("i1", "M", 1), idem, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.InsertCredential(ctx, cred("i2", "M", 2), idem, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("B reused A's idempotency key: %v", err)
	}
	if got, err := b.Idempotent(ctx, "t1", "k"); err != nil || got.CredentialID != "i1" {
		t.Fatalf("B's idempotency record: %+v, %v", got, err)
	}
}

// TestAuditHeadTamper: a chain whose head row names an entry the log does
// not hold is reported broken.
func TestAuditHeadTamper(t *testing.T) {
	a, _, url := twoNodes(t)
	ctx := t.Context()
	for range 3 {
		if _, err := a.AppendAudit(ctx, store.AuditEntry{Action: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(context.Background())
	if _, err := raw.Exec(ctx, "DELETE FROM audit_log WHERE seq = 3"); err != nil {
		t.Fatal(err)
	}
	checked, broken, err := a.VerifyAudit(ctx)
	if err != nil || checked != 2 || broken != 3 {
		t.Fatalf("VerifyAudit after deleting the last entry = %d, %d, %v; want 2, 3", checked, broken, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	ctx := t.Context()
	for _, u := range []string{"", "sqlite:///x", "mysql://x"} {
		if _, err := postgres.Open(ctx, u); errcode.CodeOf(err) != errcode.InvalidInput {
			t.Errorf("Open(%q): %v, want invalid_input", u, err)
		}
	}
	// Nothing listens on port 1.
	_, err := postgres.Open(ctx, "postgres://postgres:secret@127.0.0.1:1/x?connect_timeout=2")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("the password leaked into %v", err)
	}
}

func TestOpenRedactsPassword(t *testing.T) {
	for _, u := range []string{"postgres://u:s3cret@[::1/x", "postgres://u:s3cret@127.0.0.1:1/x?connect_timeout=1", "postgres://127.0.0.1:1/x?password=s3cret&connect_timeout=1"} {
		_, err := postgres.Open(t.Context(), u)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q): %v", u, err)
		}
	}
}

// TestOID4VCIContract runs the OpenID4VCI state's contract suite on
// PostgreSQL.
func TestOID4VCIContract(t *testing.T) {
	db := testsvc.Postgres(t)
	storetest.RunOID4VCI(t, func(t *testing.T) storetest.OID4VCIStore { return open(t, db) })
}

// TestMigrations: reopening applies nothing again, and a schema newer than
// this program is refused.
func TestMigrations(t *testing.T) {
	url := testsvc.Schema(t, testsvc.Postgres(t))
	for range 2 {
		s, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	raw, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close(context.Background())
	files, _ := filepath.Glob("migrations/*.sql")
	var n int
	if err := raw.QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != len(files) || n == 0 {
		t.Fatalf("schema_migrations rows %d, %v; want one per migration (%d)", n, err, len(files))
	}
	if _, err := raw.Exec(t.Context(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(t.Context(), url); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

// TestOpenGivesUpOnASilentServer: a server that accepts the connection and
// never answers (a hung host, a black-holing proxy) fails Open within the
// connect timeout instead of holding the start for the system's TCP
// timeout; a URL's own connect_timeout wins over the option.
func TestOpenGivesUpOnASilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	url := "postgres://agentcert@" + ln.Addr().String() + "/x?sslmode=disable"
	for name, tc := range map[string]struct {
		url  string
		opts []postgres.Option
	}{
		"the option":            {url, []postgres.Option{postgres.WithConnectTimeout(300 * time.Millisecond)}},
		"the URL's own timeout": {url + "&connect_timeout=1", []postgres.Option{postgres.WithConnectTimeout(time.Hour)}},
	} {
		// The caller's own deadline is far off: Open must give up first.
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		s, err := postgres.Open(ctx, tc.url, tc.opts...)
		caller := ctx.Err()
		cancel()
		if err == nil {
			s.Close()
			t.Fatalf("%s: opened a silent server", name)
		}
		if caller != nil {
			t.Fatalf("%s: Open waited for the caller's deadline (%v): it has no connect timeout of its own", name, err)
		}
	}
}
