package receipt

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// The log's directory is synced when the log is created and on every
// rotation, before the Put that rotated returns: otherwise a crash could
// take the fresh file, and the records already acknowledged in it, away.
func TestFileSinkSyncsDirectory(t *testing.T) {
	dir := t.TempDir()
	var synced []string
	counting := func(d string) error { synced = append(synced, d); return syncDirectory(d) }

	path := filepath.Join(dir, "receipts.jsonl")
	sink, err := openFileSink(path, 100, 2, counting)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if len(synced) != 1 || synced[0] != dir {
		t.Fatalf("creating the log synced %v, want [%s]", synced, dir)
	}
	rec := Record{Receipt: "x.y.z", Claims: Claims{Issuer: "did:key:z", IssuedAt: 1, ID: "a", Result: Success, Action: strings.Repeat("a", 120)}}
	for i := 0; i < 2; i++ {
		if err := sink.Put(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	if len(synced) != 2 {
		t.Fatalf("a rotation synced the directory %d times, want once", len(synced)-1)
	}
}

// A line of maxLine bytes is read whole, whatever its ending; one byte
// more and it is dropped, and the next line is read as usual.
func TestReadLineBound(t *testing.T) {
	at, over := strings.Repeat("a", maxLine), strings.Repeat("b", maxLine+1)
	br := bufio.NewReaderSize(strings.NewReader(at+"\n"+over+"\r\n"+at+"\r\n"+over+"\nlast"), 64<<10)
	for i, want := range []struct {
		n       int
		tooLong bool
		err     error
	}{{maxLine, false, nil}, {0, true, nil}, {maxLine, false, nil}, {0, true, nil}, {4, false, io.EOF}} {
		line, tooLong, err := readLine(br, nil)
		if len(line) != want.n || tooLong != want.tooLong || err != want.err {
			t.Fatalf("line %d: %d bytes, too long %v, err %v; want %d, %v, %v", i, len(line), tooLong, err, want.n, want.tooLong, want.err)
		}
	}
}
