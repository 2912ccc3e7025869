package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/agentcert/agentcert/errcode"
	"github.com/agentcert/agentcert/internal/groupcommit"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Option configures Open.
type Option func(*options)

type options struct {
	now       func() time.Time
	readConns int
	maxBatch  int
	queue     int
}

// WithClock sets the clock used for zero times (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithReadConns sets the size of the read-only connection pool (default
// DefaultReadConns).
func WithReadConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.readConns = n
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

// SQLite is the SQLite implementation of Store. Create it with Open.
type SQLite struct {
	SQLBase // the methods the SQL stores share

	opt  options
	path string
	wdb  *sql.DB // exactly one connection, used only by the writer goroutine
	rdb  *sql.DB // read-only pool

	q *groupcommit.Queue[*wtx] // the single writer; its goroutine owns wdb

	// commitFault, when set, is the error every commit fails with instead
	// of committing (the batch is rolled back): the contract suite's way to
	// make the storage refuse writes, set only by tests (export_test.go).
	commitFault atomic.Pointer[error]
	refused     atomic.Int64 // writes that failed with ErrUnwritable

	// Owned by the writer goroutine: statements prepared on the write
	// connection, and those seen since the last batch but not yet prepared.
	stmts      map[string]*sql.Stmt
	unprepared map[string]struct{}
}

// Stats counts the writer's work since Open.
type Stats struct {
	Commits int64 // group commits that succeeded
	Writes  int64 // writes they made durable (Writes/Commits is the mean batch)
	// Refused counts the writes refused because the storage was full or
	// read-only (ErrUnwritable).
	Refused int64
}

// Stats reports the writer's counters, for metrics.
func (s *SQLite) Stats() Stats {
	c, w := s.q.Stats()
	return Stats{Commits: c, Writes: w, Refused: s.refused.Load()}
}

var _ Store = (*SQLite)(nil)

// Open opens (creating it when missing, mode 0600) the SQLite database at
// path, applies pending migrations and starts the writer. path must name a
// file on a local file system (WAL needs shared memory).
func Open(ctx context.Context, path string, opts ...Option) (*SQLite, error) {
	o := options{
		now:       time.Now,
		readConns: DefaultReadConns,
		maxBatch:  DefaultMaxBatch,
		queue:     DefaultQueue,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, errcode.New(errcode.InvalidInput, "store: open: path must name a database file, got %q", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	// SQLite creates the -wal and -shm files with the database file's mode.
	if err := os.Chmod(abs, 0o600); err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}

	busy := strconv.FormatInt(DefaultBusyTimeout.Milliseconds(), 10)
	w := url.Values{}
	w.Set("_busy_timeout", busy)
	w.Set("_foreign_keys", "on")
	w.Set("_journal_mode", "WAL")
	w.Set("_synchronous", "FULL")
	w.Set("_txlock", "immediate")
	w.Set("_stmt_cache_size", "64")
	wdb := sql.OpenDB(newConnector(dsn(abs, w)))
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	s := &SQLite{opt: o, path: abs, wdb: wdb, stmts: map[string]*sql.Stmt{}, unprepared: map[string]struct{}{}}
	if err := s.checkWAL(ctx); err != nil {
		wdb.Close()
		return nil, err
	}
	if err := migrate(ctx, wdb, o.now); err != nil {
		wdb.Close()
		return nil, err
	}

	r := url.Values{}
	r.Set("mode", "ro")
	r.Set("_busy_timeout", busy)
	r.Set("_foreign_keys", "on")
	r.Set("_stmt_cache_size", "32")
	rdb := sql.OpenDB(newConnector(dsn(abs, r)))
	rdb.SetMaxOpenConns(o.readConns)
	rdb.SetMaxIdleConns(o.readConns)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(0)
	if err := rdb.PingContext(ctx); err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("store: open: read pool: %w", err)
	}
	s.rdb = rdb
	s.q = groupcommit.New(groupcommit.Config[*wtx]{
		MaxBatch: o.maxBatch, Queue: o.queue, Commit: s.commitBatch,
		AfterBatch: s.prepareSeen, Closed: ErrClosed,
	})
	s.SQLBase = SQLBase{DB: sqliteDB{s}, Run: s.runShared, Now: s.now, Ord: "rowid"}
	return s, nil
}

