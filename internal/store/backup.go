package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mattn/go-sqlite3"
)

// backupPagesPerStep is how many pages one backup step copies; between
// steps the writer may commit (WAL readers never block it anyway).
const backupPagesPerStep = 1024

// Backup writes a consistent copy of the database to path, a file that must
// not exist yet, with SQLite's online backup API: the store stays open and
// keeps serving while it runs. The copy is written beside path, checked
// with PRAGMA integrity_check, synced and then renamed into place, so path
// either does not exist or holds a complete database (mode 0600).
func (s *SQLite) Backup(ctx context.Context, path string) (err error) {
	release, err := s.acquire()
	if err != nil {
		return err
	}
	defer release()
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if _, err := os.Lstat(abs); err == nil {
		return fmt.Errorf("store: backup: %s already exists", abs)
	}
	tmp, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".partial-*")
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer func() {
		if err != nil {
			os.Remove(tmpName)
			os.Remove(tmpName + "-journal")
		}
	}()
	drv := &sqlite3.SQLiteDriver{}
	dc, err := drv.Open(dsn(tmpName, nil))
	if err != nil {
		return fmt.Errorf("store: backup: open %s: %w", tmpName, err)
	}
	dest := dc.(*sqlite3.SQLiteConn)
	closeDest := func() error { return dest.Close() }
	defer func() {
		if closeDest != nil {
			_ = closeDest()
		}
	}()
	src, err := s.rdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer src.Close()
	err = src.Raw(func(raw any) error {
		sc, ok := raw.(*sqlite3.SQLiteConn)
		if !ok {
			return errors.New("not a go-sqlite3 connection")
		}
		b, err := dest.Backup("main", sc, "main")
		if err != nil {
			return err
		}
		for {
			if err := ctx.Err(); err != nil {
				b.Close()
				return err
			}
			done, err := b.Step(backupPagesPerStep)
			if err != nil {
				b.Close()
				return err
			}
			if done {
				return b.Finish()
			}
		}
	})
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	rows, err := dest.Query("PRAGMA integrity_check", nil)
	if err != nil {
		return fmt.Errorf("store: backup: integrity check: %w", err)
	}
	vals := make([]driver.Value, 1)
	if err := rows.Next(vals); err != nil {
		rows.Close()
		return fmt.Errorf("store: backup: integrity check: %w", err)
	}
	rows.Close()
	if v, _ := vals[0].(string); v != "ok" {
		return fmt.Errorf("store: backup: integrity check of the copy: %v", vals[0])
	}
	cerr := closeDest()
	closeDest = nil
	if cerr != nil {
		return fmt.Errorf("store: backup: close %s: %w", tmpName, cerr)
	}
	if err := syncFile(tmpName); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := os.Link(tmpName, abs); err != nil { // never replaces an existing file
		return fmt.Errorf("store: backup: %w", err)
	}
	_ = os.Remove(tmpName)
	if err := syncFile(filepath.Dir(abs)); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
