package store

import (
	"math"
	"time"
)

// Limits of the store, in one place.
const (
	// DefaultLimit is the page size of Audit and Credentials when the
	// filter's Limit is zero or negative.
	DefaultLimit = 100
	// MaxLimit caps the page size of Audit and Credentials.
	MaxLimit = 1000
	// MaxAuditDetails is the largest details JSON an audit entry may carry.
	MaxAuditDetails = 64 << 10
	// DefaultMaxBatch is how many queued writes one group commit takes at most.
	DefaultMaxBatch = 256
	// DefaultQueue is the capacity of the write queue.
	DefaultQueue = 1024
	// DefaultReadConns is the size of the read-only connection pool.
	DefaultReadConns = 4
	// MaxListSize is the largest status list size, so that every index
	// fits the 32-bit INTEGER columns of the PostgreSQL schema (SQLite's
	// are wider): both stores refuse a larger list (invalid_input), an
	// index beyond it and find no credential at one.
	MaxListSize = math.MaxInt32
	// DefaultBusyTimeout is how long SQLite waits for a lock held by another
	// process before failing.
	DefaultBusyTimeout = 5 * time.Second
)
