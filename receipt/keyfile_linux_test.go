//go:build linux

package receipt_test

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/agentcert/agentcert/receipt"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// A first start whose write of the new sealed key fails part-way (here
// RLIMIT_FSIZE cuts it short, as a full disk or a crash would) must leave
// no key file behind, whole or partial: a partial one would stop every
// later start until someone removed it by hand.
func TestSealedKeyInterruptedWriteLeavesNoFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "receipt.key")
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal("RLIMIT_FSIZE:", err)
	}
	limited := old
	limited.Cur = 100 // a sealed P-256 key takes some 300 bytes
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited); err != nil {
		t.Fatal("lowering RLIMIT_FSIZE (always allowed):", err)
	}
	_, err := receipt.LoadSealedKey(file, kek, jwa.ES256)
	if rerr := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil {
		t.Fatal("the key was written past the file size limit")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a failed write left %v behind", entries[0].Name())
	}
	k1, err := receipt.LoadSealedKey(file, kek, jwa.ES256)
	if err != nil {
		t.Fatalf("the next start: %v", err)
	}
	wantSameKeyLoaded(t, file, kek, k1, "the key written after the failed write did not persist")
}
