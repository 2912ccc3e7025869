package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runDocScript runs the first shell block after the heading that block
// matches in the document at docPath, as written, from a directory with
// bin/agentcert, against `agentcert serve` started there with the embedded
// defaults plus extraYAML and a free port (which replaces 8080 in the
// script). It returns the script's output and the port.
func runDocScript(t *testing.T, docPath, block, extraYAML string) (string, string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed; .ci/run installs it")
	}
	docScript := shellBlock(t, docPath, block)
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
	srv := startFromConfig(t, dir, "listen: 127.0.0.1:"+p+"\npublic_url: http://127.0.0.1:"+p+"\n"+extraYAML)
	if !strings.Contains(srv.Stdout(), "bootstrap admin token") {
		t.Fatalf("serve printed no bootstrap token:\n%s", srv.Stdout())
	}
	script := strings.ReplaceAll(docScript, "127.0.0.1:8080", "127.0.0.1:"+p)
	script = strings.ReplaceAll(script, "127.0.0.1%3A8080", "127.0.0.1%3A"+p)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	// The script makes tokens through the admin API (the data directory is locked).
	cmd.Env = append(os.Environ(), "ADMIN_TOKEN="+srv.Value("bootstrap admin token (shown once, store it now): "))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s script failed: %v\n%s", docPath, err, out)
	}
	return string(out), p
}

// TestIncidentsDocExample runs the worked example of docs/incidents.md
// (status list ttl 2s, as the page says).
func TestIncidentsDocExample(t *testing.T) {
	out, p := runDocScript(t, "../../docs/incidents.md", "## A worked example", "status:\n  ttl: 2s\n")
	for _, want := range []string{"DENIED", "VALID receipt from did:web:127.0.0.1%3A" + p + " (error", `"state": "open"`,
		`"decision": "revoke"`, "NOT VERIFIED: revoked"} {
		if !strings.Contains(out, want) {
			t.Errorf("worked example output lacks %q:\n%s", want, out)
		}
	}
}
