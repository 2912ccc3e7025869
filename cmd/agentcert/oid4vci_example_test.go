package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestOID4VCIExample runs examples/oid4vci.sh (the curl transcript of
// docs/oid4vci.md) against the binary under test, and checks that every
// curl command of the script is in the document as it runs.
func TestOID4VCIExample(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed; .ci/run installs it")
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "../../examples/oid4vci.sh")
	cmd.Env = append(cmd.Environ(), "AGENTCERT="+binPath, "PORT="+strconv.Itoa(port), "WORK="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("examples/oid4vci.sh failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		`"token_type":"Bearer"`,
		`"c_nonce":"`,
		`"typ":"openid4vci-proof+jwt"`,
		`"sub":"did:key:`,
		`"code":"pre_authorized_code_used"`,
		"received 1 credential(s)",
		"VERIFIED",
		"action:  invoices:read ALLOWED",
		"oid4vci example complete",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the example's output lacks %q:\n%s", want, out)
		}
	}
	script, err := os.ReadFile("../../examples/oid4vci.sh")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/oid4vci.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(script), "\n") {
		if strings.HasPrefix(line, "curl ") || strings.HasPrefix(line, "  --data") {
			if !strings.Contains(string(doc), line) {
				t.Errorf("docs/oid4vci.md lacks the command of examples/oid4vci.sh:\n%s", line)
			}
		}
	}
}
