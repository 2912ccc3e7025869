// Package datadir guards an agentcert data directory: one process that
// writes to it at a time. `agentcert serve` holds the lock for as long as it
// runs; offline commands that change the directory take it for their own
// short run and refuse a directory a server holds, so that a key rotated
// behind a running server's back, or two servers over one database, cannot
// happen.
package datadir
