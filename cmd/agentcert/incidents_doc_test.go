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

// TestIncidentsDocExample runs the worked example of docs/incidents.md, as
// written, against `agentcert serve` with the embedded defaults (the port
// changed, and the status list ttl 2s as the page says).
func TestIncidentsDocExample(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed; .ci/run installs it")
	}
	page, err := os.ReadFile("../../docs/incidents.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## A worked example.*?```sh\n(.*?)```").FindSubmatch(page)
	if m == nil {
		t.Fatal("docs/incidents.md has no worked example")
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
	startFromConfig(t, dir, "listen: 127.0.0.1:"+p+"\npublic_url: http://127.0.0.1:"+p+"\nstatus:\n  ttl: 2s\n")
	script := strings.ReplaceAll(string(m[1]), "127.0.0.1:8080", "127.0.0.1:"+p)
	script = strings.ReplaceAll(script, "127.0.0.1%3A8080", "127.0.0.1%3A"+p)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("worked example failed: %v\n%s", err, out)
	}
	for _, want := range []string{"DENIED", "VALID receipt from did:web:127.0.0.1%3A" + p + " (error", `"state": "open"`,
		`"decision": "revoke"`, "NOT VERIFIED: revoked"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("worked example output lacks %q:\n%s", want, out)
		}
	}
}
