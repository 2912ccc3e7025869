package receipt

import (
	"context"
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
