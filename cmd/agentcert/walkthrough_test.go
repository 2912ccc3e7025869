package main

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestWalkthrough runs examples/walkthrough.sh (the script docs/walkthrough.md
// describes) against the binary under test.
func TestWalkthrough(t *testing.T) {
	runExample(t, "walkthrough.sh",
		"action:  invoices:read ALLOWED",
		"payments:initiate: denied (action_prohibited)",
		"verification now fails: revoked",
		"incident INC-2026-042",
		"audit log intact",
		"walkthrough complete",
	)
}

// runExample runs the script examples/<name> against the binary under test
// on a free port with a fresh work directory (it skips without curl) and
// fails t unless it succeeds and prints every one of want.
func runExample(t *testing.T, name string, want ...string) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed; .ci/run installs it")
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "../../examples/"+name)
	cmd.Env = append(cmd.Environ(), "AGENTCERT="+binPath, "PORT="+strconv.Itoa(port), "WORK="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("examples/%s failed: %v\n%s", name, err, out)
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("the output of examples/%s lacks %q:\n%s", name, w, out)
		}
	}
}
