package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFile is the lock's name inside the data directory.
const LockFile = "agentcert.lock"

// ErrLocked is returned (wrapped in a *LockedError) when another process
// holds the directory.
var ErrLocked = errors.New("data directory in use")

// LockedError names the directory and, when it is known, the process that
// holds it.
type LockedError struct {
	Dir string
	PID int // 0 when unknown
}

func (e *LockedError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("data directory %s is in use by process %d", e.Dir, e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by another process", e.Dir)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// Lock is an exclusive lock on a data directory, held until Release or the
// end of the process (the kernel drops it even after kill -9).
type Lock struct {
	f *os.File
}

// Acquire takes the exclusive lock on dir, which must exist. It never
// waits: a held lock is reported at once as a *LockedError.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, &LockedError{Dir: dir, PID: holder(path)}
		}
		return nil, fmt.Errorf("data directory lock %s: %w", path, err)
	}
	// Record who holds it, for the message others get.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// Release drops the lock; it may be called more than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlockFile(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// holder reads the pid the holder wrote, 0 when unreadable.
func holder(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
