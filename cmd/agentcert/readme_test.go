package main

import (
	"strings"
	"testing"
)

// TestReadmeQuickStart runs the README's "first verified presentation"
// commands, as written, against `agentcert serve` with the embedded
// defaults (only the port is changed), so that the quick start stays true.
func TestReadmeQuickStart(t *testing.T) {
	out, _ := runDocScript(t, "../../README.md", "### Your first verified presentation", "")
	for _, want := range []string{"VERIFIED", "action:  invoices:read ALLOWED", "status:  valid"} {
		if !strings.Contains(out, want) {
			t.Errorf("quick start output lacks %q:\n%s", want, out)
		}
	}
}
