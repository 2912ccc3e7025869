//go:build !unix

package datadir

import (
	"errors"
	"os"
)

var errWouldBlock = errors.New("would block")

// Without flock the directory cannot be guarded; fail closed.
func lockFile(*os.File) error {
	return errors.New("locking a data directory is not supported on this platform")
}

func unlockFile(*os.File) error { return nil }
