// Package store keeps the issuer service's state: signing keys, credential
// records, API tokens, status lists, idempotency keys and a hash-chained
// audit log.
//
// Store is the interface the issuer and the HTTP server use; SQLite, opened
// with Open, is its implementation. Every implementation must pass the
// shared contract suite in package storetest, which also documents the
// contract: all methods are safe for concurrent use, missing records are
// ErrNotFound, uniqueness and state conflicts are ErrConflict (both are
// *errcode.Error values, so errcode.CodeOf classifies them), and a write
// that returned nil is durable.
//
//	s, err := store.Open(ctx, "/var/lib/agentcert/issuer.db")
//	...
//	defer s.Close()
//	err = s.InsertCredential(ctx, rec, idem, &store.AuditEntry{Actor: tokenID, Action: "credential.issue", Target: rec.ID})
//
// # Durability and the single writer
//
// The database runs in WAL mode with synchronous=FULL, foreign keys on and a
// busy timeout; the file is created with mode 0600 (SQLite gives the -wal
// and -shm files the same mode). Schema migrations are embedded
// (migrations/NNNN_name.sql) and applied in order at Open, each in a
// transaction that also records it in schema_migrations; a database written
// by a newer schema is refused.
//
// All writes go through one goroutine that owns the only write connection.
// It takes every queued write (up to DefaultMaxBatch), runs each inside its
// own SAVEPOINT of one transaction, so that one failing write is rolled back
// alone, commits once and only then answers the callers: a call returns nil
// only after the fsync that makes it durable, and many concurrent callers
// share that fsync (group commit). Reads use a separate pool of read-only
// connections, which WAL lets run alongside the writer; a read issued after a
// write returned sees it. Close drains the queue before closing.
//
// # Audit chain
//
// A state-changing method takes an *AuditEntry (nil for none), appended in
// the same savepoint as the change it records: a change is never written
// without its entry, nor an entry without its change. Entries are numbered
// from 1 and chained:
//
//	hash = SHA-256(prev_hash || u64(seq) || f(time) || f(actor) || f(action) || f(target) || f(details))
//
// with u64 an 8-byte big-endian integer, f(x) a 4-byte big-endian length
// followed by x, time in UTC formatted as RFC 3339 with nanoseconds, and
// details the JSON as stored: compacted, with <, >, & and U+2028/U+2029
// escaped as encoding/json.Marshal emits them, so that an API that re-encodes
// entries hands out the hashed bytes (empty details are stored as {}). The first
// entry's prev_hash is 32 zero bytes. ChainHash computes it; VerifyAudit
// recomputes the whole chain and names the first entry whose seq, prev_hash
// or hash does not match. An edit, insertion or deletion inside the log is
// detected; removing entries from its end is not (anchor the latest hash
// elsewhere for that).
//
// # Status lists
//
// A credential's (list, index) pair is UNIQUE: an index is never given to
// two credentials even if the allocator above errs. Status values are 0
// valid, 1 revoked, 2 suspended. Every status change bumps the list's
// Version, which readers use as an ETag; ListEntries returns the version and
// the non-zero entries from one snapshot. Transitions are enforced here, where
// the data is: SetStatus names the status it changes from and is refused
// (ErrConflict) when the record has moved on or records.TransitionAllowed
// forbids the move, and a trigger (migration 0002) refuses any UPDATE that
// takes a credential out of revocation, whoever sends it.
//
// Times are stored as nanoseconds since the Unix epoch and returned in UTC.
//
// # One logic, two SQL stores
//
// The SQLite store and the PostgreSQL one (package postgres) embed SQLBase,
// which implements what they do alike: each statement is written once with
// ? placeholders, each record family scanned by one function. A store
// supplies its read pool (SQLDB) and its writes (SQLTx): how a statement
// runs, how the driver's errors become ErrNotFound and ErrConflict, and
// whether a write locks the rows it reads (several PostgreSQL nodes write
// to one database; a SQLite store has one writer).
package store
