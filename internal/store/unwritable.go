package store

import (
	"errors"
	"syscall"

	"github.com/mattn/go-sqlite3"

	"github.com/agentcert/agentcert/errcode"
)

// DiskFull returns cause as a write refused because the storage is out of
// space: an ErrUnwritable, served as 503 storage_unwritable.
func DiskFull(cause error) error {
	return errcode.Wrap(errcode.StorageUnwritable, cause,
		"the store is out of space: writes are refused until space is freed; reads and verification keep working")
}

// ReadOnly returns cause as a write refused because the storage is
// read-only: an ErrUnwritable, served as 503 storage_unwritable.
func ReadOnly(cause error) error {
	return errcode.Wrap(errcode.StorageUnwritable, cause,
		"the store is read-only: writes are refused until it is writable again; reads and verification keep working")
}

// unwritable classifies the SQLite failures that mean the file system under
// the database is full (SQLITE_FULL, ENOSPC, EDQUOT) or read-only
// (SQLITE_READONLY, EROFS); any other error is returned as is. SQLite rolls
// such a transaction back whole, so nothing of it is written.
func unwritable(err error) error {
	var se sqlite3.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch {
	case se.Code == sqlite3.ErrFull, se.SystemErrno == syscall.ENOSPC, se.SystemErrno == syscall.EDQUOT:
		return DiskFull(err)
	case se.Code == sqlite3.ErrReadonly, se.SystemErrno == syscall.EROFS:
		return ReadOnly(err)
	}
	return err
}
