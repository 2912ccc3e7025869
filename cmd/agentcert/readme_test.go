package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestReadmeQuickStart runs the README's "first verified presentation"
// commands, as written, against `agentcert serve` with the embedded
// defaults (only the port is changed), so that the quick start stays true.
func TestReadmeQuickStart(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed; .ci/run installs it")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)### Your first verified presentation.*?```sh\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no quick-start shell block")
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	p := strconv.Itoa(port)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(binPath, filepath.Join(dir, "bin", "agentcert")); err != nil {
		t.Fatal(err)
	}
	// `make run` is `agentcert serve` with the embedded defaults, from the repository root.
	srv := startFromConfig(t, dir, "listen: 127.0.0.1:"+p+"\npublic_url: http://127.0.0.1:"+p+"\n")
	if !strings.Contains(srv.stdout, "bootstrap admin token") {
		t.Fatalf("serve printed no bootstrap token:\n%s", srv.stdout)
	}
	script := strings.ReplaceAll(string(m[1]), "127.0.0.1:8080", "127.0.0.1:"+p)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quick start failed: %v\n%s", err, out)
	}
	for _, want := range []string{"VERIFIED", "action:  invoices:read ALLOWED", "status:  valid"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("quick start output lacks %q:\n%s", want, out)
		}
	}
}
