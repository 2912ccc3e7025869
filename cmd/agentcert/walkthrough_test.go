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
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed; .ci/run installs it")
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "../../examples/walkthrough.sh")
	cmd.Env = append(cmd.Environ(), "AGENTCERT="+binPath, "PORT="+strconv.Itoa(port), "WORK="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"action:  invoices:read ALLOWED",
		"payments:initiate: denied (action_prohibited)",
		"verification now fails: revoked",
		"incident INC-2026-042",
		"audit log intact",
		"walkthrough complete",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walkthrough output lacks %q:\n%s", want, out)
		}
	}
}
