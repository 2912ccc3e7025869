//go:build !windows

package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeWarnsOfLoosePermissions: a data directory, or a kek.key in it,
// that the group or others can read (one made before agentcert, as an
// image's 0755 directory) gets a warning naming it at start; the server
// still serves, and the modes agentcert makes itself warn of nothing.
func TestServeWarnsOfLoosePermissions(t *testing.T) {
	const warning = "readable by group or others"
	tight := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(tight, 0o700); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, tight)
	if strings.Contains(ts.Stderr(), warning) {
		t.Fatalf("a warning for the modes agentcert made:\n%s", ts.Stderr())
	}
	if err := ts.Stop(); err != nil {
		t.Fatal(err)
	}

	loose := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(loose, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	ts = startServer(t, loose)
	if log := ts.Stderr(); !strings.Contains(log, warning) || !strings.Contains(log, `"path":"`+loose+`"`) {
		t.Fatalf("no warning for a 0755 data directory:\n%s", log)
	}
	// A kek.key others can read, in a directory that is fine.
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	kek := filepath.Join(dir, "kek.key")
	if err := os.WriteFile(kek, []byte(base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(kek, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	ts = startServer(t, dir)
	log := ts.Stderr()
	if !strings.Contains(log, `"path":"`+kek+`"`) || strings.Contains(log, `"path":"`+dir+`"`) {
		t.Fatalf("want a warning for kek.key alone:\n%s", log)
	}
}
