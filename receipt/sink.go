package receipt

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Record is one entry of a counterparty's action log: a receipt and its
// claims, which a verifier has just signed.
type Record struct {
	Receipt string `json:"receipt"`
	Claims  Claims `json:"claims"`
}

// Sink receives every receipt a verifier makes. Put returns only once the
// record is durable; implementations are safe for concurrent use.
type Sink interface {
	Put(ctx context.Context, r Record) error
}

// Filter selects records. Empty fields do not filter; Since is inclusive.
type Filter struct {
	Subject, Principal, Action, Result string
	Since                              time.Time
}

// Match reports whether the record passes f. A subject matches the agent
// or any subject of its chain.
func (f Filter) Match(c *Claims) bool {
	if f.Subject != "" && c.Subject != f.Subject {
		found := false
		for _, s := range c.Chain {
			found = found || s == f.Subject
		}
		if !found {
			return false
		}
	}
	return (f.Principal == "" || c.Principal == f.Principal) &&
		(f.Action == "" || c.Action == f.Action) &&
		(f.Result == "" || c.Result == f.Result) &&
		(f.Since.IsZero() || !c.Time().Before(f.Since.Truncate(time.Second)))
}

// FileSink appends records to a JSON-lines file, one record a line, and
// syncs each before Put returns. When a line would take the file past
// MaxBytes, the file is first rotated: path becomes path.1, path.1 becomes
// path.2 and so on; the oldest beyond MaxFiles is removed. Files are 0600.
type FileSink struct {
	path     string
	maxBytes int64
	maxFiles int

	mu   sync.Mutex
	f    *os.File
	size int64 // bytes of whole lines in f
	// torn is set when a failed Put could not cut its bytes off again:
	// the next Put removes them before it writes.
	torn bool
	// syncDir makes the names in a directory durable (syncDirectory;
	// tests count its calls).
	syncDir func(dir string) error
}

// Default rotation.
const (
	DefaultMaxBytes = 64 << 20
	DefaultMaxFiles = 10
)

// OpenFileSink opens (creating) the log at path. maxBytes and maxFiles
// default to DefaultMaxBytes and DefaultMaxFiles when not positive. A line
// left incomplete by a crash is closed off so that the next record starts
// on its own line.
func OpenFileSink(path string, maxBytes int64, maxFiles int) (*FileSink, error) {
	return openFileSink(path, maxBytes, maxFiles, syncDirectory)
}

func openFileSink(path string, maxBytes int64, maxFiles int, syncDir func(string) error) (*FileSink, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if maxFiles <= 0 {
		maxFiles = DefaultMaxFiles
	}
	s := &FileSink{path: path, maxBytes: maxBytes, maxFiles: maxFiles, syncDir: syncDir}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *FileSink) open() error {
	f, size, err := openLog(s.path, s.syncDir)
	if err != nil {
		return err
	}
	s.f, s.size = f, size
	return nil
}

// openLog opens (creating) the log file at path for appending and returns
// it with its size, after closing off a line left incomplete by a crash.
func openLog(path string, syncDir func(string) error) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("receipt log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("receipt log: %w", err)
	}
	// The file's name (new, or just renamed to by a rotation) must be as
	// durable as the lines synced into it.
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("receipt log: sync directory: %w", err)
	}
	size := st.Size()
	if size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("receipt log: %w", err)
		}
		if last[0] != '\n' {
			if _, err := f.Write([]byte("\n")); err != nil {
				f.Close()
				return nil, 0, fmt.Errorf("receipt log: %w", err)
			}
			size++
		}
	}
	return f, size, nil
}

