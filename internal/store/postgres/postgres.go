// Package postgres is the PostgreSQL implementation of store.Store, for
// several issuer nodes sharing one database. It passes the same contract
// suite (storetest) as the SQLite store, and keeps the invariants in the
// database, where every node sees them:
//
//   - Status indexes: UNIQUE (list_id, idx). A node that draws an index
//     another node already gave gets ErrConflict and draws again.
//   - Status transitions: SetStatus changes a row only from the status the
//     caller read, and a trigger refuses any UPDATE that leaves revocation.
//   - The audit log: every write transaction first locks the one row of
//     audit_head, so that entries from every node form one linear hash chain.
//   - Keys, tokens, idempotency keys and status list versions are rows that
//     every node reads afresh.
//
// Writes go through one goroutine per node that commits queued writes
// together (group commit, each in its own savepoint), as the SQLite store
// does: the chain head is locked once per batch instead of once per write.
//
// Open takes a postgres:// URL; a search_path parameter in it selects the
// schema the tables live in (the tests give every store its own schema).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/groupcommit"
	"github.com/agentcert/agentcert/internal/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Limits and defaults of the PostgreSQL store.
const (
	// DefaultConns is the size of the connection pool (the writer uses one).
	DefaultConns = 8
	// DefaultMaxBatch is how many queued writes one group commit takes at most.
	DefaultMaxBatch = 256
	// DefaultConnectTimeout bounds connecting (and the start-up ping) when
	// the URL sets no connect_timeout: an address that never answers fails
	// the start after it instead of after the system's TCP timeout.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultQueue is the capacity of the write queue.
	DefaultQueue = 1024
	// migrationLock is the advisory lock key that serializes migrations of
	// nodes starting together.
	migrationLock = 0x61676e74636572 // "agntcer"
)

// Option configures Open.
type Option func(*options)

type options struct {
	now            func() time.Time
	conns          int
	maxBatch       int
	connectTimeout time.Duration
}

// WithConnectTimeout sets how long connecting may take when the URL sets
// no connect_timeout (default DefaultConnectTimeout).
func WithConnectTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.connectTimeout = d
		}
	}
}

// WithClock sets the clock used for zero times (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithConns sets the size of the connection pool (default DefaultConns,
// at least 2).
func WithConns(n int) Option {
	return func(o *options) {
		if n >= 2 {
			o.conns = n
		}
	}
}

// WithMaxBatch sets how many queued writes one group commit takes at most
// (default DefaultMaxBatch). 1 disables group commit.
func WithMaxBatch(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxBatch = n
		}
	}
}

// Store is the PostgreSQL store. Create it with Open.
type Store struct {
	store.SQLBase // the methods the SQL stores share

	opt  options
	pool *pgxpool.Pool

	q *groupcommit.Queue[*wtx] // the node's single writer

	// commitFault, when set, is the error every commit fails with instead
	// of committing (the batch is rolled back): the contract suite's way to
	// make the database refuse writes, set only by tests (export_test.go).
	commitFault atomic.Pointer[error]
	refused     atomic.Int64 // writes that failed with store.ErrUnwritable
}

var _ store.Store = (*Store)(nil)

// IsURL reports whether s names a PostgreSQL database (postgres:// or
// postgresql://).
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Open connects to the database at url, applies pending migrations (one
// node at a time) and starts the writer.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	o := options{now: time.Now, conns: DefaultConns, maxBatch: DefaultMaxBatch, connectTimeout: DefaultConnectTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if !IsURL(url) {
		return nil, errcode.New(errcode.InvalidInput, "store: postgres: %q is not a postgres:// URL", redact(url))
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errcode.New(errcode.InvalidInput, "store: postgres: bad URL %q", redact(url))
	}
	cfg.MaxConns = int32(o.conns)
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = o.connectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: connect: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, cfg.ConnConfig.ConnectTimeout)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: postgres: connect to %s: %w", redact(url), err)
	}
	if err := migrate(ctx, pool, o.now); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{opt: o, pool: pool}
	s.q = groupcommit.New(groupcommit.Config[*wtx]{
		MaxBatch: o.maxBatch, Queue: DefaultQueue, Commit: s.commitBatch, Closed: store.ErrClosed,
	})
	s.SQLBase = store.SQLBase{DB: pgDB{s}, Run: s.runShared, Now: s.now, Ord: "ord",
		AuditHead: "SELECT seq, hash FROM audit_head"}
	return s, nil
}

