//go:build linux

package receipt_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/agentcert/agentcert/receipt"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// putter signs sample receipt i (iat 1_800_000_000 + i) with s and puts it
// in sink.
func putter(t *testing.T, s *receipt.Signer, sink *receipt.FileSink) func(i int64) error {
	return func(i int64) error {
		t.Helper()
		c := sample()
		c.IssuedAt = 1_800_000_000 + i
		jwt, err := s.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return sink.Put(context.Background(), receipt.Record{Receipt: jwt, Claims: c})
	}
}

// A write that fails part-way (the disk fills up: here RLIMIT_FSIZE cuts it
// short) must leave no partial line behind, or the next record would be
// glued to it and lost although its Put succeeded.
func TestFileSinkFailedWriteLeavesNoPartialLine(t *testing.T) {
	s, _ := newSigner(t, jwa.EdDSA)
	path := filepath.Join(t.TempDir(), "receipts.jsonl")
	sink, err := receipt.OpenFileSink(path, 1<<20, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	put := putter(t, s, sink)
	if err := put(1); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal("RLIMIT_FSIZE:", err)
	}
	limited := old
	limited.Cur = uint64(st.Size()) + 100 // room for part of the next line only
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited); err != nil {
		t.Fatal("lowering RLIMIT_FSIZE (always allowed):", err)
	}
	err = put(2)
	if rerr := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil {
		t.Fatal("Put succeeded past the file size limit")
	}
	if err := put(3); err != nil {
		t.Fatal(err)
	}
	var got []int64
	skipped, err := receipt.SearchFile(path, receipt.Filter{}, func(r receipt.Record) error {
		got = append(got, r.Claims.IssuedAt)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if skipped != 0 || len(got) != 2 || got[0] != 1_800_000_001 || got[1] != 1_800_000_003 {
		t.Fatalf("skipped %d, records %v; want the first and third records intact", skipped, got)
	}
}

// A rotation that fails (here the oldest rotated file cannot be removed)
// fails that Put, but the sink must go on: once the obstacle is gone the
// next Put rotates and is recorded.
func TestFileSinkRecoversFromFailedRotation(t *testing.T) {
	s, _ := newSigner(t, jwa.EdDSA)
	path := filepath.Join(t.TempDir(), "receipts.jsonl")
	sink, err := receipt.OpenFileSink(path, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	put := putter(t, s, sink)
	if err := put(1); err != nil {
		t.Fatal(err)
	}
	// A non-empty directory where the oldest rotated file goes.
	if err := os.MkdirAll(filepath.Join(path+".1", "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := put(2); err == nil {
		t.Fatal("Put succeeded although the log could not rotate")
	}
	if err := os.RemoveAll(path + ".1"); err != nil {
		t.Fatal(err)
	}
	if err := put(3); err != nil {
		t.Fatalf("the sink did not recover from a failed rotation: %v", err)
	}
	var got []int64
	if _, err := receipt.SearchFile(path, receipt.Filter{}, func(r receipt.Record) error {
		got = append(got, r.Claims.IssuedAt)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != 1_800_000_001 || got[1] != 1_800_000_003 {
		t.Fatalf("records %v; want the first and the third", got)
	}
}