// Put appends r and syncs the file.
func (s *FileSink) Put(ctx context.Context, r Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("receipt log: encode: %w", err)
	}
	line = append(line, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("receipt log: closed")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.torn {
		if err := s.f.Truncate(s.size); err != nil {
			return fmt.Errorf("receipt log: cut a failed write: %w", err)
		}
		s.torn = false
	}
	if s.size > 0 && s.size+int64(len(line)) > s.maxBytes {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	if _, err := s.f.Write(line); err != nil {
		s.unwrite()
		return fmt.Errorf("receipt log: write: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		s.unwrite()
		return fmt.Errorf("receipt log: sync: %w", err)
	}
	s.size += int64(len(line))
	return nil
}

// unwrite cuts off what a failed Put wrote (part of a line when the disk
// is full), so that the next record starts on a line of its own and a
// record whose Put failed is not in the log; if that fails too, the next
// Put tries again before writing.
func (s *FileSink) unwrite() {
	if err := s.f.Truncate(s.size); err != nil {
		s.torn = true
	}
}

// rotate shifts the files by one and opens a fresh log. The current file
// stays open until the fresh one is: when a step fails, the sink keeps
// writing where it was and the next Put tries the rotation again.
func (s *FileSink) rotate() error {
	if err := os.Remove(rotated(s.path, s.maxFiles)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("receipt log: rotate: %w", err)
	}
	for i := s.maxFiles - 1; i >= 1; i-- {
		if err := os.Rename(rotated(s.path, i), rotated(s.path, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("receipt log: rotate: %w", err)
		}
	}
	if err := os.Rename(s.path, rotated(s.path, 1)); err != nil {
		return fmt.Errorf("receipt log: rotate: %w", err)
	}
	f, size, err := openLog(s.path, s.syncDir)
	if err != nil {
		// Put the current file back under its name, to go on with it.
		if rerr := os.Rename(rotated(s.path, 1), s.path); rerr != nil {
			return fmt.Errorf("receipt log: rotate: %w (and restoring %s: %v)", err, s.path, rerr)
		}
		return err
	}
	// Every line of the old file has been synced: closing it can lose
	// nothing, so an error closing it does not stop the rotation.
	_ = s.f.Close()
	s.f, s.size = f, size
	return nil
}

// syncDirectory syncs a directory, making the names in it durable.
func syncDirectory(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func rotated(path string, i int) string { return path + "." + strconv.Itoa(i) }

// Close closes the log.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// maxLine bounds one line of a log being read: a longer line is not a
// record (a receipt is at most MaxReceiptBytes) and is skipped unread.
const maxLine = 2*MaxReceiptBytes + 64<<10

// SearchFile calls fn with every record of the log at path and its
// rotated files, oldest first, that f matches. Lines that do not parse
// (one cut short by a crash, or one longer than any record can be) are
// skipped and counted.
func SearchFile(path string, f Filter, fn func(Record) error) (skipped int, err error) {
	var files []string
	for i := 1; ; i++ {
		if _, err := os.Stat(rotated(path, i)); err != nil {
			break
		}
		files = append([]string{rotated(path, i)}, files...)
	}
	files = append(files, path)
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && name != path {
				continue
			}
			return skipped, fmt.Errorf("receipt log: %w", err)
		}
		n, err := Search(fh, f, fn)
		fh.Close()
		skipped += n
		if err != nil {
			return skipped, err
		}
	}
	return skipped, nil
}

// Search reads JSON-lines records from r and calls fn with each that f
// matches. A line that does not parse, or is longer than any record can be
// (it is read past without being held in memory), is skipped and counted
// in skipped; the lines after it are still searched.
func Search(r io.Reader, f Filter, fn func(Record) error) (skipped int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for {
		var tooLong bool
		line, tooLong, err = readLine(br, line[:0])
		switch {
		case tooLong:
			skipped++
		case len(line) == 0:
		default:
			var rec Record
			if json.Unmarshal(line, &rec) != nil || rec.Receipt == "" {
				skipped++
			} else if f.Match(&rec.Claims) {
				if err := fn(rec); err != nil {
					return skipped, err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return skipped, nil
		}
		if err != nil {
			return skipped, fmt.Errorf("receipt log: read: %w", err)
		}
	}
}

// readLine appends the next line of br, without its line ending, to buf.
// A line longer than maxLine is read to its end but not kept: tooLong is
// set and line is empty, so that memory stays bounded however long the
// line is. err is io.EOF after the last line.
func readLine(br *bufio.Reader, buf []byte) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			buf = append(buf, chunk...)
			if len(trimEnding(buf)) > maxLine {
				tooLong, buf = true, buf[:0]
			}
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return trimEnding(buf), tooLong, err
		}
	}
}

// trimEnding cuts a line's "\n" or "\r\n" off.
func trimEnding(b []byte) []byte {
	return bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
}