// connector opens go-sqlite3 connections without registering a driver name
// (no package state) and sets what the DSN cannot: temp_store=MEMORY keeps
// the savepoint sub-journals of group commit in memory instead of temp files.
type connector struct {
	dsn string
	drv *sqlite3.SQLiteDriver
}

func newConnector(dsn string) connector {
	return connector{dsn: dsn, drv: &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA temp_store = MEMORY", nil)
		return err
	}}}
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.drv }

// dsn builds a go-sqlite3 URI for an absolute path.
func dsn(abs string, params url.Values) string {
	r := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23")
	return "file:" + r.Replace(filepath.ToSlash(abs)) + "?" + params.Encode()
}

func (s *SQLite) checkWAL(ctx context.Context) error {
	var mode string
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("store: open: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store: open: journal_mode is %q, want wal", mode)
	}
	var fk int
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("store: open: %w", err)
	}
	if fk != 1 {
		return errors.New("store: open: foreign keys are off")
	}
	return nil
}

// migrations returns the embedded SQLite migrations in version order.
func migrations() ([]Migration, error) { return ReadMigrations(migrationFS, "migrations") }

// migrate applies every embedded migration newer than the database's
// version, each in its own transaction together with its schema_migrations
// row. It refuses a database newer than this code.
func migrate(ctx context.Context, db *sql.DB, now func() time.Time) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	for _, m := range ms {
		if err := applyMigration(ctx, db, m, now); err != nil {
			return err
		}
	}
	var top int
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&top); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	if n := len(ms); n > 0 && top > ms[n-1].Version {
		return fmt.Errorf("store: migrate: database schema version %d is newer than this program's %d", top, ms[n-1].Version)
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m Migration, now func() time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate %s: %w", m.Name, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(&n); err != nil {
		return fmt.Errorf("store: migrate %s: %w", m.Name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("store: migrate %s: %w", m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.Version, m.Name, now().UnixNano()); err != nil {
		return fmt.Errorf("store: migrate %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate %s: %w", m.Name, err)
	}
	return nil
}

// Ping checks that the store is open and that both the read pool and the
// writer answer.
func (s *SQLite) Ping(ctx context.Context) error {
	release, err := s.acquire()
	if err != nil {
		return err
	}
	err = s.rdb.PingContext(ctx)
	release()
	if err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return s.write(ctx, func(w *wtx) error {
		var one int
		if err := w.queryRow("SELECT 1").Scan(&one); err != nil {
			return fmt.Errorf("store: ping: %w", err)
		}
		return nil
	})
}

// Close stops accepting writes, waits until every write already submitted
// has been committed and answered, then closes the database. Calls after the
// first return nil.
func (s *SQLite) Close() error {
	if !s.q.Close() {
		return nil
	}
	for _, st := range s.stmts {
		_ = st.Close()
	}
	rerr := s.rdb.Close()
	werr := s.wdb.Close()
	if err := errors.Join(rerr, werr); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// acquire registers a read in flight (Close waits for it) or fails with
// ErrClosed.
func (s *SQLite) acquire() (release func(), err error) {
	return s.q.Acquire()
}

// now returns the clock's time.
func (s *SQLite) now() time.Time { return s.opt.now() }

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// mapErr turns SQLite uniqueness violations and the refusals of the
// status-transition trigger into ErrConflict and
// sql.ErrNoRows into ErrNotFound, and wraps with context.
func mapErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf(format, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: %s: %w", msg, ErrNotFound)
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.ExtendedCode {
		case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey, sqlite3.ErrConstraintTrigger:
			return fmt.Errorf("store: %s: %w (%v)", msg, ErrConflict, se)
		}
	}
	return fmt.Errorf("store: %s: %w", msg, err)
}