// redact drops the password of a URL for messages.
func redact(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = neturl.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Stats counts the writer's work since Open.
type Stats = store.Stats

// Stats reports the writer's counters, for metrics.
func (s *Store) Stats() Stats {
	c, w := s.q.Stats()
	return Stats{Commits: c, Writes: w, Refused: s.refused.Load()}
}

// migrations returns the embedded PostgreSQL migrations in version order.
func migrations() ([]store.Migration, error) { return store.ReadMigrations(migrationFS, "migrations") }

// migrate applies every migration newer than the schema's version, in one
// transaction holding an advisory lock, so that nodes starting together
// migrate once. It refuses a schema newer than this program.
func migrate(ctx context.Context, pool *pgxpool.Pool, now func() time.Time) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: postgres: migrate: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
		return fmt.Errorf("store: postgres: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: postgres: migrate: %w", err)
	}
	var top int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&top); err != nil {
		return fmt.Errorf("store: postgres: migrate: %w", err)
	}
	if n := len(ms); n > 0 && top > ms[n-1].Version {
		return fmt.Errorf("store: postgres: database schema version %d is newer than this program's %d", top, ms[n-1].Version)
	}
	for _, m := range ms {
		if m.Version <= top {
			continue
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("store: postgres: migrate %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			m.Version, m.Name, now().UnixNano()); err != nil {
			return fmt.Errorf("store: postgres: migrate %s: %w", m.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: postgres: migrate: %w", err)
	}
	return nil
}

// Ping checks that the store is open, that the database answers and that
// the writer commits.
func (s *Store) Ping(ctx context.Context) error {
	release, err := s.acquire()
	if err != nil {
		return err
	}
	err = s.pool.Ping(ctx)
	release()
	if err != nil {
		return fmt.Errorf("store: postgres: ping: %w", err)
	}
	return s.write(ctx, func(w *wtx) error {
		var one int
		if err := w.queryRow("SELECT 1").Scan(&one); err != nil {
			return fmt.Errorf("store: postgres: ping: %w", err)
		}
		return nil
	})
}

// Close stops accepting writes, waits until every write already submitted
// has been committed and answered, then closes the pool. Calls after the
// first return nil.
func (s *Store) Close() error {
	if !s.q.Close() {
		return nil
	}
	s.pool.Close()
	return nil
}

// acquire registers a read in flight or fails with ErrClosed.
func (s *Store) acquire() (release func(), err error) {
	return s.q.Acquire()
}

func (s *Store) now() time.Time { return s.opt.now() }

// unwritable classifies the errors with which PostgreSQL refuses a write
// for want of space (class 53: disk_full, insufficient_resources) or because
// the database is read-only (read_only_sql_transaction: a standby, or
// default_transaction_read_only); any other error is returned as is.
func unwritable(err error) error {
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "53100", "53000":
		return store.DiskFull(err)
	case "25006":
		return store.ReadOnly(err)
	}
	return err
}

// mapErr turns uniqueness violations and the refusals of the transition
// trigger into ErrConflict, no rows into ErrNotFound and text PostgreSQL
// cannot hold (a NUL character, bytes that are not UTF-8: the client's
// input) into invalid_input, and wraps.
func mapErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf(format, args...)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("store: %s: %w", msg, store.ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505", "P0001": // unique_violation, raise_exception (our triggers)
			return fmt.Errorf("store: %s: %w (%s)", msg, store.ErrConflict, pe.Message)
		case "22021": // character_not_in_repertoire
			return errcode.Wrap(errcode.InvalidInput, err, "store: %s: text must be UTF-8 without NUL characters", msg)
		}
	}
	return fmt.Errorf("store: %s: %w", msg, err)
}
